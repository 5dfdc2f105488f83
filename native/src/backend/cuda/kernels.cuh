// Launchers of the CUDA backend's own kernels, one .cu file per op family (norm.cu, attention.cu, linear.cu,
// search.cu); cuda_backend.cu is the glue. Every launcher enqueues on `st` and checks the launch.
#pragma once
#include <cstddef>

#include "backend/backend.h"
#include "backend/cuda/common.cuh"

namespace glossa {
namespace cuda {

// What happens to r = x W^T + b in a Linear's output: Store y = r; Add y += r (residual); Act y = act(r).
enum class Epilogue { Store, Add, Act };

// An optional 16-bit copy of an op's float output (the next library GEMM's input, so it needs no conversion
// pass): at most one of the two pointers is set.
struct HalfOut {
  __half* f16 = nullptr;
  __nv_bfloat16* bf16 = nullptr;
};

// Device helpers shared by the kernels of every op family.
__device__ __forceinline__ float applyAct(Activation a, float v) {
  switch (a) {
    case Activation::Gelu: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    case Activation::GeluTanh: return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    default: return v > 0.f ? v : 0.f;
  }
}

// The Linear epilogue applied to one output o with r = x W^T + b.
__device__ __forceinline__ void applyEpilogue(Epilogue ep, Activation act, float& o, float r) {
  o = ep == Epilogue::Add ? o + r : ep == Epilogue::Act ? applyAct(act, r) : r;
}

// Element i of the 16-bit copy, when one is asked for.
__device__ __forceinline__ void storeHalf(HalfOut h, size_t i, float v) {
  if (h.f16) h.f16[i] = __float2half_rn(v);
  else if (h.bf16) h.bf16[i] = __float2bfloat16_rn(v);
}

// norm.cu
void layerNorm(const float* x, int M, int d, const float* gamma, const float* beta, float eps, float* y, HalfOut yh,
               cudaStream_t st);
void activate(Activation a, float* x, std::size_t n, cudaStream_t st);
void addInPlace(float* x, const float* y, std::size_t n, cudaStream_t st);
void addRowVector(float* x, int rows, std::size_t n, const float* v, cudaStream_t st);
void gatherRows(const float* src, const int* rows, int n, int d, float* dst, cudaStream_t st);
// Packs M rows (stride ldx) of K floats into a dense M x K matrix of T (GEMM inputs).
template <typename T>
void convertRows(const float* x, int ldx, int M, int K, T* out, cudaStream_t st);
// After a library GEMM that wrote r (without bias) to `acc` (stride ldAcc): applies bias and the epilogue into y.
void linearEpilogue(const float* acc, int ldAcc, float* y, int ldy, int M, int N, const float* bias, Epilogue ep,
                    Activation act, HalfOut yh, cudaStream_t st);
// W8A8 after an int32 GEMM: r = xScale[m] * wScale[n] * acc[m][n] + bias[n].
void int8Epilogue(const int* acc, int ldAcc, const float* xScale, const float* wScale, float* y, int ldy, int M, int N,
                  const float* bias, Epilogue ep, Activation act, cudaStream_t st);
// Per-row symmetric int8 quantization as the CPU's W8A8 Linear: s = max|x| / 127 (1 for a zero row),
// q = clamp(rint(x * (1 / s)), -127, 127); rows of Kp bytes (zero padded).
void quantizeRowsInt8(const float* x, int ldx, int M, int K, int Kp, signed char* q, float* scale, cudaStream_t st);

// attention.cu (KV elements of type KT: float, __half or __nv_bfloat16)
struct KvView {
  void* base;
  int blockSize, layers, d;
  ElemType type;
};
void storeKv(const KvView& kv, int layer, const float* k, const float* v, int ld, int M, const int* slotBlock,
             const int* slotIndex, cudaStream_t st);
void pagedAttention(const KvView& kv, int layer, const float* q, int ldq, int M, const PagedRows& rows, int heads,
                    float scale, int maxKeys, float* out, HalfOut oh, cudaStream_t st);
// A decode step's self-attention with the KV store in the same kernel (every row the only new row of its
// sequence): qkv rows [q | k | v] of stride ld.
void storeKvAndAttend(const KvView& kv, int layer, const float* qkv, int ld, int M, const int* slotBlock,
                      const int* slotIndex, const PagedRows& rows, int heads, float scale, int maxKeys, float* out,
                      HalfOut oh, cudaStream_t st);
void segmentAttention(const float* qkv, const SegmentRows& seg, int M, int heads, int d, float scale, float* out,
                      HalfOut oh, cudaStream_t st);

// search.cu: per-row max / sum exp, top-k raw values (k a power of two <= 32), raw values at specialIds; writes
// [rows*2 stats][rows*k values][rows*k tokens][rows*cap specials] contiguously at `out` (floats; tokens as ints).
// Row r of the logits starts at logits + r * ld.
void rowSearch(const float* logits, int rows, int vocab, int ld, int k, const int* specialIds, int cap, float* partial,
               std::size_t partialFloats, float* out, cudaStream_t st);
std::size_t rowSearchPartialFloats(int rows, int vocab, int k);

}  // namespace cuda
}  // namespace glossa
