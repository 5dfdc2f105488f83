// AVX2 kernels for quantized Linear layers: W8A8 and W4A8 with maddubs (exact int32 sums), and W8A16, W4A16 and
// F16 with the same per-element operation sequence as the AVX-512 kernels (FMA chains over k in order), so the
// AVX2 and AVX-512 tables give the same bits. Activation quantization is the portable one.
#include "quant/quant_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace glossa {
namespace quantdetail {

namespace {

constexpr int kW8 = 8;  // floats per ymm; a 16-column panel is two ymm halves

inline int imin2(int a, int b) { return a < b ? a : b; }

inline __m256i maskFor(int cols) {  // lanes < cols set
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), idx);
}
inline __m256 loadN(const float* p, int n) {
  if (n >= kW8) return _mm256_loadu_ps(p);
  if (n <= 0) return _mm256_setzero_ps();
  return _mm256_maskload_ps(p, maskFor(n));
}
inline void storeN(float* p, __m256 v, int n) {
  if (n >= kW8) _mm256_storeu_ps(p, v);
  else if (n > 0) _mm256_maskstore_ps(p, maskFor(n), v);
}

// ---- W8A16: acc = fma(x, w, acc) over k, y = fma(acc, scale, bias) ----
template <int R>
void q8Tile(const float* x, int ldx, int K, const std::int8_t* b, const float* scale, const float* bias, float* y, int ldy,
            int cols, int col0) {
  __m256 acc[R][2];
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int k = 0; k < K; ++k) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + static_cast<std::size_t>(k) * 16));
    const __m256 w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw));
    const __m256 w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(raw, 8)));
    for (int i = 0; i < R; ++i) {
      const __m256 a = _mm256_set1_ps(x[static_cast<std::size_t>(i) * ldx + k]);
      acc[i][0] = _mm256_fmadd_ps(a, w0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, w1, acc[i][1]);
    }
  }
  for (int h = 0; h < 2; ++h) {
    const int n = cols - h * kW8;
    const __m256 s = loadN(scale + col0 + h * kW8, n);
    const __m256 bv = bias ? loadN(bias + col0 + h * kW8, n) : _mm256_setzero_ps();
    for (int i = 0; i < R; ++i) storeN(y + static_cast<std::size_t>(i) * ldy + col0 + h * kW8, _mm256_fmadd_ps(acc[i][h], s, bv), n);
  }
}

void gemmQ8(const float* x, int ldx, int M, int K, const std::int8_t* packed, const float* scale, const float* bias,
            float* y, int ldy, int N, int p0, int p1) {
  for (int p = p0; p < p1; ++p) {
    const std::int8_t* b = packed + static_cast<std::size_t>(p) * K * 16;
    const int col0 = p * 16, cols = imin2(16, N - col0);
    for (int m0 = 0; m0 < M; m0 += 4) {
      const float* xm = x + static_cast<std::size_t>(m0) * ldx;
      float* ym = y + static_cast<std::size_t>(m0) * ldy;
      switch (imin2(4, M - m0)) {
        case 4: q8Tile<4>(xm, ldx, K, b, scale, bias, ym, ldy, cols, col0); break;
        case 3: q8Tile<3>(xm, ldx, K, b, scale, bias, ym, ldy, cols, col0); break;
        case 2: q8Tile<2>(xm, ldx, K, b, scale, bias, ym, ldy, cols, col0); break;
        default: q8Tile<1>(xm, ldx, K, b, scale, bias, ym, ldy, cols, col0); break;
      }
    }
  }
}

// ---- F16: acc = fma(x, w, acc) over k, y = acc + bias ----
template <int R>
void f16Tile(const float* x, int ldx, int K, const std::uint16_t* b, const float* bias, float* y, int ldy, int cols, int col0) {
  __m256 acc[R][2];
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int k = 0; k < K; ++k) {
    const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + static_cast<std::size_t>(k) * 16)));
    const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + static_cast<std::size_t>(k) * 16 + 8)));
    for (int i = 0; i < R; ++i) {
      const __m256 a = _mm256_set1_ps(x[static_cast<std::size_t>(i) * ldx + k]);
      acc[i][0] = _mm256_fmadd_ps(a, w0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, w1, acc[i][1]);
    }
  }
  for (int h = 0; h < 2; ++h) {
    const int n = cols - h * kW8;
    const __m256 bv = bias ? loadN(bias + col0 + h * kW8, n) : _mm256_setzero_ps();
    for (int i = 0; i < R; ++i) storeN(y + static_cast<std::size_t>(i) * ldy + col0 + h * kW8, _mm256_add_ps(acc[i][h], bv), n);
  }
}

void gemmF16(const float* x, int ldx, int M, int K, const std::uint16_t* packed, const float* bias, float* y, int ldy, int N,
             int p0, int p1) {
  for (int p = p0; p < p1; ++p) {
    const std::uint16_t* b = packed + static_cast<std::size_t>(p) * K * 16;
    const int col0 = p * 16, cols = imin2(16, N - col0);
    for (int m0 = 0; m0 < M; m0 += 4) {
      const float* xm = x + static_cast<std::size_t>(m0) * ldx;
      float* ym = y + static_cast<std::size_t>(m0) * ldy;
      switch (imin2(4, M - m0)) {
        case 4: f16Tile<4>(xm, ldx, K, b, bias, ym, ldy, cols, col0); break;
        case 3: f16Tile<3>(xm, ldx, K, b, bias, ym, ldy, cols, col0); break;
        case 2: f16Tile<2>(xm, ldx, K, b, bias, ym, ldy, cols, col0); break;
        default: f16Tile<1>(xm, ldx, K, b, bias, ym, ldy, cols, col0); break;
      }
    }
  }
}

// ---- W4A16: per group even/odd k chains lo/hi, acc = lo + hi, out = fma(s, acc - z * groupSum, out); y = out + bias ----
template <int R>
void q4Tile(const float* x, int ldx, int K, int G, int groups, const std::uint8_t* b, const float* sP, const float* zP,
            const float* gsum, const float* bias, float* y, int ldy, int cols, int col0) {
  __m256 out[R][2];
  for (int i = 0; i < R; ++i) out[i][0] = out[i][1] = _mm256_setzero_ps();
  const __m256i low = _mm256_set1_epi32(15);
  for (int g = 0; g < groups; ++g) {
    __m256 lo[R][2], hi[R][2];
    for (int i = 0; i < R; ++i) lo[i][0] = lo[i][1] = hi[i][0] = hi[i][1] = _mm256_setzero_ps();
    const int kb = g * G, ke = imin2(K, kb + G);
    int k = kb;
    for (; k < ke; k += 2) {
      const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + static_cast<std::size_t>(k / 2) * 16));
      const __m256i v0 = _mm256_cvtepu8_epi32(raw), v1 = _mm256_cvtepu8_epi32(_mm_srli_si128(raw, 8));
      const __m256 l0 = _mm256_cvtepi32_ps(_mm256_and_si256(v0, low)), l1 = _mm256_cvtepi32_ps(_mm256_and_si256(v1, low));
      const bool pair = k + 1 < ke;
      const __m256 h0 = _mm256_cvtepi32_ps(_mm256_srli_epi32(v0, 4)), h1 = _mm256_cvtepi32_ps(_mm256_srli_epi32(v1, 4));
      for (int i = 0; i < R; ++i) {
        const __m256 a0 = _mm256_set1_ps(x[static_cast<std::size_t>(i) * ldx + k]);
        lo[i][0] = _mm256_fmadd_ps(a0, l0, lo[i][0]);
        lo[i][1] = _mm256_fmadd_ps(a0, l1, lo[i][1]);
        if (pair) {
          const __m256 a1 = _mm256_set1_ps(x[static_cast<std::size_t>(i) * ldx + k + 1]);
          hi[i][0] = _mm256_fmadd_ps(a1, h0, hi[i][0]);
          hi[i][1] = _mm256_fmadd_ps(a1, h1, hi[i][1]);
        }
      }
    }
    for (int h = 0; h < 2; ++h) {
      const __m256 s = _mm256_loadu_ps(sP + static_cast<std::size_t>(g) * 16 + h * kW8);
      const __m256 z = _mm256_loadu_ps(zP + static_cast<std::size_t>(g) * 16 + h * kW8);
      for (int i = 0; i < R; ++i) {
        const __m256 acc = _mm256_add_ps(lo[i][h], hi[i][h]);
        const __m256 gs = _mm256_set1_ps(gsum[static_cast<std::size_t>(i) * groups + g]);
        out[i][h] = _mm256_fmadd_ps(s, _mm256_fnmadd_ps(z, gs, acc), out[i][h]);
      }
    }
  }
  for (int h = 0; h < 2; ++h) {
    const int n = cols - h * kW8;
    const __m256 bv = bias ? loadN(bias + col0 + h * kW8, n) : _mm256_setzero_ps();
    for (int i = 0; i < R; ++i) storeN(y + static_cast<std::size_t>(i) * ldy + col0 + h * kW8, _mm256_add_ps(out[i][h], bv), n);
  }
}

void gemmQ4(const float* x, int ldx, int M, int K, int G, int groups, const std::uint8_t* packed, const float* scales,
            const float* zeros, const float* groupSums, const float* bias, float* y, int ldy, int N, int p0, int p1) {
  const std::size_t stride = static_cast<std::size_t>((K + 1) / 2) * 16;
  const std::size_t sStride = static_cast<std::size_t>(groups) * 16;
  for (int p = p0; p < p1; ++p) {
    const std::uint8_t* b = packed + static_cast<std::size_t>(p) * stride;
    const float* sP = scales + static_cast<std::size_t>(p) * sStride;
    const float* zP = zeros + static_cast<std::size_t>(p) * sStride;
    const int col0 = p * 16, cols = imin2(16, N - col0);
    for (int m0 = 0; m0 < M; m0 += 2) {
      const float* xm = x + static_cast<std::size_t>(m0) * ldx;
      const float* gs = groupSums + static_cast<std::size_t>(m0) * groups;
      float* ym = y + static_cast<std::size_t>(m0) * ldy;
      if (M - m0 >= 2)
        q4Tile<2>(xm, ldx, K, G, groups, b, sP, zP, gs, bias, ym, ldy, cols, col0);
      else
        q4Tile<1>(xm, ldx, K, G, groups, b, sP, zP, gs, bias, ym, ldy, cols, col0);
    }
  }
}

}  // namespace

// ---- W4A8 with maddubs: u8 nibble codes x int8 activations; int16 pair sums are at most 4 * 15 * 127 ----
void avx2GemmQ4A8(const std::int8_t* xq, const float* xScale, const std::int32_t* xGroupSum, int M, int Kp, int G, int groups,
                  const std::uint8_t* packed, const float* scales, const std::int32_t* zeros, const float* bias, float* y,
                  int ldy, int N, int p0, int p1) {
  const int K8 = Kp / 8, G8 = G / 8;
  const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  for (int p = p0; p < p1; ++p) {
    const std::uint8_t* b = packed + static_cast<std::size_t>(p) * K8 * 64;
    const float* sP = scales + static_cast<std::size_t>(p) * groups * 16;
    const std::int32_t* zP = zeros + static_cast<std::size_t>(p) * groups * 16;
    const int col0 = p * 16, cols = imin2(16, N - col0);
    for (int m = 0; m < M; ++m) {
      const std::int8_t* xr = xq + static_cast<std::size_t>(m) * Kp;
      __m256 out0 = _mm256_setzero_ps(), out1 = _mm256_setzero_ps();
      for (int g = 0; g < groups; ++g) {
        __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
        const int e8 = imin2(K8, (g + 1) * G8);
        for (int k8 = g * G8; k8 < e8; ++k8) {
          const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + static_cast<std::size_t>(k8) * 64));
          const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + static_cast<std::size_t>(k8) * 64 + 32));
          std::int32_t x0, x1;
          __builtin_memcpy(&x0, xr + 8 * k8, 4);
          __builtin_memcpy(&x1, xr + 8 * k8 + 4, 4);
          const __m256i a0 = _mm256_set1_epi32(x0), a1 = _mm256_set1_epi32(x1);
          const __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(v0, low), a0),
                                              _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v0, 4), low), a1));
          const __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_and_si256(v1, low), a0),
                                              _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v1, 4), low), a1));
          acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(s0, ones));
          acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(s1, ones));
        }
        const __m256i gs = _mm256_set1_epi32(xGroupSum[static_cast<std::size_t>(m) * groups + g]);
        const float* sg = sP + static_cast<std::size_t>(g) * 16;
        const std::int32_t* zg = zP + static_cast<std::size_t>(g) * 16;
        const __m256i t0 = _mm256_sub_epi32(acc0, _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(zg)), gs));
        const __m256i t1 = _mm256_sub_epi32(acc1, _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(zg + 8)), gs));
        out0 = _mm256_fmadd_ps(_mm256_loadu_ps(sg), _mm256_cvtepi32_ps(t0), out0);
        out1 = _mm256_fmadd_ps(_mm256_loadu_ps(sg + 8), _mm256_cvtepi32_ps(t1), out1);
      }
      const __m256 xs = _mm256_set1_ps(xScale[m]);
      float* o = y + static_cast<std::size_t>(m) * ldy + col0;
      const __m256 b0 = bias ? loadN(bias + col0, cols) : _mm256_setzero_ps();
      const __m256 b1 = bias ? loadN(bias + col0 + 8, cols - 8) : _mm256_setzero_ps();
      storeN(o, _mm256_fmadd_ps(out0, xs, b0), cols);
      storeN(o + 8, _mm256_fmadd_ps(out1, xs, b1), cols - 8);
    }
  }
}

void avx2GemmQ8A8(const std::int8_t* xq, const float* xScale, int M, int Kp, const std::int8_t* packed,
                  const std::int32_t* colSum, const float* scale, const float* bias, float* y, int ldy, int N, int p0,
                  int p1) {
  (void)colSum;
  constexpr int kW = 16;
  const int K4 = Kp / 4;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int p = p0; p < p1; ++p) {
    const std::int8_t* b = packed + static_cast<std::size_t>(p) * K4 * kW * 4;
    const int col0 = p * kW, cols = N - col0 < kW ? N - col0 : kW;
    for (int m = 0; m < M; ++m) {
      __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
      const std::int8_t* xr = xq + static_cast<std::size_t>(m) * Kp;
      for (int k4 = 0; k4 < K4; ++k4) {
        std::int32_t x4;
        __builtin_memcpy(&x4, xr + k4 * 4, 4);
        const __m256i a = _mm256_set1_epi32(x4);
        const __m256i absA = _mm256_sign_epi8(a, a);
        const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + static_cast<std::size_t>(k4) * 64));
        const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + static_cast<std::size_t>(k4) * 64 + 32));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_maddubs_epi16(absA, _mm256_sign_epi8(w0, a)), ones));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_maddubs_epi16(absA, _mm256_sign_epi8(w1, a)), ones));
      }
      alignas(32) std::int32_t lanes[16];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc0);
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes + 8), acc1);
      float* out = y + static_cast<std::size_t>(m) * ldy + col0;
      for (int j = 0; j < cols; ++j)
        out[j] = __builtin_fmaf(static_cast<float>(lanes[j]), xScale[m] * scale[col0 + j], bias ? bias[col0 + j] : 0.f);
    }
  }
}

}  // namespace quantdetail
}  // namespace glossa
#pragma GCC pop_options

namespace glossa {
namespace {
const QuantKernelTable kAvx2{"avx2", genericQuantKernels().quantizeRows, quantdetail::gemmQ8, quantdetail::avx2GemmQ8A8,
                             quantdetail::gemmQ4, quantdetail::avx2GemmQ4A8, quantdetail::gemmF16};
}
const QuantKernelTable& avx2QuantKernels() { return kAvx2; }
}  // namespace glossa
#else
namespace glossa {
namespace quantdetail {
void avx2GemmQ8A8(const std::int8_t* xq, const float* xScale, int M, int Kp, const std::int8_t* packed,
                  const std::int32_t* colSum, const float* scale, const float* bias, float* y, int ldy, int N, int p0,
                  int p1) {
  genericQuantKernels().gemmQ8A8(xq, xScale, M, Kp, packed, colSum, scale, bias, y, ldy, N, p0, p1);
}
void avx2GemmQ4A8(const std::int8_t* xq, const float* xScale, const std::int32_t* xGroupSum, int M, int Kp, int G, int groups,
                  const std::uint8_t* packed, const float* scales, const std::int32_t* zeros, const float* bias, float* y,
                  int ldy, int N, int p0, int p1) {
  genericQuantKernels().gemmQ4A8(xq, xScale, xGroupSum, M, Kp, G, groups, packed, scales, zeros, bias, y, ldy, N, p0, p1);
}
}  // namespace quantdetail
const QuantKernelTable& avx2QuantKernels() { return genericQuantKernels(); }
}  // namespace glossa
#endif
