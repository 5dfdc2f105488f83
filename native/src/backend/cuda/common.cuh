// Shared helpers of the CUDA backend: error checks that throw (naming the call and the file), element types.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace glossa {
namespace cuda {

[[noreturn]] inline void fail(cudaError_t e, const char* what, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA error in ") + what + " (" + file + ":" + std::to_string(line) +
                           "): " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

#define GLOSSA_CUDA(call)                                              \
  do {                                                                 \
    cudaError_t e_ = (call);                                           \
    if (e_ != cudaSuccess) ::glossa::cuda::fail(e_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: launch-configuration errors surface here (execution errors at the next synchronize).
#define GLOSSA_CUDA_LAUNCHED() GLOSSA_CUDA(cudaPeekAtLastError())

// Host -> device copy ordered on `st` and complete on return. Not cudaMemcpy: from pageable memory it may return
// before its DMA reaches the device, and it runs on the legacy stream, which the backend's non-blocking stream does
// not wait for, so a kernel enqueued right after could read the old bytes (seen as intermittent conformance failures
// when a check uploaded its inputs and launched at once).
inline void copyToDevice(void* dst, const void* src, std::size_t bytes, cudaStream_t st) {
  GLOSSA_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, st));
  GLOSSA_CUDA(cudaStreamSynchronize(st));
}

// Storage type of weights / KV entries.
enum class ElemType { F32, F16, BF16 };

template <typename T>
__device__ __forceinline__ float toF(T v);
template <>
__device__ __forceinline__ float toF<float>(float v) { return v; }
template <>
__device__ __forceinline__ float toF<__half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float toF<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T fromF(float v);
template <>
__device__ __forceinline__ float fromF<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half fromF<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 fromF<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

__device__ __forceinline__ float warpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

inline int ceilDiv(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }

// gridDim.y and gridDim.z are limited to 65535: kernels with one block row per matrix row (embeddings, KV stores,
// gathers, search partials) launch min(rows, kMaxGridRows) and loop over rows with stride gridDim.y, so an
// encoder step of any size (thousands of sources at once) runs.
constexpr int kMaxGridRows = 65535;
inline unsigned gridRows(int rows) { return static_cast<unsigned>(rows < kMaxGridRows ? rows : kMaxGridRows); }

}  // namespace cuda
}  // namespace glossa
