#include "backend/cuda/cublas_dyn.h"

#include <dlfcn.h>

#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace glossa {
namespace cuda {
namespace {

std::vector<std::string> candidates() {
  std::vector<std::string> c;
  if (const char* p = std::getenv("GLOSSA_CUBLAS")) c.push_back(p);
  for (const char* n : {"libcublas.so.13", "libcublas.so.12", "libcublas.so", "/usr/local/cuda/lib64/libcublas.so.13",
                        "/usr/local/cuda/lib64/libcublas.so.12"})
    c.push_back(n);
  return c;
}

void* openLibrary(std::string* path, std::string* errors) {
  for (const std::string& name : candidates()) {
    void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h != nullptr) {
      *path = name;
      return h;
    }
    const char* e = dlerror();
    *errors += (errors->empty() ? "" : "; ") + std::string(e ? e : name.c_str());
  }
  return nullptr;
}

const char* statusName(int s) {
  switch (s) {
    case 0: return "CUBLAS_STATUS_SUCCESS";
    case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
    case 7: return "CUBLAS_STATUS_INVALID_VALUE";
    case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
    case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "CUBLAS_STATUS_?";
  }
}

template <typename F>
F symbol(void* lib, const char* name) {
  void* p = dlsym(lib, name);
  if (p == nullptr) throw std::runtime_error(std::string("cuBLAS has no symbol ") + name);
  return reinterpret_cast<F>(p);
}

}  // namespace

std::string Cublas::probe() {
  std::string path, errors;
  void* h = openLibrary(&path, &errors);
  if (h == nullptr) return "cuBLAS not found (" + errors + "); set GLOSSA_CUBLAS to libcublas.so's path";
  dlclose(h);
  return "";
}

Cublas::Cublas(cudaStream_t stream, void* workspace, std::size_t workspaceBytes) {
  std::string errors;
  lib_ = openLibrary(&path_, &errors);
  if (lib_ == nullptr) throw std::runtime_error("cuBLAS not found (" + errors + "); set GLOSSA_CUBLAS to libcublas.so's path");
  try {
    using Create = int (*)(cublasHandle*);
    using SetStream = int (*)(cublasHandle, cudaStream_t);
    using SetWorkspace = int (*)(cublasHandle, void*, std::size_t);
    using GetVersion = int (*)(cublasHandle, int*);
    auto create = symbol<Create>(lib_, "cublasCreate_v2");
    destroy_ = symbol<Destroy>(lib_, "cublasDestroy_v2");
    gemmEx_ = symbol<GemmEx>(lib_, "cublasGemmEx");
    int s = create(&handle_);
    if (s != 0) throw std::runtime_error(std::string("cublasCreate failed: ") + statusName(s));
    s = symbol<SetStream>(lib_, "cublasSetStream_v2")(handle_, stream);
    if (s != 0) throw std::runtime_error(std::string("cublasSetStream failed: ") + statusName(s));
    // An explicit workspace: cuBLAS then never allocates while a decode step is recorded as a graph.
    s = symbol<SetWorkspace>(lib_, "cublasSetWorkspace_v2")(handle_, workspace, workspaceBytes);
    if (s != 0) throw std::runtime_error(std::string("cublasSetWorkspace failed: ") + statusName(s));
    symbol<GetVersion>(lib_, "cublasGetVersion_v2")(handle_, &version_);
    workspace_ = workspace;
    workspaceBytes_ = workspaceBytes;
    // cuBLASLt for GEMMs with a bias epilogue (one kernel instead of GEMM + epilogue): on unless GLOSSA_CUDA_LT=0.
    // Checked by the op conformance test and the HF goldens through the engine (NOTES.md, CUDA backend).
    const char* lt = std::getenv("GLOSSA_CUDA_LT");
    if (!(lt && std::string(lt) == "0")) {
      for (const char* name : {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"}) {
        ltLib_ = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        if (ltLib_) break;
      }
      if (ltLib_) {
        using LtCreate = int (*)(void**);
        ltDescCreate_ = symbol<decltype(ltDescCreate_)>(ltLib_, "cublasLtMatmulDescCreate");
        ltDescSet_ = symbol<decltype(ltDescSet_)>(ltLib_, "cublasLtMatmulDescSetAttribute");
        ltDescDestroy_ = symbol<decltype(ltDescDestroy_)>(ltLib_, "cublasLtMatmulDescDestroy");
        ltLayoutCreate_ = symbol<decltype(ltLayoutCreate_)>(ltLib_, "cublasLtMatrixLayoutCreate");
        ltLayoutDestroy_ = symbol<decltype(ltLayoutDestroy_)>(ltLib_, "cublasLtMatrixLayoutDestroy");
        ltMatmul_ = symbol<decltype(ltMatmul_)>(ltLib_, "cublasLtMatmul");
        ltDestroy_ = symbol<decltype(ltDestroy_)>(ltLib_, "cublasLtDestroy");
        if (symbol<LtCreate>(ltLib_, "cublasLtCreate")(&ltHandle_) != 0) ltHandle_ = nullptr;
      }
    }
  } catch (...) {
    if (handle_ != nullptr && destroy_ != nullptr) destroy_(handle_);
    dlclose(lib_);
    throw;
  }
}

Cublas::~Cublas() {
  if (ltHandle_ != nullptr) ltDestroy_(ltHandle_);
  if (handle_ != nullptr) destroy_(handle_);
  // The library stays loaded: cuBLAS keeps process-wide state (and its kernels may be in recorded graphs).
}

void Cublas::gemm(CublasOp ta, CublasOp tb, int m, int n, int k, const void* alpha, const void* A, cudaDataType at,
                  int lda, const void* B, cudaDataType bt, int ldb, const void* beta, void* C, cudaDataType ct, int ldc,
                  CublasCompute compute) const {
  const int s = gemmEx_(handle_, ta, tb, m, n, k, alpha, A, at, lda, B, bt, ldb, beta, C, ct, ldc, compute, kGemmDefault);
  if (s != 0)
    throw std::runtime_error(std::string("cublasGemmEx(m=") + std::to_string(m) + ", n=" + std::to_string(n) +
                             ", k=" + std::to_string(k) + ", types " + std::to_string(at) + "/" + std::to_string(ct) +
                             ") failed: " + statusName(s));
}

void Cublas::ltGemmBias(CublasOp ta, CublasOp tb, int m, int n, int k, const void* A, cudaDataType at, int lda,
                        const void* B, cudaDataType bt, int ldb, float beta, float* D, int ldd, const float* bias,
                        cudaStream_t stream) const {
  if (ltHandle_ == nullptr) throw std::runtime_error("cuBLASLt is not available");
  // Values of cublasLt.h: MATMUL_DESC_TRANSA 3, TRANSB 4, EPILOGUE 7, BIAS_POINTER 8; EPILOGUE_BIAS 4.
  void *desc = nullptr, *la = nullptr, *lb = nullptr, *ld = nullptr;
  int s = ltDescCreate_(&desc, kCompute32F, CUDA_R_32F);
  const int opA = ta, opB = tb;
  const unsigned epilogue = 4;
  if (s == 0) s = ltDescSet_(desc, 3, &opA, sizeof opA);
  if (s == 0) s = ltDescSet_(desc, 4, &opB, sizeof opB);
  if (s == 0) s = ltDescSet_(desc, 7, &epilogue, sizeof epilogue);
  if (s == 0) s = ltDescSet_(desc, 8, &bias, sizeof bias);
  if (s == 0) s = ltLayoutCreate_(&la, at, ta == kOpN ? m : k, ta == kOpN ? k : m, lda);
  if (s == 0) s = ltLayoutCreate_(&lb, bt, tb == kOpN ? k : n, tb == kOpN ? n : k, ldb);
  if (s == 0) s = ltLayoutCreate_(&ld, CUDA_R_32F, m, n, ldd);
  const float one = 1.f;
  if (s == 0) s = ltMatmul_(ltHandle_, desc, &one, A, la, B, lb, &beta, D, ld, D, ld, nullptr, workspace_, workspaceBytes_, stream);
  if (ld) ltLayoutDestroy_(ld);
  if (lb) ltLayoutDestroy_(lb);
  if (la) ltLayoutDestroy_(la);
  if (desc) ltDescDestroy_(desc);
  if (s != 0)
    throw std::runtime_error(std::string("cublasLtMatmul(m=") + std::to_string(m) + ", n=" + std::to_string(n) + ", k=" +
                             std::to_string(k) + ") failed: " + statusName(s));
}

}  // namespace cuda
}  // namespace glossa
