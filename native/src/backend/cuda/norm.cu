// Row and elementwise kernels: layer norm, activations, residual adds, row gathers, GEMM input packing and the
// bias/activation epilogues of library GEMMs.
#include "backend/cuda/kernels.cuh"

namespace glossa {
namespace cuda {
namespace {

constexpr int kThreads = 256;

// One block of kLnThreads per row: the row in registers (kLnRegs per thread: rows up to 1024 floats), block sums
// in a fixed order (warp butterflies, then the warps' partial sums in order); longer rows loop over memory.
constexpr int kLnThreads = 128;
constexpr int kLnRegs = 8;

__device__ __forceinline__ float blockSum(float v, float* red) {
  v = warpSum(v);
  __syncthreads();  // red is reused by the next call
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  float t = 0.f;
#pragma unroll
  for (int w = 0; w < kLnThreads / 32; ++w) t += red[w];
  return t;
}

__global__ void __launch_bounds__(kLnThreads) layerNormKernel(const float* __restrict__ x, int M, int d,
                                                               const float* __restrict__ g, const float* __restrict__ b,
                                                               float eps, float* __restrict__ y, HalfOut yh) {
  __shared__ float red[kLnThreads / 32];
  const int row = blockIdx.x, tid = threadIdx.x;
  const float* r = x + static_cast<size_t>(row) * d;
  float* o = y + static_cast<size_t>(row) * d;
  if (d <= kLnThreads * kLnRegs) {
    float v[kLnRegs];
    float s = 0.f;
#pragma unroll
    for (int j = 0; j < kLnRegs; ++j) {
      const int i = tid + kLnThreads * j;
      v[j] = i < d ? r[i] : 0.f;
      s += v[j];
    }
    const float mean = blockSum(s, red) / d;
    float var = 0.f;
#pragma unroll
    for (int j = 0; j < kLnRegs; ++j) {
      const int i = tid + kLnThreads * j;
      const float c = i < d ? v[j] - mean : 0.f;
      var += c * c;
    }
    const float rstd = rsqrtf(blockSum(var, red) / d + eps);
#pragma unroll
    for (int j = 0; j < kLnRegs; ++j) {
      const int i = tid + kLnThreads * j;
      if (i < d) {
        const float u = (v[j] - mean) * rstd * g[i] + b[i];
        o[i] = u;
        storeHalf(yh, static_cast<size_t>(row) * d + i, u);
      }
    }
    return;
  }
  float s = 0.f;
  for (int i = tid; i < d; i += kLnThreads) s += r[i];
  const float mean = blockSum(s, red) / d;
  float v = 0.f;
  for (int i = tid; i < d; i += kLnThreads) {
    const float c = r[i] - mean;
    v += c * c;
  }
  const float rstd = rsqrtf(blockSum(v, red) / d + eps);
  for (int i = tid; i < d; i += kLnThreads) {
    const float u = (r[i] - mean) * rstd * g[i] + b[i];
    o[i] = u;
    storeHalf(yh, static_cast<size_t>(row) * d + i, u);
  }
}

__global__ void activateKernel(Activation a, float* x, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    x[i] = applyAct(a, x[i]);
}

__global__ void addKernel(float* x, const float* y, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    x[i] += y[i];
}

__global__ void addRowVectorKernel(float* x, int rows, size_t n, const float* v) {
  const size_t total = static_cast<size_t>(rows) * n;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    x[i] += v[i % n];
}

__global__ void gatherRowsKernel(const float* src, const int* rows, int n, int d, float* dst) {
  for (int r = blockIdx.y; r < n; r += gridDim.y) {
    const float* s = src + static_cast<size_t>(rows[r]) * d;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < d; i += gridDim.x * blockDim.x) dst[static_cast<size_t>(r) * d + i] = s[i];
  }
}

template <typename T>
__global__ void convertRowsKernel(const float* x, int ldx, int M, int K, T* out) {
  const size_t total = static_cast<size_t>(M) * K;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t m = i / K, k = i % K;
    out[i] = fromF<T>(x[m * ldx + k]);
  }
}

__global__ void epilogueKernel(const float* acc, int ldAcc, float* y, int ldy, int M, int N, const float* bias,
                               Epilogue ep, Activation act, HalfOut yh) {
  const size_t total = static_cast<size_t>(M) * N;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t m = i / N, n = i % N;
    const float r = acc[m * ldAcc + n] + (bias ? bias[n] : 0.f);
    float& o = y[m * ldy + n];
    applyEpilogue(ep, act, o, r);
    storeHalf(yh, i, o);  // dense M x N copy
  }
}

__global__ void int8EpilogueKernel(const int* acc, int ldAcc, const float* xs, const float* ws, float* y, int ldy, int M,
                                   int N, const float* bias, Epilogue ep, Activation act) {
  const size_t total = static_cast<size_t>(M) * N;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t m = i / N, n = i % N;
    const float r = xs[m] * ws[n] * static_cast<float>(acc[m * ldAcc + n]) + (bias ? bias[n] : 0.f);
    applyEpilogue(ep, act, y[m * ldy + n], r);
  }
}

// One warp per row.
__global__ void quantizeRowsKernel(const float* x, int ldx, int M, int K, int Kp, signed char* q, float* scale) {
  const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= M) return;
  const float* r = x + static_cast<size_t>(row) * ldx;
  float amax = 0.f;
  for (int k = lane; k < K; k += 32) amax = fmaxf(amax, fabsf(r[k]));
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const float s = amax > 0.f ? amax / 127.f : 1.f;
  const float inv = 1.f / s;
  signed char* o = q + static_cast<size_t>(row) * Kp;
  for (int k = lane; k < Kp; k += 32) {
    float v = k < K ? rintf(r[k] * inv) : 0.f;
    v = v > 127.f ? 127.f : (v < -127.f ? -127.f : v);
    o[k] = static_cast<signed char>(v);
  }
  if (lane == 0) scale[row] = s;
}

int gridFor(size_t n) {
  const size_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < 65536 ? (blocks == 0 ? 1 : blocks) : 65536);
}

}  // namespace

void layerNorm(const float* x, int M, int d, const float* gamma, const float* beta, float eps, float* y, HalfOut yh,
               cudaStream_t st) {
  if (M <= 0) return;
  layerNormKernel<<<M, kLnThreads, 0, st>>>(x, M, d, gamma, beta, eps, y, yh);
  GLOSSA_CUDA_LAUNCHED();
}

void activate(Activation a, float* x, std::size_t n, cudaStream_t st) {
  if (n == 0) return;
  activateKernel<<<gridFor(n), kThreads, 0, st>>>(a, x, n);
  GLOSSA_CUDA_LAUNCHED();
}

void addInPlace(float* x, const float* y, std::size_t n, cudaStream_t st) {
  if (n == 0) return;
  addKernel<<<gridFor(n), kThreads, 0, st>>>(x, y, n);
  GLOSSA_CUDA_LAUNCHED();
}

void addRowVector(float* x, int rows, std::size_t n, const float* v, cudaStream_t st) {
  if (rows <= 0 || n == 0) return;
  addRowVectorKernel<<<gridFor(rows * n), kThreads, 0, st>>>(x, rows, n, v);
  GLOSSA_CUDA_LAUNCHED();
}

void gatherRows(const float* src, const int* rows, int n, int d, float* dst, cudaStream_t st) {
  if (n <= 0) return;
  gatherRowsKernel<<<dim3(ceilDiv(d, kThreads), gridRows(n)), kThreads, 0, st>>>(src, rows, n, d, dst);
  GLOSSA_CUDA_LAUNCHED();
}

template <typename T>
void convertRows(const float* x, int ldx, int M, int K, T* out, cudaStream_t st) {
  if (M <= 0) return;
  convertRowsKernel<T><<<gridFor(static_cast<size_t>(M) * K), kThreads, 0, st>>>(x, ldx, M, K, out);
  GLOSSA_CUDA_LAUNCHED();
}
template void convertRows<__half>(const float*, int, int, int, __half*, cudaStream_t);
template void convertRows<__nv_bfloat16>(const float*, int, int, int, __nv_bfloat16*, cudaStream_t);

void linearEpilogue(const float* acc, int ldAcc, float* y, int ldy, int M, int N, const float* bias, Epilogue ep,
                    Activation act, HalfOut yh, cudaStream_t st) {
  if (M <= 0) return;
  epilogueKernel<<<gridFor(static_cast<size_t>(M) * N), kThreads, 0, st>>>(acc, ldAcc, y, ldy, M, N, bias, ep, act, yh);
  GLOSSA_CUDA_LAUNCHED();
}

void int8Epilogue(const int* acc, int ldAcc, const float* xScale, const float* wScale, float* y, int ldy, int M, int N,
                  const float* bias, Epilogue ep, Activation act, cudaStream_t st) {
  if (M <= 0) return;
  int8EpilogueKernel<<<gridFor(static_cast<size_t>(M) * N), kThreads, 0, st>>>(acc, ldAcc, xScale, wScale, y, ldy, M,
                                                                             N, bias, ep, act);
  GLOSSA_CUDA_LAUNCHED();
}

void quantizeRowsInt8(const float* x, int ldx, int M, int K, int Kp, signed char* q, float* scale, cudaStream_t st) {
  if (M <= 0) return;
  quantizeRowsKernel<<<ceilDiv(M, 4), 128, 0, st>>>(x, ldx, M, K, Kp, q, scale);
  GLOSSA_CUDA_LAUNCHED();
}

}  // namespace cuda
}  // namespace glossa
