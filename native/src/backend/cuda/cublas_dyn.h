// cuBLAS loaded at run time (dlopen of libcublas.so.13 / .12): the machines that build Glossa (and CI) have nvcc
// and the CUDA runtime but not cuBLAS, and an addon that linked cuBLAS would not load on a machine without it.
// Only the few entry points the backend uses are declared here, with the values of cublas_api.h.
#pragma once
#include <cuda_runtime.h>
#include <library_types.h>

#include <string>

namespace glossa {
namespace cuda {

using cublasHandle = void*;
enum CublasOp { kOpN = 0, kOpT = 1 };
enum CublasCompute { kCompute32F = 68, kCompute32FPedantic = 69, kCompute32I = 72 };
constexpr int kGemmDefault = -1;

class Cublas {
 public:
  // Loads the library (GLOSSA_CUBLAS names a file to try first) and creates a handle on `stream`; throws with
  // the reason when it cannot.
  Cublas(cudaStream_t stream, void* workspace, std::size_t workspaceBytes);
  ~Cublas();
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;

  // C (column-major m x n, ldc) = alpha op(A) op(B) + beta C (cublasGemmEx); throws naming the shape on error.
  void gemm(CublasOp ta, CublasOp tb, int m, int n, int k, const void* alpha, const void* A, cudaDataType at, int lda,
            const void* B, cudaDataType bt, int ldb, const void* beta, void* C, cudaDataType ct, int ldc,
            CublasCompute compute) const;
  // cuBLASLt (libcublasLt, loaded beside cuBLAS): D (column-major m x n, ldd, FP32) = op(A) op(B) + beta D + bias
  // (bias per row of D, FP32) in one kernel. Throws when cuBLASLt is absent or refuses the problem.
  bool hasLt() const { return ltHandle_ != nullptr; }
  void ltGemmBias(CublasOp ta, CublasOp tb, int m, int n, int k, const void* A, cudaDataType at, int lda, const void* B,
                  cudaDataType bt, int ldb, float beta, float* D, int ldd, const float* bias, cudaStream_t stream) const;
  int version() const { return version_; }
  const std::string& path() const { return path_; }

  // Why cuBLAS cannot be loaded here ("" when it can); does not create a handle.
  static std::string probe();

 private:
  void* lib_ = nullptr;
  cublasHandle handle_ = nullptr;
  int version_ = 0;
  std::string path_;
  using GemmEx = int (*)(cublasHandle, int, int, int, int, int, const void*, const void*, cudaDataType, int, const void*,
                         cudaDataType, int, const void*, void*, cudaDataType, int, int, int);
  using Destroy = int (*)(cublasHandle);
  GemmEx gemmEx_ = nullptr;
  Destroy destroy_ = nullptr;
  // cuBLASLt
  void* ltLib_ = nullptr;
  void* ltHandle_ = nullptr;
  void* workspace_ = nullptr;
  std::size_t workspaceBytes_ = 0;
  int (*ltDescCreate_)(void**, int, int) = nullptr;
  int (*ltDescSet_)(void*, int, const void*, std::size_t) = nullptr;
  int (*ltDescDestroy_)(void*) = nullptr;
  int (*ltLayoutCreate_)(void**, int, unsigned long long, unsigned long long, long long) = nullptr;
  int (*ltLayoutDestroy_)(void*) = nullptr;
  int (*ltMatmul_)(void*, void*, const void*, const void*, void*, const void*, void*, const void*, const void*, void*,
                   void*, void*, const void*, void*, std::size_t, cudaStream_t) = nullptr;
  int (*ltDestroy_)(void*) = nullptr;
};

}  // namespace cuda
}  // namespace glossa
