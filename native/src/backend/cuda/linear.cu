#include "backend/cuda/linear.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/half.h"
#include "quant/quantized_linear.h"

namespace glossa {
namespace cuda {
namespace {

constexpr int kWarps = 4;     // warps per block of the streaming kernel
constexpr int kColumns = 2;   // output columns per warp

// After the warp's reductions every lane holds all sums (a0: column n0, a1: column n0 + 1, one per row t < MT);
// lane j * MT + t writes output (row m0 + t, column n0 + j). Gives that lane's t, n and sum; false for lanes
// with nothing to write.
template <int MT, typename T>
__device__ __forceinline__ bool laneOutput(const T (&a0)[MT], const T (&a1)[MT], int lane, int rows, int n0, int N, int& t,
                                           int& n, T& acc) {
  const int j = lane / MT;
  t = lane % MT;
  if (j >= kColumns || t >= rows) return false;
  n = n0 + j;
  if (n >= N) return false;
  acc = T(0);
#pragma unroll
  for (int tt = 0; tt < MT; ++tt)
    if (tt == t) acc = j == 0 ? a0[tt] : a1[tt];
  return true;
}

// Weight views. load(n, c, w): chunk c (CH consecutive inputs) of row n as floats (16-byte loads); at(n, k): one
// dequantized weight; post(n, acc): the row's scale applied after the sum (Q8, as the CPU kernels do).
struct WF32 {
  static constexpr int CH = 4;
  const float* w;
  int K;
  __device__ void load(int n, int c, float (&o)[CH]) const {
    const float4 v = __ldg(reinterpret_cast<const float4*>(w + static_cast<size_t>(n) * K) + c);
    o[0] = v.x; o[1] = v.y; o[2] = v.z; o[3] = v.w;
  }
  __device__ float at(int n, int k) const { return w[static_cast<size_t>(n) * K + k]; }
  __device__ float raw(int n, int k) const { return at(n, k); }
  __device__ float post(int, float acc) const { return acc; }
};

// 16-bit weights (fp16 or bf16): 8 per 16-byte load, converted in pairs.
__device__ __forceinline__ float2 pairToFloat2(__half2 v) { return __half22float2(v); }
__device__ __forceinline__ float2 pairToFloat2(__nv_bfloat162 v) { return __bfloat1622float2(v); }
template <typename T> struct PairOf;
template <> struct PairOf<__half> { using type = __half2; };
template <> struct PairOf<__nv_bfloat16> { using type = __nv_bfloat162; };

template <typename T>
struct W16 {
  static constexpr int CH = 8;
  const T* w;
  int K;
  __device__ void load(int n, int c, float (&o)[CH]) const {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(w + static_cast<size_t>(n) * K) + c);
    const auto* h = reinterpret_cast<const typename PairOf<T>::type*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = pairToFloat2(h[i]);
      o[2 * i] = f.x;
      o[2 * i + 1] = f.y;
    }
  }
  __device__ float at(int n, int k) const { return toF<T>(w[static_cast<size_t>(n) * K + k]); }
  __device__ float raw(int n, int k) const { return at(n, k); }
  __device__ float post(int, float acc) const { return acc; }
};
using WF16 = W16<__half>;
using WBF16 = W16<__nv_bfloat16>;

struct WQ8 {
  static constexpr int CH = 16;
  const int8_t* w;
  const float* s;
  int K;  // row stride in bytes (K for Q8, Kp for Q8A8 weights)
  __device__ void load(int n, int c, float (&o)[CH]) const {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(w + static_cast<size_t>(n) * K) + c);
    const int8_t* q = reinterpret_cast<const int8_t*>(&raw);
#pragma unroll
    for (int i = 0; i < CH; ++i) o[i] = static_cast<float>(q[i]);
  }
  __device__ float at(int n, int k) const { return static_cast<float>(w[static_cast<size_t>(n) * K + k]) * s[n]; }
  __device__ float raw(int n, int k) const { return static_cast<float>(w[static_cast<size_t>(n) * K + k]); }
  __device__ float post(int n, float acc) const { return acc * s[n]; }
};

struct WQ4 {
  static constexpr int CH = 32;
  const uint8_t* w;  // rows of K2 bytes, low nibble = even input
  const float* s;    // [n][groups]
  const float* z;
  int K2, g, groups;
  __device__ void load(int n, int c, float (&o)[CH]) const {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(w + static_cast<size_t>(n) * K2) + c);
    const uint8_t* b = reinterpret_cast<const uint8_t*>(&raw);
    const int grp = (c * CH) / g;
    const float sc = s[static_cast<size_t>(n) * groups + grp], zp = z[static_cast<size_t>(n) * groups + grp];
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      o[2 * i] = (static_cast<float>(b[i] & 15) - zp) * sc;
      o[2 * i + 1] = (static_cast<float>(b[i] >> 4) - zp) * sc;
    }
  }
  __device__ float at(int n, int k) const {
    const uint8_t byte = w[static_cast<size_t>(n) * K2 + k / 2];
    const int q = (k & 1) ? byte >> 4 : byte & 15;
    const int grp = k / g;
    return (static_cast<float>(q) - z[static_cast<size_t>(n) * groups + grp]) * s[static_cast<size_t>(n) * groups + grp];
  }
  __device__ float raw(int n, int k) const { return at(n, k); }
  __device__ float post(int, float acc) const { return acc; }
};

// y[m][n] for rows [m0, m0 + MT) and columns n0, n0 + 1 of one warp. Every output's sum runs over K in the same
// order whatever M is (lanes over chunks, then a fixed butterfly), so results are batch invariant.
template <typename WK, int MT>
__global__ void __launch_bounds__(kWarps * 32) streamKernel(WK w, const float* __restrict__ x, int ldx, int M, int K,
                                                            int N, float* __restrict__ y, int ldy,
                                                            const float* __restrict__ bias, Epilogue ep, Activation act,
                                                            bool vec) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int n0 = (blockIdx.x * kWarps + warp) * kColumns;
  if (n0 >= N) return;
  const bool two = n0 + 1 < N;
  const int m0 = blockIdx.y * MT;
  const int rows = min(MT, M - m0);
  const float* xb = x + static_cast<size_t>(m0) * ldx;
  float a0[MT], a1[MT];
#pragma unroll
  for (int t = 0; t < MT; ++t) a0[t] = a1[t] = 0.f;
  if (vec) {
    constexpr int CH = WK::CH;
    const int chunks = K / CH;
#pragma unroll 2
    for (int c = lane; c < chunks; c += 32) {
      float wa[CH], wb[CH];
      w.load(n0, c, wa);
      if (two) {
        w.load(n0 + 1, c, wb);
      } else {
#pragma unroll
        for (int i = 0; i < CH; ++i) wb[i] = 0.f;
      }
#pragma unroll
      for (int t = 0; t < MT; ++t) {
        if (t < rows) {
          const float4* xp = reinterpret_cast<const float4*>(xb + static_cast<size_t>(t) * ldx + c * CH);
          float s0 = 0.f, s1 = 0.f;
#pragma unroll
          for (int q = 0; q < CH / 4; ++q) {
            const float4 xv = xp[q];
            s0 += wa[4 * q] * xv.x + wa[4 * q + 1] * xv.y + wa[4 * q + 2] * xv.z + wa[4 * q + 3] * xv.w;
            s1 += wb[4 * q] * xv.x + wb[4 * q + 1] * xv.y + wb[4 * q + 2] * xv.z + wb[4 * q + 3] * xv.w;
          }
          a0[t] += s0;
          a1[t] += s1;
        }
      }
    }
  } else {
    for (int k = lane; k < K; k += 32) {
      const float w0 = w.raw(n0, k), w1 = two ? w.raw(n0 + 1, k) : 0.f;
#pragma unroll
      for (int t = 0; t < MT; ++t)
        if (t < rows) {
          const float xv = xb[static_cast<size_t>(t) * ldx + k];
          a0[t] += w0 * xv;
          a1[t] += w1 * xv;
        }
    }
  }
#pragma unroll
  for (int t = 0; t < MT; ++t) {
    a0[t] = warpSum(a0[t]);
    a1[t] = warpSum(a1[t]);
  }
  int t, n;
  float acc;
  if (!laneOutput<MT>(a0, a1, lane, rows, n0, N, t, n, acc)) return;
  const float r = w.post(n, acc) + (bias ? bias[n] : 0.f);
  applyEpilogue(ep, act, y[static_cast<size_t>(m0 + t) * ldy + n], r);
}

// W8A8 streaming: int8 activations x int8 weights, exact int32 sums (dp4a), y = xs[m] * ws[n] * acc + bias.
template <int MT>
__global__ void __launch_bounds__(kWarps * 32) stream8x8Kernel(const int8_t* __restrict__ w, const float* __restrict__ ws,
                                                               const int8_t* __restrict__ xq, const float* __restrict__ xs,
                                                               int Kp, int M, int N, float* __restrict__ y, int ldy,
                                                               const float* __restrict__ bias, Epilogue ep, Activation act) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int n0 = (blockIdx.x * kWarps + warp) * kColumns;
  if (n0 >= N) return;
  const bool two = n0 + 1 < N;
  const int m0 = blockIdx.y * MT;
  const int rows = min(MT, M - m0);
  int a0[MT], a1[MT];
#pragma unroll
  for (int t = 0; t < MT; ++t) a0[t] = a1[t] = 0;
  const int words = Kp / 4;
  const int* w0 = reinterpret_cast<const int*>(w + static_cast<size_t>(n0) * Kp);
  const int* w1 = reinterpret_cast<const int*>(w + static_cast<size_t>(two ? n0 + 1 : n0) * Kp);
  for (int c = lane; c < words; c += 32) {
    const int wa = __ldg(w0 + c), wb = two ? __ldg(w1 + c) : 0;
#pragma unroll
    for (int t = 0; t < MT; ++t)
      if (t < rows) {
        const int xv = reinterpret_cast<const int*>(xq + static_cast<size_t>(m0 + t) * Kp)[c];
        a0[t] = __dp4a(wa, xv, a0[t]);
        a1[t] = __dp4a(wb, xv, a1[t]);
      }
  }
#pragma unroll
  for (int t = 0; t < MT; ++t)
    for (int o = 16; o > 0; o >>= 1) {
      a0[t] += __shfl_xor_sync(0xffffffffu, a0[t], o);
      a1[t] += __shfl_xor_sync(0xffffffffu, a1[t], o);
    }
  int t, n, acc;
  if (!laneOutput<MT>(a0, a1, lane, rows, n0, N, t, n, acc)) return;
  const float r = xs[m0 + t] * ws[n] * static_cast<float>(acc) + (bias ? bias[n] : 0.f);
  applyEpilogue(ep, act, y[static_cast<size_t>(m0 + t) * ldy + n], r);
}

template <typename WK>
__global__ void embedKernel(WK w, const int* tokens, const int* posIds, int M, int d, float scale, const float* positions,
                            float* out) {
  for (int m = blockIdx.y; m < M; m += gridDim.y) {
    const int tok = tokens[m];
    const float* p = positions + static_cast<size_t>(posIds[m]) * d;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < d; i += gridDim.x * blockDim.x)
      out[static_cast<size_t>(m) * d + i] = w.at(tok, i) * scale + p[i];
  }
}

// Dequantizes weights to T [N][K] (library GEMM of quantized layers at large M).
template <typename WK, typename T>
__global__ void dequantKernel(WK w, int N, int K, T* out) {
  const size_t total = static_cast<size_t>(N) * K;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = fromF<T>(w.at(static_cast<int>(i / K), static_cast<int>(i % K)));
}

template <typename WK, int MT>
void launchStream(const WK& w, const float* x, int ldx, int M, int K, int N, float* y, int ldy, const float* bias,
                  Epilogue ep, Activation act, bool vec, cudaStream_t st) {
  const dim3 grid(ceilDiv(N, kWarps * kColumns), ceilDiv(M, MT));
  streamKernel<WK, MT><<<grid, kWarps * 32, 0, st>>>(w, x, ldx, M, K, N, y, ldy, bias, ep, act, vec);
  GLOSSA_CUDA_LAUNCHED();
}

template <typename WK>
void stream(const WK& w, const float* x, int ldx, int M, int K, int N, float* y, int ldy, const float* bias, Epilogue ep,
            Activation act, bool vec, cudaStream_t st) {
  if (M == 1) return launchStream<WK, 1>(w, x, ldx, M, K, N, y, ldy, bias, ep, act, vec, st);
  if (M == 2) return launchStream<WK, 2>(w, x, ldx, M, K, N, y, ldy, bias, ep, act, vec, st);
  if (M <= 4) return launchStream<WK, 4>(w, x, ldx, M, K, N, y, ldy, bias, ep, act, vec, st);
  if (M <= 8) return launchStream<WK, 8>(w, x, ldx, M, K, N, y, ldy, bias, ep, act, vec, st);
  return launchStream<WK, 16>(w, x, ldx, M, K, N, y, ldy, bias, ep, act, vec, st);
}

template <typename WK>
void embedWith(const WK& w, const int* tokens, const int* posIds, int M, int d, float scale, const float* positions,
               float* out, cudaStream_t st) {
  embedKernel<WK><<<dim3(ceilDiv(d, 256), gridRows(M)), 256, 0, st>>>(w, tokens, posIds, M, d, scale, positions, out);
  GLOSSA_CUDA_LAUNCHED();
}

template <typename WK>
void dequantWith(const WK& w, int N, int K, __half* out, cudaStream_t st) {
  const size_t total = static_cast<size_t>(N) * K;
  const int grid = static_cast<int>(std::min<size_t>((total + 255) / 256, 65536));
  dequantKernel<WK, __half><<<grid, 256, 0, st>>>(w, N, K, out);
  GLOSSA_CUDA_LAUNCHED();
}

bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15) == 0; }

std::uint16_t toBf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even (inputs are finite: checked at conversion)
  return static_cast<std::uint16_t>(u >> 16);
}

}  // namespace

CudaLinear::~CudaLinear() {
  for (auto& o : owned_) ctx_.scratch->freeBytes(o.first, o.second);
}

void* CudaLinear::alloc(std::size_t bytes) {
  void* p = ctx_.scratch->allocBytes(bytes);
  owned_.emplace_back(p, bytes);
  return p;
}

std::unique_ptr<CudaLinear> CudaLinear::create(const LinearContext& ctx, const std::vector<const TensorRef*>& w,
                                               const std::vector<const TensorRef*>& b) {
  if (w.empty()) throw std::runtime_error("Linear without weights");
  std::unique_ptr<CudaLinear> L(new CudaLinear(ctx));
  L->outPad_ = 0;
  const DType dt = w[0]->dtype;
  L->in_ = static_cast<int>(w[0]->shape.at(1));
  for (const TensorRef* t : w) {
    if (t->shape.size() != 2 || t->shape[1] != L->in_)
      throw std::runtime_error(t->describe() + ": unexpected shape for a linear layer");
    if (t->dtype != dt && !(isQuantizedLinearDType(dt) == false && isQuantizedLinearDType(t->dtype) == false))
      throw std::runtime_error(t->describe() + ": fused parts must share one precision");
    L->out_ += static_cast<int>(t->shape[0]);
  }
  const int in = L->in_, out = L->out_;
  const std::size_t n = static_cast<std::size_t>(out) * in;
  // Bias (concatenated; null parts are zeros).
  bool anyBias = false;
  for (std::size_t i = 0; i < b.size(); ++i) anyBias = anyBias || b[i] != nullptr;
  if (anyBias) {
    // Zeros up to a multiple of 8: a padded layer's GEMM with the bias epilogue reads that many (see library()).
    std::vector<float> bias(static_cast<std::size_t>((out + 7) / 8 * 8), 0.f);
    int n0 = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      const int rows = static_cast<int>(w[i]->shape[0]);
      if (i < b.size() && b[i] != nullptr) {
        if (b[i]->elements() != rows) throw std::runtime_error(b[i]->describe() + ": bias size does not match weight");
        b[i]->toFloat(0, static_cast<std::size_t>(rows), bias.data() + n0);
      }
      n0 += rows;
    }
    L->bias_ = static_cast<float*>(L->alloc(bias.size() * 4));
    copyToDevice(L->bias_, bias.data(), bias.size() * 4, ctx.stream);
  }
  auto forParts = [&](auto fn) {
    int n0 = 0;
    for (const TensorRef* t : w) {
      fn(*t, n0);
      n0 += static_cast<int>(t->shape[0]);
    }
  };
  if (dt == DType::Q8 || dt == DType::Q8A8) {
    const bool a8 = dt == DType::Q8A8;
    L->kind_ = a8 ? Kind::Q8A8 : Kind::Q8;
    L->precision_ = a8 ? "int8-w8a8" : "int8-w8a16";
    const int stride = a8 ? (in + 3) / 4 * 4 : in;
    L->kp_ = stride;
    std::vector<std::int8_t> q(static_cast<std::size_t>(out) * stride, 0);
    std::vector<float> s(static_cast<std::size_t>(out));
    forParts([&](const TensorRef& t, int n0) {
      const int rows = static_cast<int>(t.shape[0]);
      t.scale->toFloat(0, static_cast<std::size_t>(rows), s.data() + n0);
      for (int r = 0; r < rows; ++r) {
        const std::int8_t* src = reinterpret_cast<const std::int8_t*>(t.data) + static_cast<std::size_t>(r) * in;
        std::int8_t* dst = q.data() + static_cast<std::size_t>(n0 + r) * stride;
        for (int k = 0; k < in; ++k) dst[k] = src[k] < -127 ? static_cast<std::int8_t>(-127) : src[k];
      }
    });
    L->weights_ = L->alloc(q.size());
    copyToDevice(L->weights_, q.data(), q.size(), ctx.stream);
    L->scale_ = static_cast<float*>(L->alloc(s.size() * 4));
    copyToDevice(L->scale_, s.data(), s.size() * 4, ctx.stream);
    return L;
  }
  if (dt == DType::Q4) {
    L->kind_ = Kind::Q4;
    L->precision_ = "int4";
    const int g = w[0]->groupSize, groups = (in + g - 1) / g, k2 = (in + 1) / 2;
    L->groupSize_ = g;
    L->groups_ = groups;
    std::vector<std::uint8_t> q(static_cast<std::size_t>(out) * k2);
    std::vector<float> s(static_cast<std::size_t>(out) * groups), z(s.size());
    forParts([&](const TensorRef& t, int n0) {
      const int rows = static_cast<int>(t.shape[0]);
      if (t.groupSize != g) throw std::runtime_error(t.describe() + ": fused parts must share one group size");
      std::memcpy(q.data() + static_cast<std::size_t>(n0) * k2, t.data, static_cast<std::size_t>(rows) * k2);
      t.scale->toFloat(0, static_cast<std::size_t>(rows) * groups, s.data() + static_cast<std::size_t>(n0) * groups);
      t.zero->toFloat(0, static_cast<std::size_t>(rows) * groups, z.data() + static_cast<std::size_t>(n0) * groups);
    });
    for (float zp : z)
      if (zp > 15.f) throw std::runtime_error(w[0]->zero->describe() + ": zero point above 15");
    L->weights_ = L->alloc(q.size());
    copyToDevice(L->weights_, q.data(), q.size(), ctx.stream);
    L->scale_ = static_cast<float*>(L->alloc(s.size() * 4));
    copyToDevice(L->scale_, s.data(), s.size() * 4, ctx.stream);
    L->zero_ = static_cast<float*>(L->alloc(z.size() * 4));
    copyToDevice(L->zero_, z.data(), z.size() * 4, ctx.stream);
    return L;
  }
  // Float weights (F32 / F16 / BF16 checkpoints, F16H engine-file tensors) stored in the compute precision;
  // kept-half engine tensors stay half in FP16 and BF16 modes alike (their bytes are exact as half).
  ElemType store = ctx.compute;
  if (dt == DType::F16H && store != ElemType::F32) store = ElemType::F16;
  if (dt != DType::F32 && dt != DType::F16 && dt != DType::BF16 && dt != DType::F16H)
    throw std::runtime_error(w[0]->describe() + ": dtype " + dtypeName(dt) + " has no CUDA Linear");
  L->kind_ = store == ElemType::F32 ? Kind::F32 : store == ElemType::F16 ? Kind::F16 : Kind::BF16;
  L->precision_ = store == ElemType::F32 ? "f32" : store == ElemType::F16 ? "f16" : "bf16";
  const std::size_t elem = store == ElemType::F32 ? 4 : 2;
  std::vector<std::uint8_t> host(n * elem);
  std::vector<float> row(static_cast<std::size_t>(in));
  forParts([&](const TensorRef& t, int n0) {
    const int rows = static_cast<int>(t.shape[0]);
    const bool rawHalf = store == ElemType::F16 && (t.dtype == DType::F16 || t.dtype == DType::F16H);
    if (rawHalf) {
      t.requireFinite(0, static_cast<std::size_t>(rows) * in);
      std::memcpy(host.data() + static_cast<std::size_t>(n0) * in * 2, t.data, static_cast<std::size_t>(rows) * in * 2);
      return;
    }
    for (int r = 0; r < rows; ++r) {
      if (t.dtype == DType::F16H) {
        t.requireFinite(static_cast<std::size_t>(r) * in, static_cast<std::size_t>(in));
        const std::uint8_t* src = t.data + static_cast<std::size_t>(r) * in * 2;
        for (int k = 0; k < in; ++k) {
          std::uint16_t h;
          std::memcpy(&h, src + 2 * k, 2);
          row[static_cast<std::size_t>(k)] = halfToFloat(h);
        }
      } else {
        t.toFloat(static_cast<std::size_t>(r) * in, static_cast<std::size_t>(in), row.data());
      }
      std::uint8_t* dst = host.data() + static_cast<std::size_t>(n0 + r) * in * elem;
      for (int k = 0; k < in; ++k) {
        const float f = row[static_cast<std::size_t>(k)];
        if (store == ElemType::F32) {
          std::memcpy(dst + 4 * k, &f, 4);
        } else {
          const std::uint16_t h = store == ElemType::F16 ? floatToHalfValue(f) : toBf16(f);
          std::memcpy(dst + 2 * k, &h, 2);
        }
      }
    }
  });
  // Rows padded to a multiple of 8 (zeros): library GEMMs of an odd-sized layer (mBART-50's 250,054-row LM head)
  // otherwise fall back to slow 2-element-aligned kernels.
  L->outPad_ = (out + 7) / 8 * 8;
  const std::size_t padded = static_cast<std::size_t>(L->outPad_) * in * elem;
  L->weights_ = L->alloc(padded);
  GLOSSA_CUDA(cudaMemsetAsync(L->weights_, 0, padded, ctx.stream));  // ordered before the copy on the same stream
  copyToDevice(L->weights_, host.data(), host.size(), ctx.stream);
  return L;
}

void CudaLinear::weightRow(int n, float* outRow) const {
  if (n < 0 || n >= out_) throw std::runtime_error("weight row out of range");
  std::vector<float> tmp(static_cast<std::size_t>(in_));
  float* dev = static_cast<float*>(ctx_.scratch->scratch(ScratchSource::kScales, tmp.size() * 4));
  int* tok = static_cast<int*>(ctx_.scratch->scratch(ScratchSource::kAcc, 8));
  const int ids[2] = {n, 0};
  GLOSSA_CUDA(cudaMemcpyAsync(tok, ids, 8, cudaMemcpyHostToDevice, ctx_.stream));
  // The embedding kernel with zero positions: W[n] * 1 + 0.
  float* zeros = static_cast<float*>(ctx_.scratch->scratch(ScratchSource::kInput, tmp.size() * 4));
  GLOSSA_CUDA(cudaMemsetAsync(zeros, 0, tmp.size() * 4, ctx_.stream));
  embed(tok, tok + 1, 1, 1.0f, zeros, dev);
  GLOSSA_CUDA(cudaMemcpyAsync(outRow, dev, tmp.size() * 4, cudaMemcpyDeviceToHost, ctx_.stream));
  GLOSSA_CUDA(cudaStreamSynchronize(ctx_.stream));
}

void CudaLinear::embed(const int* tokens, const int* posIds, int M, float scale, const float* positions, float* out) const {
  if (M <= 0) return;
  cudaStream_t st = ctx_.stream;
  const int d = in_;
  switch (kind_) {
    case Kind::F32: return embedWith(WF32{static_cast<const float*>(weights_), in_}, tokens, posIds, M, d, scale, positions, out, st);
    case Kind::F16: return embedWith(WF16{static_cast<const __half*>(weights_), in_}, tokens, posIds, M, d, scale, positions, out, st);
    case Kind::BF16: return embedWith(WBF16{static_cast<const __nv_bfloat16*>(weights_), in_}, tokens, posIds, M, d, scale, positions, out, st);
    case Kind::Q8:
    case Kind::Q8A8:
      return embedWith(WQ8{static_cast<const int8_t*>(weights_), scale_, kp_}, tokens, posIds, M, d, scale, positions, out, st);
    case Kind::Q4:
      return embedWith(WQ4{static_cast<const uint8_t*>(weights_), scale_, zero_, (in_ + 1) / 2, groupSize_, groups_},
                       tokens, posIds, M, d, scale, positions, out, st);
  }
}

bool CudaLinear::usesLibrary(int M) const {
  const bool quantized = kind_ == Kind::Q8 || kind_ == Kind::Q4 || kind_ == Kind::Q8A8;
  // Layers up to smallLayerWeights weights stream up to smallLayerRows rows (the LM head goes to the library).
  const bool small = static_cast<long long>(in_) * out_ <= ctx_.smallLayerWeights;
  const int limit = std::max(quantized ? ctx_.quantGemvMaxRows : ctx_.gemvMaxRows, small ? ctx_.smallLayerRows : 0);
  // FP32 mode's quantized layers and deterministic mode stream for every M (fixed per-output sums).
  return !(ctx_.deterministic || M <= limit || (quantized && ctx_.compute == ElemType::F32));
}

void CudaLinear::run(const float* x, int ldx, int M, float* y, int ldy, Epilogue ep, Activation act, float* tmp,
                     HalfOut yh) const {
  if (M <= 0) return;
  ctx_.scratch->touched(y, static_cast<std::size_t>(M) * ldy);
  if (tmp) ctx_.scratch->touched(tmp, static_cast<std::size_t>(M) * out_);
  if (usesLibrary(M))
    library(x, ldx, M, y, ldy, ep, act, tmp, yh);
  else
    streaming(x, ldx, M, y, ldy, ep, act);
}

void CudaLinear::streaming(const float* x, int ldx, int M, float* y, int ldy, Epilogue ep, Activation act) const {
  cudaStream_t st = ctx_.stream;
  const bool xVec = ldx % 4 == 0 && aligned16(x);
  const int K = in_, N = out_;
  switch (kind_) {
    case Kind::F32:
      return stream(WF32{static_cast<const float*>(weights_), K}, x, ldx, M, K, N, y, ldy, bias_, ep, act, xVec && K % 4 == 0, st);
    case Kind::F16:
      return stream(WF16{static_cast<const __half*>(weights_), K}, x, ldx, M, K, N, y, ldy, bias_, ep, act, xVec && K % 8 == 0, st);
    case Kind::BF16:
      return stream(WBF16{static_cast<const __nv_bfloat16*>(weights_), K}, x, ldx, M, K, N, y, ldy, bias_, ep, act, xVec && K % 8 == 0, st);
    case Kind::Q8:
      return stream(WQ8{static_cast<const int8_t*>(weights_), scale_, K}, x, ldx, M, K, N, y, ldy, bias_, ep, act, xVec && K % 16 == 0, st);
    case Kind::Q4:
      return stream(WQ4{static_cast<const uint8_t*>(weights_), scale_, zero_, (K + 1) / 2, groupSize_, groups_}, x, ldx, M, K,
                    N, y, ldy, bias_, ep, act, xVec && K % 32 == 0 && groupSize_ % 32 == 0, st);
    case Kind::Q8A8: {
      auto* xq = static_cast<int8_t*>(ctx_.scratch->scratch(ScratchSource::kInput, static_cast<std::size_t>(M) * kp_));
      auto* xs = static_cast<float*>(ctx_.scratch->scratch(ScratchSource::kScales, static_cast<std::size_t>(M) * 4));
      quantizeRowsInt8(x, ldx, M, K, kp_, reinterpret_cast<signed char*>(xq), xs, st);
      const auto* wq = static_cast<const int8_t*>(weights_);
      const dim3 grid(ceilDiv(N, kWarps * kColumns), ceilDiv(M, 8));
      if (M == 1)
        stream8x8Kernel<1><<<dim3(grid.x, M), kWarps * 32, 0, st>>>(wq, scale_, xq, xs, kp_, M, N, y, ldy, bias_, ep, act);
      else if (M <= 4)
        stream8x8Kernel<4><<<dim3(grid.x, ceilDiv(M, 4)), kWarps * 32, 0, st>>>(wq, scale_, xq, xs, kp_, M, N, y, ldy, bias_, ep, act);
      else
        stream8x8Kernel<8><<<grid, kWarps * 32, 0, st>>>(wq, scale_, xq, xs, kp_, M, N, y, ldy, bias_, ep, act);
      GLOSSA_CUDA_LAUNCHED();
      return;
    }
  }
}

void CudaLinear::library(const float* x, int ldx, int M, float* y, int ldy, Epilogue ep, Activation act, float* tmp,
                         HalfOut yh) const {
  cudaStream_t st = ctx_.stream;
  const int K = in_, N = out_;
  // The GEMM writes r without bias into acc; the epilogue adds bias and applies Store / Add / Act into y.
  float* acc = ep == Epilogue::Add ? tmp : y;
  int ldAcc = ep == Epilogue::Add ? N : ldy;
  if (acc == nullptr) {
    acc = static_cast<float*>(ctx_.scratch->scratch(ScratchSource::kAcc, static_cast<std::size_t>(M) * N * 4));
    ldAcc = N;
  }
  const float one = 1.f, zero = 0.f;
  if (kind_ == Kind::Q8A8) {
    if (imma_ && N % 4 == 0) {
      auto* xq = static_cast<int8_t*>(ctx_.scratch->scratch(ScratchSource::kInput, static_cast<std::size_t>(M) * kp_));
      auto* xs = static_cast<float*>(ctx_.scratch->scratch(ScratchSource::kScales, static_cast<std::size_t>(M) * 4));
      auto* acc32 = static_cast<int*>(ctx_.scratch->scratch(ScratchSource::kAcc, static_cast<std::size_t>(M) * N * 4));
      quantizeRowsInt8(x, ldx, M, K, kp_, reinterpret_cast<signed char*>(xq), xs, st);
      const int ione = 1, izero = 0;
      try {
        ctx_.cublas->gemm(kOpT, kOpN, N, M, kp_, &ione, weights_, CUDA_R_8I, kp_, xq, CUDA_R_8I, kp_, &izero, acc32,
                          CUDA_R_32I, N, kCompute32I);
      } catch (const std::exception&) {
        imma_ = false;  // this shape has no int8 GEMM here: dp4a streaming from now on
        return streaming(x, ldx, M, y, ldy, ep, act);
      }
      int8Epilogue(acc32, N, xs, scale_, y, ldy, M, N, bias_, ep, act, st);  // (no 16-bit copy: none asked at W8A8)
      return;
    }
    return streaming(x, ldx, M, y, ldy, ep, act);
  }
  // Padded rows: the GEMM computes all outPad_ rows. In place when the caller's rows are that wide and nothing but
  // the bias is added (the LM head's logits, whose stride is preferredOutputStride()); else into scratch, and the
  // epilogue keeps the first N.
  const bool padRows = outPad_ > N;
  const bool inPlace = padRows && ldy >= outPad_ && ep == Epilogue::Store && yh.f16 == nullptr && yh.bf16 == nullptr;
  const bool padded = padRows && !inPlace;
  const int Nm = padRows ? outPad_ : N;
  if (padded) {
    acc = static_cast<float*>(ctx_.scratch->scratch(ScratchSource::kAcc, static_cast<std::size_t>(M) * Nm * 4));
    ldAcc = Nm;
  }
  // Store without bias and without a copy: the GEMM writes y directly.
  const bool plain = !padded && ep == Epilogue::Store && bias_ == nullptr && yh.f16 == nullptr && yh.bf16 == nullptr && acc == y;
  if (kind_ == Kind::F32) {
    ctx_.cublas->gemm(kOpT, kOpN, Nm, M, K, &one, weights_, CUDA_R_32F, K, x, CUDA_R_32F, ldx, &zero, acc, CUDA_R_32F,
                      ldAcc, kCompute32FPedantic);
    if (!plain) linearEpilogue(acc, ldAcc, y, ldy, M, N, bias_, ep, act, yh, st);
    return;
  }
  const void* wMat = weights_;
  cudaDataType wType = kind_ == Kind::BF16 ? CUDA_R_16BF : CUDA_R_16F;
  if (kind_ == Kind::Q8 || kind_ == Kind::Q4) {
    auto* wh = static_cast<__half*>(ctx_.scratch->scratch(ScratchSource::kWeights, static_cast<std::size_t>(N) * K * 2));
    if (kind_ == Kind::Q8)
      dequantWith(WQ8{static_cast<const int8_t*>(weights_), scale_, K}, N, K, wh, st);
    else
      dequantWith(WQ4{static_cast<const uint8_t*>(weights_), scale_, zero_, (K + 1) / 2, groupSize_, groups_}, N, K, wh, st);
    wMat = wh;
    wType = CUDA_R_16F;
  }
  // The input in the GEMM's type: the producer's 16-bit copy when it left one, else a conversion pass.
  const void* xh = ctx_.scratch->shadowFor(x, ldx, M, K, wType == CUDA_R_16BF ? ElemType::BF16 : ElemType::F16);
  if (xh == nullptr) {
    void* buf = ctx_.scratch->scratch(ScratchSource::kInput, static_cast<std::size_t>(M) * K * 2);
    if (wType == CUDA_R_16BF)
      convertRows(x, ldx, M, K, static_cast<__nv_bfloat16*>(buf), st);
    else
      convertRows(x, ldx, M, K, static_cast<__half*>(buf), st);
    xh = buf;
  }
  // One kernel where cuBLASLt's bias epilogue does the rest: Store (y = r) and Add (y += r, beta 1).
  if (lt_ && ctx_.cublas->hasLt() && !padded && bias_ != nullptr && (ep == Epilogue::Store || ep == Epilogue::Add) &&
      yh.f16 == nullptr && yh.bf16 == nullptr) {
    try {
      ctx_.cublas->ltGemmBias(kOpT, kOpN, inPlace ? Nm : N, M, K, wMat, wType, K, xh, wType, K, ep == Epilogue::Add ? 1.f : 0.f,
                              y, ldy, bias_, st);
      return;
    } catch (const std::exception&) {
      lt_ = false;  // not for this layer: GEMM + epilogue kernel from now on
    }
  }
  const int Ng = (kind_ == Kind::Q8 || kind_ == Kind::Q4) ? N : Nm;
  ctx_.cublas->gemm(kOpT, kOpN, Ng, M, K, &one, wMat, wType, K, xh, wType, K, &zero, acc, CUDA_R_32F, ldAcc, kCompute32F);
  if (!plain) linearEpilogue(acc, ldAcc, y, ldy, M, N, bias_, ep, act, yh, st);
}

}  // namespace cuda
}  // namespace glossa
