// AVX2 kernels for quantized Linear layers: W8A8 and W4A8 with maddubs (exact int32 sums), and W8A16, W4A16 and
// F16 with the same per-element operation sequence as the AVX-512 kernels (FMA chains over k in order), so the
// AVX2 and AVX-512 tables give the same bits. Activation quantization gives the portable function's bytes.
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

// Tiles are instantiated per row count: forRowBlocks calls tile(Rows<R>{}, m0) for each block of up to 4 rows
// (R rows from m0), so every driver picks its tile height the same way.
template <int R>
struct Rows {
  static constexpr int value = R;
};
template <typename Tile>
void forRowBlocks(int M, Tile&& tile) {
  for (int m0 = 0; m0 < M; m0 += 4) {
    switch (imin2(4, M - m0)) {
      case 4: tile(Rows<4>{}, m0); break;
      case 3: tile(Rows<3>{}, m0); break;
      case 2: tile(Rows<2>{}, m0); break;
      default: tile(Rows<1>{}, m0); break;
    }
  }
}

// ---- Per-token activation quantization: the portable function's bytes (IEEE mul, round half to even) ----
inline float maxLane(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

void quantizeRows(const float* x, int ldx, int M, int K, int Kp, std::int8_t* xq, float* xScale) {
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i hi = _mm256_set1_epi32(127), lo = _mm256_set1_epi32(-127);
  for (int m = 0; m < M; ++m) {
    const float* r = x + static_cast<std::size_t>(m) * ldx;
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < K; k += kW8) amax = _mm256_max_ps(amax, _mm256_and_ps(loadN(r + k, K - k), absMask));
    const float a = maxLane(amax);
    const float s = a > 0.f ? a / 127.f : 1.f;
    const __m256 inv = _mm256_set1_ps(1.f / s);
    xScale[m] = s;
    std::int8_t* q = xq + static_cast<std::size_t>(m) * Kp;
    int k = 0;
    for (; k + 2 * kW8 <= K; k += 2 * kW8) {
      // cvtps_epi32 rounds half to even (MXCSR default), as nearbyint does; then clamp to +-127 and pack.
      const __m256i v0 = _mm256_max_epi32(_mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k), inv)), hi), lo);
      const __m256i v1 = _mm256_max_epi32(_mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(r + k + kW8), inv)), hi), lo);
      const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);  // 16 int16 in order
      const __m128i b = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k), b);
    }
    for (; k < K; ++k) {
      const float v = static_cast<float>(_mm_cvtss_si32(_mm_set_ss(r[k] * _mm256_cvtss_f32(inv))));
      q[k] = static_cast<std::int8_t>(v > 127.f ? 127.f : (v < -127.f ? -127.f : v));
    }
    for (k = K; k < Kp; ++k) q[k] = 0;
  }
}

// ---- W8A16 and F16: float activations, acc = fma(x, w, acc) over k, y = fma(acc, scale, bias) ----
// The two differ only in how 16 weights of a panel row become floats and in the per-column scale (W8A16: the
// channel scales; F16: 1, where fma(acc, 1, bias) = acc + bias exactly). A tile is R rows x P panels of 16
// columns; every output is one FMA chain over k in order (the AVX-512 kernels' sequence, whatever R and P are).
// P > 1 for few rows gives the core more independent chains than the two a single row of one panel has, which
// at batch 1 (the LM head) left it waiting on FMA latency.
struct Q8Weights {
  using Code = std::int8_t;
  const float* scale;
  static void load(const Code* p, __m256 (&w)[2]) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    w[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw));
    w[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(raw, 8)));
  }
  __m256 columnScale(int c, int n) const { return loadN(scale + c, n); }
};
struct F16Weights {
  using Code = std::uint16_t;
  static void load(const Code* p, __m256 (&w)[2]) {
    w[0] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    w[1] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8)));
  }
  __m256 columnScale(int, int) const { return _mm256_set1_ps(1.f); }
};

// Not inlined into the driver: as its own function the tile keeps its pointers and counters in registers (inlined
// into gemmFloatActs's lambda, GCC's inner loop of the 1-row tile reloaded them and three weight vectors from the
// stack every k).
template <int R, int P, typename W>
__attribute__((noinline)) void floatActTile(const W& wv, const float* x, int ldx, int K, const typename W::Code* b, std::size_t stride,
                  const float* bias, float* y, int ldy, int N, int col0) {
  __m256 acc[R][P][2];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < P; ++j) acc[i][j][0] = acc[i][j][1] = _mm256_setzero_ps();
  for (int k = 0; k < K; ++k) {
    __m256 w[P][2];
    for (int j = 0; j < P; ++j) W::load(b + j * stride + static_cast<std::size_t>(k) * 16, w[j]);
    for (int i = 0; i < R; ++i) {
      const __m256 a = _mm256_set1_ps(x[static_cast<std::size_t>(i) * ldx + k]);
      for (int j = 0; j < P; ++j) {
        acc[i][j][0] = _mm256_fmadd_ps(a, w[j][0], acc[i][j][0]);
        acc[i][j][1] = _mm256_fmadd_ps(a, w[j][1], acc[i][j][1]);
      }
    }
  }
  for (int j = 0; j < P; ++j) {
    const int c0 = col0 + 16 * j, cols = imin2(16, N - c0);
    for (int h = 0; h < 2; ++h) {
      const int n = cols - h * kW8;
      const __m256 sv = wv.columnScale(c0 + h * kW8, n);
      const __m256 bv = bias ? loadN(bias + c0 + h * kW8, n) : _mm256_setzero_ps();
      for (int i = 0; i < R; ++i)
        storeN(y + static_cast<std::size_t>(i) * ldy + c0 + h * kW8, _mm256_fmadd_ps(acc[i][j][h], sv, bv), n);
    }
  }
}

template <typename W>
void gemmFloatActs(const W& wv, const float* x, int ldx, int M, int K, const typename W::Code* packed, const float* bias,
                   float* y, int ldy, int N, int p0, int p1) {
  const std::size_t stride = static_cast<std::size_t>(K) * 16;
  forRowBlocks(M, [&](auto rows, int m0) {
    constexpr int R = decltype(rows)::value;
    constexpr int P = R == 1 ? 4 : R == 2 ? 2 : 1;  // 8 accumulator chains where the rows allow
    const float* xm = x + static_cast<std::size_t>(m0) * ldx;
    float* ym = y + static_cast<std::size_t>(m0) * ldy;
    int p = p0;
    for (; p + P <= p1; p += P) floatActTile<R, P>(wv, xm, ldx, K, packed + p * stride, stride, bias, ym, ldy, N, p * 16);
    for (; p < p1; ++p) floatActTile<R, 1>(wv, xm, ldx, K, packed + p * stride, stride, bias, ym, ldy, N, p * 16);
  });
}

void gemmQ8(const float* x, int ldx, int M, int K, const std::int8_t* packed, const float* scale, const float* bias,
            float* y, int ldy, int N, int p0, int p1) {
  gemmFloatActs(Q8Weights{scale}, x, ldx, M, K, packed, bias, y, ldy, N, p0, p1);
}

void gemmF16(const float* x, int ldx, int M, int K, const std::uint16_t* packed, const float* bias, float* y, int ldy, int N,
             int p0, int p1) {
  gemmFloatActs(F16Weights{}, x, ldx, M, K, packed, bias, y, ldy, N, p0, p1);
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
namespace {

// W4A8 tile: R rows x one 16-column panel. The nibbles of each k8 step are unpacked once for the R rows. Per
// group the exact int32 sums minus the zero-point term go into out = fma(s, float(.), out), then
// y = fma(out, xScale, bias): the per-element sequence of the portable kernel, whatever R is.
template <int R>
void q4a8Tile(const std::int8_t* xq, const float* xScale, const std::int32_t* xGroupSum, int Kp, int G, int groups,
              const std::uint8_t* b, const float* sP, const std::int32_t* zP, const float* bias, float* y, int ldy,
              int cols, int col0) {
  const int K8 = Kp / 8, G8 = G / 8;
  const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  __m256 out[R][2];
  for (int i = 0; i < R; ++i) out[i][0] = out[i][1] = _mm256_setzero_ps();
  for (int g = 0; g < groups; ++g) {
    __m256i acc[R][2];
    for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    const int e8 = imin2(K8, (g + 1) * G8);
    for (int k8 = g * G8; k8 < e8; ++k8) {
      const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + static_cast<std::size_t>(k8) * 64));
      const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + static_cast<std::size_t>(k8) * 64 + 32));
      const __m256i l0 = _mm256_and_si256(v0, low), h0 = _mm256_and_si256(_mm256_srli_epi16(v0, 4), low);
      const __m256i l1 = _mm256_and_si256(v1, low), h1 = _mm256_and_si256(_mm256_srli_epi16(v1, 4), low);
      for (int i = 0; i < R; ++i) {
        std::int32_t x0, x1;
        __builtin_memcpy(&x0, xq + static_cast<std::size_t>(i) * Kp + 8 * k8, 4);
        __builtin_memcpy(&x1, xq + static_cast<std::size_t>(i) * Kp + 8 * k8 + 4, 4);
        const __m256i a0 = _mm256_set1_epi32(x0), a1 = _mm256_set1_epi32(x1);
        const __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(l0, a0), _mm256_maddubs_epi16(h0, a1));
        const __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(l1, a0), _mm256_maddubs_epi16(h1, a1));
        acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(s0, ones));
        acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(s1, ones));
      }
    }
    const float* sg = sP + static_cast<std::size_t>(g) * 16;
    const std::int32_t* zg = zP + static_cast<std::size_t>(g) * 16;
    const __m256i z0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zg));
    const __m256i z1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zg + 8));
    const __m256 sc0 = _mm256_loadu_ps(sg), sc1 = _mm256_loadu_ps(sg + 8);
    for (int i = 0; i < R; ++i) {
      const __m256i gs = _mm256_set1_epi32(xGroupSum[static_cast<std::size_t>(i) * groups + g]);
      out[i][0] = _mm256_fmadd_ps(sc0, _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[i][0], _mm256_mullo_epi32(z0, gs))), out[i][0]);
      out[i][1] = _mm256_fmadd_ps(sc1, _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[i][1], _mm256_mullo_epi32(z1, gs))), out[i][1]);
    }
  }
  const __m256 b0 = bias ? loadN(bias + col0, cols) : _mm256_setzero_ps();
  const __m256 b1 = bias ? loadN(bias + col0 + 8, cols - 8) : _mm256_setzero_ps();
  for (int i = 0; i < R; ++i) {
    const __m256 xs = _mm256_set1_ps(xScale[i]);
    float* o = y + static_cast<std::size_t>(i) * ldy + col0;
    storeN(o, _mm256_fmadd_ps(out[i][0], xs, b0), cols);
    storeN(o + 8, _mm256_fmadd_ps(out[i][1], xs, b1), cols - 8);
  }
}

}  // namespace

void avx2GemmQ4A8(const std::int8_t* xq, const float* xScale, const std::int32_t* xGroupSum, int M, int Kp, int G, int groups,
                  const std::uint8_t* packed, const float* scales, const std::int32_t* zeros, const float* bias, float* y,
                  int ldy, int N, int p0, int p1) {
  const int K8 = Kp / 8;
  for (int p = p0; p < p1; ++p) {
    const std::uint8_t* b = packed + static_cast<std::size_t>(p) * K8 * 64;
    const float* sP = scales + static_cast<std::size_t>(p) * groups * 16;
    const std::int32_t* zP = zeros + static_cast<std::size_t>(p) * groups * 16;
    const int col0 = p * 16, cols = imin2(16, N - col0);
    forRowBlocks(M, [&](auto rows, int m0) {
      q4a8Tile<decltype(rows)::value>(xq + static_cast<std::size_t>(m0) * Kp, xScale + m0,
                                      xGroupSum + static_cast<std::size_t>(m0) * groups, Kp, G, groups, b, sP, zP, bias,
                                      y + static_cast<std::size_t>(m0) * ldy, ldy, cols, col0);
    });
  }
}

namespace {

// W8A8 tile: R rows x one 16-column panel. The weights of each k4 step are loaded once for the R rows, with their
// absolute values; per row, |w| x sign(a, w) through maddubs (u8 x s8; pair sums <= 2 * 127 * 127 fit int16) and madd with ones to int32.
// Each output's int32 sum is exact, so any row blocking gives the same sums; the epilogue is the portable one
// (fma(float(acc), xScale[m] * scale[n], bias[n])), eight columns at a time.
template <int R>
void q8a8Tile(const std::int8_t* xq, const float* xScale, int Kp, const std::int8_t* b, const float* scale,
              const float* bias, float* y, int ldy, int cols, int col0) {
  const int K4 = Kp / 4;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[R][2];
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  for (int k4 = 0; k4 < K4; ++k4) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + static_cast<std::size_t>(k4) * 64));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + static_cast<std::size_t>(k4) * 64 + 32));
    const __m256i absW0 = _mm256_sign_epi8(w0, w0), absW1 = _mm256_sign_epi8(w1, w1);
    for (int i = 0; i < R; ++i) {
      std::int32_t x4;
      __builtin_memcpy(&x4, xq + static_cast<std::size_t>(i) * Kp + k4 * 4, 4);
      const __m256i a = _mm256_set1_epi32(x4);
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(absW0, _mm256_sign_epi8(a, w0)), ones));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(absW1, _mm256_sign_epi8(a, w1)), ones));
    }
  }
  for (int h = 0; h < 2; ++h) {
    const int n = cols - h * kW8;
    if (n <= 0) break;
    const __m256 s = loadN(scale + col0 + h * kW8, n);
    const __m256 bv = bias ? loadN(bias + col0 + h * kW8, n) : _mm256_setzero_ps();
    for (int i = 0; i < R; ++i) {
      const __m256 rowScale = _mm256_mul_ps(_mm256_set1_ps(xScale[i]), s);
      storeN(y + static_cast<std::size_t>(i) * ldy + col0 + h * kW8,
             _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][h]), rowScale, bv), n);
    }
  }
}

}  // namespace

void avx2GemmQ8A8(const std::int8_t* xq, const float* xScale, int M, int Kp, const std::int8_t* packed,
                  const std::int32_t* colSum, const float* scale, const float* bias, float* y, int ldy, int N, int p0,
                  int p1) {
  (void)colSum;
  constexpr int kW = 16;
  const std::size_t panelBytes = static_cast<std::size_t>(Kp) * kW;
  for (int p = p0; p < p1; ++p) {
    const std::int8_t* b = packed + static_cast<std::size_t>(p) * panelBytes;
    const int col0 = p * kW, cols = imin2(kW, N - col0);
    forRowBlocks(M, [&](auto rows, int m0) {
      q8a8Tile<decltype(rows)::value>(xq + static_cast<std::size_t>(m0) * Kp, xScale + m0, Kp, b, scale, bias,
                                      y + static_cast<std::size_t>(m0) * ldy, ldy, cols, col0);
    });
  }
}

}  // namespace quantdetail
}  // namespace glossa
#pragma GCC pop_options

namespace glossa {
namespace {
const QuantKernelTable kAvx2{"avx2", quantdetail::quantizeRows, quantdetail::gemmQ8, quantdetail::avx2GemmQ8A8,
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
