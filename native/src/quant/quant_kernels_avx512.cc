// AVX-512 kernels for quantized Linear layers (this ISA only inside the push_options region).
#include "quant/quant_kernels.h"

namespace glossa {
namespace quantdetail {
void avx2GemmQ4A8(const std::int8_t* xq, const float* xScale, const std::int32_t* xGroupSum, int M, int Kp, int G, int groups,
                  const std::uint8_t* packed, const float* scales, const std::int32_t* zeros, const float* bias, float* y,
                  int ldy, int N, int p0, int p1);
void avx2GemmQ8A8(const std::int8_t* xq, const float* xScale, int M, int Kp, const std::int8_t* packed,
                  const std::int32_t* colSum, const float* scale, const float* bias, float* y, int ldy, int N,
                  int panelBegin, int panelEnd);
}  // namespace quantdetail
}  // namespace glossa

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")

namespace glossa {
namespace {

constexpr int kW = 16;
inline int imin(int a, int b) { return a < b ? a : b; }

inline void storeCols(float* out, __m512 v, int cols) {
  if (cols >= kW)
    _mm512_storeu_ps(out, v);
  else
    _mm512_mask_storeu_ps(out, static_cast<__mmask16>((1u << cols) - 1u), v);
}

inline __m512 loadCols(const float* p, int cols) {
  if (cols >= kW) return _mm512_loadu_ps(p);
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << cols) - 1u), p);
}

// ---- per-token int8 activations (the generic quantizeRows' arithmetic, 16 lanes at a time) ----
void quantizeRows(const float* x, int ldx, int M, int K, int Kp, std::int8_t* xq, float* xScale) {
  const __m512 absMask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  const __m512i hi = _mm512_set1_epi32(127), lo = _mm512_set1_epi32(-127);
  for (int m = 0; m < M; ++m) {
    const float* r = x + static_cast<std::size_t>(m) * ldx;
    __m512 amax = _mm512_setzero_ps();
    int k = 0;
    for (; k + kW <= K; k += kW) amax = _mm512_max_ps(amax, _mm512_and_ps(_mm512_loadu_ps(r + k), absMask));
    if (k < K) amax = _mm512_max_ps(amax, _mm512_and_ps(loadCols(r + k, K - k), absMask));
    const float a = _mm512_reduce_max_ps(amax);
    const float s = a > 0.f ? a / 127.f : 1.f;
    const __m512 inv = _mm512_set1_ps(1.f / s);
    xScale[m] = s;
    std::int8_t* q = xq + static_cast<std::size_t>(m) * Kp;
    for (k = 0; k < K; k += kW) {
      const int n = imin(kW, K - k);
      // cvtps_epi32 rounds half to even (MXCSR default), as nearbyint does.
      __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(loadCols(r + k, n), inv));
      v = _mm512_max_epi32(_mm512_min_epi32(v, hi), lo);
      _mm_mask_storeu_epi8(q + k, static_cast<__mmask16>(n >= kW ? 0xffffu : (1u << n) - 1u), _mm512_cvtepi32_epi8(v));
    }
    for (k = K; k < Kp; ++k) q[k] = 0;
  }
}

// ---- W8A16 ----
template <int R, int P>
void q8Tile(const float* x, int ldx, int K, const std::int8_t* b, std::size_t stride, const float* scale,
            const float* bias, float* y, int ldy, int N, int col0) {
  __m512 acc[R][P];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < P; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int k = 0; k < K; ++k) {
    __m512 w[P];
    for (int j = 0; j < P; ++j)
      w[j] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + j * stride + static_cast<std::size_t>(k) * kW))));
    for (int i = 0; i < R; ++i) {
      const __m512 a = _mm512_set1_ps(x[static_cast<std::size_t>(i) * ldx + k]);
      for (int j = 0; j < P; ++j) acc[i][j] = _mm512_fmadd_ps(a, w[j], acc[i][j]);
    }
  }
  for (int j = 0; j < P; ++j) {
    const int c0 = col0 + j * kW, cols = imin(kW, N - c0);
    const __m512 s = loadCols(scale + c0, cols);
    const __m512 bv = bias ? loadCols(bias + c0, cols) : _mm512_setzero_ps();
    for (int i = 0; i < R; ++i)
      storeCols(y + static_cast<std::size_t>(i) * ldy + c0, _mm512_fmadd_ps(acc[i][j], s, bv), cols);
  }
}

template <int P>
void q8Rows(int rows, const float* x, int ldx, int K, const std::int8_t* b, std::size_t stride, const float* scale,
            const float* bias, float* y, int ldy, int N, int col0) {
  switch (rows) {
    case 4: q8Tile<4, P>(x, ldx, K, b, stride, scale, bias, y, ldy, N, col0); break;
    case 3: q8Tile<3, P>(x, ldx, K, b, stride, scale, bias, y, ldy, N, col0); break;
    case 2: q8Tile<2, P>(x, ldx, K, b, stride, scale, bias, y, ldy, N, col0); break;
    default: q8Tile<1, P>(x, ldx, K, b, stride, scale, bias, y, ldy, N, col0); break;
  }
}

void gemmQ8(const float* x, int ldx, int M, int K, const std::int8_t* packed, const float* scale, const float* bias,
            float* y, int ldy, int N, int p0, int p1) {
  const std::size_t stride = static_cast<std::size_t>(K) * kW;
  for (int p = p0; p < p1; p += 4) {
    const int panels = imin(4, p1 - p);
    const std::int8_t* b = packed + static_cast<std::size_t>(p) * stride;
    for (int m0 = 0; m0 < M; m0 += 4) {
      const int rows = imin(4, M - m0);
      const float* xm = x + static_cast<std::size_t>(m0) * ldx;
      float* ym = y + static_cast<std::size_t>(m0) * ldy;
      switch (panels) {
        case 4: q8Rows<4>(rows, xm, ldx, K, b, stride, scale, bias, ym, ldy, N, p * kW); break;
        case 3: q8Rows<3>(rows, xm, ldx, K, b, stride, scale, bias, ym, ldy, N, p * kW); break;
        case 2: q8Rows<2>(rows, xm, ldx, K, b, stride, scale, bias, ym, ldy, N, p * kW); break;
        default: q8Rows<1>(rows, xm, ldx, K, b, stride, scale, bias, ym, ldy, N, p * kW); break;
      }
    }
  }
}

// ---- W8A8 with VNNI (u8 x s8: the int8 activations are offset by 128 and corrected by the column sums) ----
template <int R, int P>
void q8a8Tile(const std::int8_t* xq, const float* xScale, int Kp, const std::int8_t* b, std::size_t stride,
              const std::int32_t* colSum, const float* scale, const float* bias, float* y, int ldy, int N, int col0) {
  __m512i acc[R][P];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < P; ++j) acc[i][j] = _mm512_setzero_si512();
  const __m512i flip = _mm512_set1_epi32(static_cast<int>(0x80808080u));
  const int K4 = Kp / 4;
  for (int k4 = 0; k4 < K4; ++k4) {
    __m512i w[P];
    for (int j = 0; j < P; ++j)
      w[j] = _mm512_loadu_si512(b + j * stride + static_cast<std::size_t>(k4) * kW * 4);
    for (int i = 0; i < R; ++i) {
      std::int32_t x4;
      __builtin_memcpy(&x4, xq + static_cast<std::size_t>(i) * Kp + k4 * 4, 4);
      const __m512i a = _mm512_xor_si512(_mm512_set1_epi32(x4), flip);
      for (int j = 0; j < P; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], a, w[j]);
    }
  }
  for (int j = 0; j < P; ++j) {
    const int c0 = col0 + j * kW, cols = imin(kW, N - c0);
    const __m512i corr = _mm512_slli_epi32(
        cols >= kW ? _mm512_loadu_si512(colSum + c0)
                   : _mm512_maskz_loadu_epi32(static_cast<__mmask16>((1u << cols) - 1u), colSum + c0),
        7);
    const __m512 s = loadCols(scale + c0, cols);
    const __m512 bv = bias ? loadCols(bias + c0, cols) : _mm512_setzero_ps();
    for (int i = 0; i < R; ++i) {
      const __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][j], corr));
      const __m512 sc = _mm512_mul_ps(_mm512_set1_ps(xScale[i]), s);
      // fma: what GCC made of the original mul + add (fp-contract), kept explicit so the bits never depend on it.
      storeCols(y + static_cast<std::size_t>(i) * ldy + c0, _mm512_fmadd_ps(v, sc, bv), cols);
    }
  }
}

template <int P>
void q8a8Rows(int rows, const std::int8_t* xq, const float* xScale, int Kp, const std::int8_t* b, std::size_t stride,
              const std::int32_t* colSum, const float* scale, const float* bias, float* y, int ldy, int N, int col0) {
  switch (rows) {
    case 4: q8a8Tile<4, P>(xq, xScale, Kp, b, stride, colSum, scale, bias, y, ldy, N, col0); break;
    case 3: q8a8Tile<3, P>(xq, xScale, Kp, b, stride, colSum, scale, bias, y, ldy, N, col0); break;
    case 2: q8a8Tile<2, P>(xq, xScale, Kp, b, stride, colSum, scale, bias, y, ldy, N, col0); break;
    default: q8a8Tile<1, P>(xq, xScale, Kp, b, stride, colSum, scale, bias, y, ldy, N, col0); break;
  }
}

void gemmQ8A8Vnni(const std::int8_t* xq, const float* xScale, int M, int Kp, const std::int8_t* packed,
                  const std::int32_t* colSum, const float* scale, const float* bias, float* y, int ldy, int N, int p0,
                  int p1) {
  const std::size_t stride = static_cast<std::size_t>(Kp) * kW;
  for (int p = p0; p < p1; p += 4) {
    const int panels = imin(4, p1 - p);
    const std::int8_t* b = packed + static_cast<std::size_t>(p) * stride;
    for (int m0 = 0; m0 < M; m0 += 4) {
      const int rows = imin(4, M - m0);
      const std::int8_t* xm = xq + static_cast<std::size_t>(m0) * Kp;
      float* ym = y + static_cast<std::size_t>(m0) * ldy;
      switch (panels) {
        case 4: q8a8Rows<4>(rows, xm, xScale + m0, Kp, b, stride, colSum, scale, bias, ym, ldy, N, p * kW); break;
        case 3: q8a8Rows<3>(rows, xm, xScale + m0, Kp, b, stride, colSum, scale, bias, ym, ldy, N, p * kW); break;
        case 2: q8a8Rows<2>(rows, xm, xScale + m0, Kp, b, stride, colSum, scale, bias, ym, ldy, N, p * kW); break;
        default: q8a8Rows<1>(rows, xm, xScale + m0, Kp, b, stride, colSum, scale, bias, ym, ldy, N, p * kW); break;
      }
    }
  }
}

// ---- W4A16, asymmetric, groups along K ----
template <int R, int P>
void q4Tile(const float* x, int ldx, int K, int G, int groups, const std::uint8_t* b, std::size_t stride,
            const float* sP, const float* zP, std::size_t sStride, const float* gsum, const float* bias, float* y,
            int ldy, int N, int col0) {
  __m512 out[R][P];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < P; ++j) out[i][j] = _mm512_setzero_ps();
  const __m512i low = _mm512_set1_epi32(15);
  for (int g = 0; g < groups; ++g) {
    __m512 lo[R][P], hi[R][P];
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < P; ++j) lo[i][j] = hi[i][j] = _mm512_setzero_ps();
    const int kb = g * G, ke = imin(K, kb + G);
    int k = kb;
    for (; k + 1 < ke; k += 2) {
      __m512 wl[P], wh[P];
      for (int j = 0; j < P; ++j) {
        const __m512i v = _mm512_cvtepu8_epi32(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + j * stride + static_cast<std::size_t>(k / 2) * kW)));
        wl[j] = _mm512_cvtepi32_ps(_mm512_and_si512(v, low));
        wh[j] = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));
      }
      for (int i = 0; i < R; ++i) {
        const __m512 a0 = _mm512_set1_ps(x[static_cast<std::size_t>(i) * ldx + k]);
        const __m512 a1 = _mm512_set1_ps(x[static_cast<std::size_t>(i) * ldx + k + 1]);
        for (int j = 0; j < P; ++j) {
          lo[i][j] = _mm512_fmadd_ps(a0, wl[j], lo[i][j]);
          hi[i][j] = _mm512_fmadd_ps(a1, wh[j], hi[i][j]);
        }
      }
    }
    if (k < ke) {  // odd group end: low nibble only
      for (int j = 0; j < P; ++j) {
        const __m512i v = _mm512_cvtepu8_epi32(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + j * stride + static_cast<std::size_t>(k / 2) * kW)));
        const __m512 wl = _mm512_cvtepi32_ps(_mm512_and_si512(v, low));
        for (int i = 0; i < R; ++i)
          lo[i][j] = _mm512_fmadd_ps(_mm512_set1_ps(x[static_cast<std::size_t>(i) * ldx + k]), wl, lo[i][j]);
      }
    }
    for (int j = 0; j < P; ++j) {
      const __m512 s = _mm512_loadu_ps(sP + j * sStride + static_cast<std::size_t>(g) * kW);
      const __m512 z = _mm512_loadu_ps(zP + j * sStride + static_cast<std::size_t>(g) * kW);
      for (int i = 0; i < R; ++i) {
        const __m512 acc = _mm512_add_ps(lo[i][j], hi[i][j]);
        const __m512 gs = _mm512_set1_ps(gsum[static_cast<std::size_t>(i) * groups + g]);
        out[i][j] = _mm512_fmadd_ps(s, _mm512_fnmadd_ps(z, gs, acc), out[i][j]);
      }
    }
  }
  for (int j = 0; j < P; ++j) {
    const int c0 = col0 + j * kW, cols = imin(kW, N - c0);
    const __m512 bv = bias ? loadCols(bias + c0, cols) : _mm512_setzero_ps();
    for (int i = 0; i < R; ++i) storeCols(y + static_cast<std::size_t>(i) * ldy + c0, _mm512_add_ps(out[i][j], bv), cols);
  }
}

template <int P>
void q4Rows(int rows, const float* x, int ldx, int K, int G, int groups, const std::uint8_t* b, std::size_t stride,
            const float* sP, const float* zP, std::size_t sStride, const float* gs, const float* bias, float* y, int ldy,
            int N, int col0) {
  switch (rows) {
    case 4: q4Tile<4, P>(x, ldx, K, G, groups, b, stride, sP, zP, sStride, gs, bias, y, ldy, N, col0); break;
    case 3: q4Tile<3, P>(x, ldx, K, G, groups, b, stride, sP, zP, sStride, gs, bias, y, ldy, N, col0); break;
    case 2: q4Tile<2, P>(x, ldx, K, G, groups, b, stride, sP, zP, sStride, gs, bias, y, ldy, N, col0); break;
    default: q4Tile<1, P>(x, ldx, K, G, groups, b, stride, sP, zP, sStride, gs, bias, y, ldy, N, col0); break;
  }
}

// Many rows: the nibbles of one group of (up to) 2 panels are unpacked once into a float tile that all rows
// share; out accumulates in y (masked at the last panel). The per-element operation sequence is the same as
// q4Tile's (even/odd k chains, acc = lo + hi, out = fma(s, acc - z * groupSum, out), + bias at the end), so
// both paths give identical bits and the choice by M keeps batch invariance.
constexpr int kMaxTileGroup = 256;

template <int R, int P>
void q4GroupRows(const float* x, int ldx, int kb, int ke, const float* tile, const __m512* s, const __m512* z,
                 const float* gsum, int groups, int g, float* y, int ldy, const int* cols) {
  __m512 lo[R][P], hi[R][P];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < P; ++j) lo[i][j] = hi[i][j] = _mm512_setzero_ps();
  int k = kb;
  for (; k + 1 < ke; k += 2) {
    const float* t = tile + static_cast<std::size_t>(k - kb) * P * kW;
    __m512 wl[P], wh[P];
    for (int j = 0; j < P; ++j) {
      wl[j] = _mm512_load_ps(t + j * kW);
      wh[j] = _mm512_load_ps(t + P * kW + j * kW);
    }
    for (int i = 0; i < R; ++i) {
      const __m512 a0 = _mm512_set1_ps(x[static_cast<std::size_t>(i) * ldx + k]);
      const __m512 a1 = _mm512_set1_ps(x[static_cast<std::size_t>(i) * ldx + k + 1]);
      for (int j = 0; j < P; ++j) {
        lo[i][j] = _mm512_fmadd_ps(a0, wl[j], lo[i][j]);
        hi[i][j] = _mm512_fmadd_ps(a1, wh[j], hi[i][j]);
      }
    }
  }
  if (k < ke) {
    const float* t = tile + static_cast<std::size_t>(k - kb) * P * kW;
    for (int j = 0; j < P; ++j) {
      const __m512 wl = _mm512_load_ps(t + j * kW);
      for (int i = 0; i < R; ++i)
        lo[i][j] = _mm512_fmadd_ps(_mm512_set1_ps(x[static_cast<std::size_t>(i) * ldx + k]), wl, lo[i][j]);
    }
  }
  for (int j = 0; j < P; ++j)
    for (int i = 0; i < R; ++i) {
      float* o = y + static_cast<std::size_t>(i) * ldy + j * kW;
      const __m512 acc = _mm512_add_ps(lo[i][j], hi[i][j]);
      const __m512 gs = _mm512_set1_ps(gsum[static_cast<std::size_t>(i) * groups + g]);
      storeCols(o, _mm512_fmadd_ps(s[j], _mm512_fnmadd_ps(z[j], gs, acc), loadCols(o, cols[j])), cols[j]);
    }
}

template <int P>
void q4ManyRows(const float* x, int ldx, int M, int K, int G, int groups, const std::uint8_t* b, std::size_t stride,
                const float* sP, const float* zP, std::size_t sStride, const float* gsum, const float* bias, float* y,
                int ldy, int N, int col0) {
  alignas(64) float tile[kMaxTileGroup * P * kW];
  int cols[P];
  for (int j = 0; j < P; ++j) cols[j] = imin(kW, N - (col0 + j * kW));
  for (int m = 0; m < M; ++m)
    for (int j = 0; j < P; ++j) storeCols(y + static_cast<std::size_t>(m) * ldy + col0 + j * kW, _mm512_setzero_ps(), cols[j]);
  const __m512i low = _mm512_set1_epi32(15);
  for (int g = 0; g < groups; ++g) {
    const int kb = g * G, ke = imin(K, kb + G);
    for (int k = kb; k < ke; k += 2)
      for (int j = 0; j < P; ++j) {
        const __m512i v = _mm512_cvtepu8_epi32(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + j * stride + static_cast<std::size_t>(k / 2) * kW)));
        _mm512_store_ps(tile + static_cast<std::size_t>(k - kb) * P * kW + j * kW, _mm512_cvtepi32_ps(_mm512_and_si512(v, low)));
        if (k + 1 < ke)
          _mm512_store_ps(tile + static_cast<std::size_t>(k + 1 - kb) * P * kW + j * kW, _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4)));
      }
    __m512 s[P], z[P];
    for (int j = 0; j < P; ++j) {
      s[j] = _mm512_loadu_ps(sP + j * sStride + static_cast<std::size_t>(g) * kW);
      z[j] = _mm512_loadu_ps(zP + j * sStride + static_cast<std::size_t>(g) * kW);
    }
    int m0 = 0;
    for (; m0 + 4 <= M; m0 += 4)
      q4GroupRows<4, P>(x + static_cast<std::size_t>(m0) * ldx, ldx, kb, ke, tile, s, z, gsum + static_cast<std::size_t>(m0) * groups,
                        groups, g, y + static_cast<std::size_t>(m0) * ldy + col0, ldy, cols);
    for (; m0 < M; ++m0)
      q4GroupRows<1, P>(x + static_cast<std::size_t>(m0) * ldx, ldx, kb, ke, tile, s, z, gsum + static_cast<std::size_t>(m0) * groups,
                        groups, g, y + static_cast<std::size_t>(m0) * ldy + col0, ldy, cols);
  }
  for (int m = 0; m < M; ++m)
    for (int j = 0; j < P; ++j) {
      float* o = y + static_cast<std::size_t>(m) * ldy + col0 + j * kW;
      const __m512 bv = bias ? loadCols(bias + col0 + j * kW, cols[j]) : _mm512_setzero_ps();
      storeCols(o, _mm512_add_ps(loadCols(o, cols[j]), bv), cols[j]);
    }
}

// Few rows: tiles of up to 4 rows x 2 panels unpacking in registers; many rows: the shared float tile.
void gemmQ4(const float* x, int ldx, int M, int K, int G, int groups, const std::uint8_t* packed, const float* scales,
            const float* zeros, const float* groupSums, const float* bias, float* y, int ldy, int N, int p0, int p1) {
  const std::size_t stride = static_cast<std::size_t>((K + 1) / 2) * kW;
  const std::size_t sStride = static_cast<std::size_t>(groups) * kW;
  for (int p = p0; p < p1; p += 2) {
    const int panels = imin(2, p1 - p);
    const std::uint8_t* b = packed + static_cast<std::size_t>(p) * stride;
    const float* sP = scales + static_cast<std::size_t>(p) * sStride;
    const float* zP = zeros + static_cast<std::size_t>(p) * sStride;
    if (M >= 4 && G <= kMaxTileGroup) {
      if (panels == 2)
        q4ManyRows<2>(x, ldx, M, K, G, groups, b, stride, sP, zP, sStride, groupSums, bias, y, ldy, N, p * kW);
      else
        q4ManyRows<1>(x, ldx, M, K, G, groups, b, stride, sP, zP, sStride, groupSums, bias, y, ldy, N, p * kW);
      continue;
    }
    for (int m0 = 0; m0 < M; m0 += 4) {
      const int rows = imin(4, M - m0);
      const float* xm = x + static_cast<std::size_t>(m0) * ldx;
      const float* gs = groupSums + static_cast<std::size_t>(m0) * groups;
      float* ym = y + static_cast<std::size_t>(m0) * ldy;
      if (panels == 2)
        q4Rows<2>(rows, xm, ldx, K, G, groups, b, stride, sP, zP, sStride, gs, bias, ym, ldy, N, p * kW);
      else
        q4Rows<1>(rows, xm, ldx, K, G, groups, b, stride, sP, zP, sStride, gs, bias, ym, ldy, N, p * kW);
    }
  }
}

// ---- W4A8 with VNNI: nibble codes (u8 0..15) x int8 activations, exact int32 per group ----
template <int R, int P>
void q4a8Tile(const std::int8_t* xq, int Kp, const float* xScale, const std::int32_t* xgs, int groups, int G8, int K8,
              const std::uint8_t* b, std::size_t stride, const float* sP, const std::int32_t* zP, std::size_t sStride,
              const float* bias, float* y, int ldy, int N, int col0) {
  __m512 out[R][P];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < P; ++j) out[i][j] = _mm512_setzero_ps();
  const __m512i low = _mm512_set1_epi8(0x0F);
  for (int g = 0; g < groups; ++g) {
    __m512i acc[R][P];
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < P; ++j) acc[i][j] = _mm512_setzero_si512();
    const int e8 = imin(K8, (g + 1) * G8);
    for (int k8 = g * G8; k8 < e8; ++k8) {
      __m512i wl[P], wh[P];
      for (int j = 0; j < P; ++j) {
        const __m512i v = _mm512_loadu_si512(b + j * stride + static_cast<std::size_t>(k8) * kW * 4);
        wl[j] = _mm512_and_si512(v, low);
        wh[j] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
      }
      for (int i = 0; i < R; ++i) {
        std::int32_t x0, x1;
        __builtin_memcpy(&x0, xq + static_cast<std::size_t>(i) * Kp + 8 * k8, 4);
        __builtin_memcpy(&x1, xq + static_cast<std::size_t>(i) * Kp + 8 * k8 + 4, 4);
        const __m512i a0 = _mm512_set1_epi32(x0), a1 = _mm512_set1_epi32(x1);
        for (int j = 0; j < P; ++j) {
          acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], wl[j], a0);
          acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], wh[j], a1);
        }
      }
    }
    for (int j = 0; j < P; ++j) {
      const __m512 sc = _mm512_loadu_ps(sP + j * sStride + static_cast<std::size_t>(g) * kW);
      const __m512i z = _mm512_loadu_si512(zP + j * sStride + static_cast<std::size_t>(g) * kW);
      for (int i = 0; i < R; ++i) {
        const __m512i t = _mm512_sub_epi32(acc[i][j], _mm512_mullo_epi32(z, _mm512_set1_epi32(xgs[static_cast<std::size_t>(i) * groups + g])));
        out[i][j] = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(t), out[i][j]);
      }
    }
  }
  for (int j = 0; j < P; ++j) {
    const int c0 = col0 + j * kW, cols = imin(kW, N - c0);
    const __m512 bv = bias ? loadCols(bias + c0, cols) : _mm512_setzero_ps();
    for (int i = 0; i < R; ++i)
      storeCols(y + static_cast<std::size_t>(i) * ldy + c0, _mm512_fmadd_ps(out[i][j], _mm512_set1_ps(xScale[i]), bv), cols);
  }
}

template <int P>
void q4a8Rows(int rows, const std::int8_t* xq, int Kp, const float* xScale, const std::int32_t* xgs, int groups, int G8,
              int K8, const std::uint8_t* b, std::size_t stride, const float* sP, const std::int32_t* zP,
              std::size_t sStride, const float* bias, float* y, int ldy, int N, int col0) {
  switch (rows) {
    case 4: q4a8Tile<4, P>(xq, Kp, xScale, xgs, groups, G8, K8, b, stride, sP, zP, sStride, bias, y, ldy, N, col0); break;
    case 3: q4a8Tile<3, P>(xq, Kp, xScale, xgs, groups, G8, K8, b, stride, sP, zP, sStride, bias, y, ldy, N, col0); break;
    case 2: q4a8Tile<2, P>(xq, Kp, xScale, xgs, groups, G8, K8, b, stride, sP, zP, sStride, bias, y, ldy, N, col0); break;
    default: q4a8Tile<1, P>(xq, Kp, xScale, xgs, groups, G8, K8, b, stride, sP, zP, sStride, bias, y, ldy, N, col0); break;
  }
}

void gemmQ4A8Vnni(const std::int8_t* xq, const float* xScale, const std::int32_t* xGroupSum, int M, int Kp, int G, int groups,
                  const std::uint8_t* packed, const float* scales, const std::int32_t* zeros, const float* bias, float* y,
                  int ldy, int N, int p0, int p1) {
  const int K8 = Kp / 8, G8 = G / 8;
  const std::size_t stride = static_cast<std::size_t>(K8) * kW * 4;
  const std::size_t sStride = static_cast<std::size_t>(groups) * kW;
  for (int p = p0; p < p1; p += 2) {
    const int panels = imin(2, p1 - p);
    const std::uint8_t* b = packed + static_cast<std::size_t>(p) * stride;
    const float* sP = scales + static_cast<std::size_t>(p) * sStride;
    const std::int32_t* zP = zeros + static_cast<std::size_t>(p) * sStride;
    for (int m0 = 0; m0 < M; m0 += 4) {
      const int rows = imin(4, M - m0);
      const std::int8_t* xm = xq + static_cast<std::size_t>(m0) * Kp;
      const std::int32_t* gs = xGroupSum + static_cast<std::size_t>(m0) * groups;
      float* ym = y + static_cast<std::size_t>(m0) * ldy;
      if (panels == 2)
        q4a8Rows<2>(rows, xm, Kp, xScale + m0, gs, groups, G8, K8, b, stride, sP, zP, sStride, bias, ym, ldy, N, p * kW);
      else
        q4a8Rows<1>(rows, xm, Kp, xScale + m0, gs, groups, G8, K8, b, stride, sP, zP, sStride, bias, ym, ldy, N, p * kW);
    }
  }
}

// ---- F16 weights (lm_head / tied embeddings kept in half precision) ----
template <int R, int P>
void f16Tile(const float* x, int ldx, int K, const std::uint16_t* b, std::size_t stride, const float* bias, float* y,
             int ldy, int N, int col0) {
  __m512 acc[R][P];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < P; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int k = 0; k < K; ++k) {
    __m512 w[P];
    for (int j = 0; j < P; ++j)
      w[j] = _mm512_cvtph_ps(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + j * stride + static_cast<std::size_t>(k) * kW)));
    for (int i = 0; i < R; ++i) {
      const __m512 a = _mm512_set1_ps(x[static_cast<std::size_t>(i) * ldx + k]);
      for (int j = 0; j < P; ++j) acc[i][j] = _mm512_fmadd_ps(a, w[j], acc[i][j]);
    }
  }
  for (int j = 0; j < P; ++j) {
    const int c0 = col0 + j * kW, cols = imin(kW, N - c0);
    const __m512 bv = bias ? loadCols(bias + c0, cols) : _mm512_setzero_ps();
    for (int i = 0; i < R; ++i) storeCols(y + static_cast<std::size_t>(i) * ldy + c0, _mm512_add_ps(acc[i][j], bv), cols);
  }
}

template <int P>
void f16Rows(int rows, const float* x, int ldx, int K, const std::uint16_t* b, std::size_t stride, const float* bias,
             float* y, int ldy, int N, int col0) {
  switch (rows) {
    case 4: f16Tile<4, P>(x, ldx, K, b, stride, bias, y, ldy, N, col0); break;
    case 3: f16Tile<3, P>(x, ldx, K, b, stride, bias, y, ldy, N, col0); break;
    case 2: f16Tile<2, P>(x, ldx, K, b, stride, bias, y, ldy, N, col0); break;
    default: f16Tile<1, P>(x, ldx, K, b, stride, bias, y, ldy, N, col0); break;
  }
}

void gemmF16(const float* x, int ldx, int M, int K, const std::uint16_t* packed, const float* bias, float* y, int ldy,
             int N, int p0, int p1) {
  const std::size_t stride = static_cast<std::size_t>(K) * kW;
  for (int p = p0; p < p1; p += 4) {
    const int panels = imin(4, p1 - p);
    const std::uint16_t* b = packed + static_cast<std::size_t>(p) * stride;
    for (int m0 = 0; m0 < M; m0 += 4) {
      const int rows = imin(4, M - m0);
      const float* xm = x + static_cast<std::size_t>(m0) * ldx;
      float* ym = y + static_cast<std::size_t>(m0) * ldy;
      switch (panels) {
        case 4: f16Rows<4>(rows, xm, ldx, K, b, stride, bias, ym, ldy, N, p * kW); break;
        case 3: f16Rows<3>(rows, xm, ldx, K, b, stride, bias, ym, ldy, N, p * kW); break;
        case 2: f16Rows<2>(rows, xm, ldx, K, b, stride, bias, ym, ldy, N, p * kW); break;
        default: f16Rows<1>(rows, xm, ldx, K, b, stride, bias, ym, ldy, N, p * kW); break;
      }
    }
  }
}

const QuantKernelTable kAvx512Vnni{"avx512-vnni", quantizeRows, gemmQ8, gemmQ8A8Vnni, gemmQ4, gemmQ4A8Vnni, gemmF16};
const QuantKernelTable kAvx512{"avx512", quantizeRows, gemmQ8, quantdetail::avx2GemmQ8A8, gemmQ4, quantdetail::avx2GemmQ4A8, gemmF16};

}  // namespace
}  // namespace glossa
#pragma GCC pop_options

namespace glossa {
const QuantKernelTable& avx512QuantKernels() { return kAvx512; }
const QuantKernelTable& avx512VnniQuantKernels() { return kAvx512Vnni; }
}  // namespace glossa
#else
namespace glossa {
const QuantKernelTable& avx512QuantKernels() { return genericQuantKernels(); }
const QuantKernelTable& avx512VnniQuantKernels() { return genericQuantKernels(); }
}  // namespace glossa
#endif
