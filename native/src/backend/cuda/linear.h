// The CUDA backend's Linear layers, one class for every weight storage:
//  - F32 / F16 / BF16 weights [out, in] (the compute precision decides; FP32 mode keeps FP32 weights),
//  - Q8 (W8A16): per-row int8 weights + scales, Q4 (W4A16): AWQ 4-bit groups with zero points, Q8A8 (W8A8):
//    per-token int8 activations x per-row int8 weights through cuBLAS's int8 GEMM (IMMA) or dp4a,
// read from the same engine-file tensors as the CPU backend (TensorRef dtypes F16H, Q8, Q8A8, Q4).
// Kernel choice by rows M: a weight-streaming kernel (one warp per two output columns, every output's sum over K in
// a fixed order whatever M is) for small M and in deterministic mode; cuBLAS (FP32 accumulation) above.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/cublas_dyn.h"
#include "backend/cuda/kernels.cuh"

namespace glossa {
namespace cuda {

// Device scratch shared by all Linears of a backend (grown on demand; growing forgets recorded graphs).
class ScratchSource {
 public:
  virtual ~ScratchSource() = default;
  enum Slot { kInput, kAcc, kWeights, kScales, kCount };
  virtual void* scratch(Slot slot, std::size_t bytes) = 0;
  // Device memory allocation accounted to the engine (weights).
  virtual void* allocBytes(std::size_t bytes) = 0;
  virtual void freeBytes(void* p, std::size_t bytes) = 0;
  // A valid 16-bit copy (type t, dense M x K) of x written by the op that produced x, or null.
  virtual const void* shadowFor(const float* x, int ldx, int M, int K, ElemType t) { return nullptr; }
  // Something wrote floats [p, p + n): copies of that memory are stale.
  virtual void touched(const float* p, std::size_t n) {}
};

struct LinearContext {
  cudaStream_t stream = nullptr;
  const Cublas* cublas = nullptr;
  ScratchSource* scratch = nullptr;
  ElemType compute = ElemType::F16;  // storage of float weights
  bool deterministic = false;        // streaming kernel for every M
  int gemvMaxRows = 8;               // float weights: streaming kernel up to this many rows
  int quantGemvMaxRows = 16;         // quantized weights
  int smallLayerRows = 0;            // layers of at most smallLayerWeights weights stream up to this many rows
  long long smallLayerWeights = 0;
};

class CudaLinear : public Linear {
 public:
  ~CudaLinear() override;
  int inFeatures() const override { return in_; }
  int outFeatures() const override { return out_; }
  const char* precision() const override { return precision_; }
  void forward(const float* x, int ldx, int M, float* y, int ldy) const override {
    run(x, ldx, M, y, ldy, Epilogue::Store, Activation::Gelu, nullptr);
  }
  void weightRow(int n, float* out) const override;
  int preferredOutputStride() const override { return outPad_ > out_ ? outPad_ : out_; }

  // y (stride ldy) = / += / act( x W^T + b ); tmp (M x out floats) is used by the Add epilogue of library GEMMs;
  // yh (optional) receives a 16-bit copy of y when the library path runs (see usesLibrary).
  void run(const float* x, int ldx, int M, float* y, int ldy, Epilogue ep, Activation act, float* tmp,
           HalfOut yh = {}) const;
  // Whether M rows go through the library GEMM (else the streaming kernel), and whether run() then writes yh.
  bool usesLibrary(int M) const;
  bool writesHalfCopy(int M) const { return usesLibrary(M) && kind_ != Kind::Q8A8; }
  // out[m] = scale * W[tokens[m]] + positions[posIds[m]] (tied embeddings).
  void embed(const int* tokens, const int* posIds, int M, float scale, const float* positions, float* out) const;

  enum class Kind { F32, F16, BF16, Q8, Q4, Q8A8 };
  // Builds the layer from weight parts concatenated along the output dimension (see Backend::createLinear).
  static std::unique_ptr<CudaLinear> create(const LinearContext& ctx, const std::vector<const TensorRef*>& weightParts,
                                            const std::vector<const TensorRef*>& biasParts);

 private:
  CudaLinear(const LinearContext& ctx) : ctx_(ctx) {}
  void* alloc(std::size_t bytes);
  void streaming(const float* x, int ldx, int M, float* y, int ldy, Epilogue ep, Activation act) const;
  void library(const float* x, int ldx, int M, float* y, int ldy, Epilogue ep, Activation act, float* tmp,
               HalfOut yh) const;

  LinearContext ctx_;
  Kind kind_ = Kind::F16;
  const char* precision_ = "f16";
  int in_ = 0, out_ = 0, kp_ = 0, groupSize_ = 0, groups_ = 0;
  int outPad_ = 0;           // float weights: rows allocated (out rounded up to 8 so library GEMMs get aligned rows)
  void* weights_ = nullptr;  // [out][in] of the kind's storage ([out][kp] int8 for Q8A8, [out][ceil(in/2)] for Q4)
  float* scale_ = nullptr;   // Q8 / Q8A8: [out]; Q4: [out][groups]
  float* zero_ = nullptr;    // Q4: [out][groups]
  float* bias_ = nullptr;    // [out] or null
  std::vector<std::pair<void*, std::size_t>> owned_;
  mutable bool imma_ = true;  // Q8A8: cuBLAS int8 GEMM works for this shape
  mutable bool lt_ = true;    // cuBLASLt bias epilogue works for this layer
};

}  // namespace cuda
}  // namespace glossa
