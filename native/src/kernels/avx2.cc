// AVX2 + FMA kernels (compiled for that ISA only in this translation unit).
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <cstddef>

#include "kernels/kernel_table.h"

// Only the code between push_options and pop_options is compiled for this ISA (no inline library
// templates are instantiated in it, so nothing ISA-specific leaks into other translation units).
#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace glossa {
namespace {

inline int imin(int a, int b) { return a < b ? a : b; }

constexpr int kRows = 6;

template <int R>
inline void microKernel(const float* x, int ldx, int K, const float* b, float* tile) {
  __m256 acc[R][2];
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int k = 0; k < K; ++k) {
    const float* bk = b + static_cast<std::size_t>(k) * kPanelWidth;
    const __m256 b0 = _mm256_loadu_ps(bk);
    const __m256 b1 = _mm256_loadu_ps(bk + 8);
    for (int i = 0; i < R; ++i) {
      const __m256 a = _mm256_broadcast_ss(x + static_cast<std::size_t>(i) * ldx + k);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
  }
  for (int i = 0; i < R; ++i) {
    _mm256_storeu_ps(tile + i * kPanelWidth, acc[i][0]);
    _mm256_storeu_ps(tile + i * kPanelWidth + 8, acc[i][1]);
  }
}

void gemmPanels(const float* x, int ldx, int M, int K, const float* packed, const float* bias, float* y, int ldy,
                int N, int panelBegin, int panelEnd) {
  alignas(32) float tile[kRows * kPanelWidth];
  for (int p = panelBegin; p < panelEnd; ++p) {
    const float* b = packed + static_cast<std::size_t>(p) * K * kPanelWidth;
    const int col0 = p * kPanelWidth;
    const int cols = imin(kPanelWidth, N - col0);
    for (int m0 = 0; m0 < M; m0 += kRows) {
      const int rows = imin(kRows, M - m0);
      const float* xm = x + static_cast<std::size_t>(m0) * ldx;
      switch (rows) {
        case 6: microKernel<6>(xm, ldx, K, b, tile); break;
        case 5: microKernel<5>(xm, ldx, K, b, tile); break;
        case 4: microKernel<4>(xm, ldx, K, b, tile); break;
        case 3: microKernel<3>(xm, ldx, K, b, tile); break;
        case 2: microKernel<2>(xm, ldx, K, b, tile); break;
        default: microKernel<1>(xm, ldx, K, b, tile); break;
      }
      for (int i = 0; i < rows; ++i) {
        float* out = y + static_cast<std::size_t>(m0 + i) * ldy + col0;
        const float* t = tile + i * kPanelWidth;
        for (int j = 0; j < cols; ++j) out[j] = bias != nullptr ? t[j] + bias[col0 + j] : t[j];
      }
    }
  }
}

inline __m256i tailMask(int n) {  // lanes < n set (n in 0..8)
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline __m256 loadTail(const float* p, int n) {
  if (n >= 8) return _mm256_loadu_ps(p);
  if (n <= 0) return _mm256_setzero_ps();
  return _mm256_maskload_ps(p, tailMask(n));
}

// The AVX-512 kernels' arithmetic on 16 lanes held as two 8-lane halves (lanes 0-7, 8-15): same fused
// multiply-adds, same lane assignment, same final reduction order, so the bits match that table's.
float dot(const float* a, const float* b, int n) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    lo = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), lo);
    hi = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), hi);
  }
  if (i < n) {
    const int r = n - i;
    lo = _mm256_fmadd_ps(loadTail(a + i, r), loadTail(b + i, r), lo);
    if (r > 8) hi = _mm256_fmadd_ps(loadTail(a + i + 8, r - 8), loadTail(b + i + 8, r - 8), hi);
  }
  alignas(32) float lanes[16];
  _mm256_store_ps(lanes, lo);
  _mm256_store_ps(lanes + 8, hi);
  float s = 0.f;
  for (int j = 0; j < 16; ++j) s += lanes[j];
  return s;
}

void axpy(float a, const float* x, float* y, int n) {
  const __m256 va = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = __builtin_fmaf(a, x[i], y[i]);
}

// dot(q, rows[j], d) * scale for four keys at a time: each key's fused multiply-adds (two 8-lane halves) and the
// sequential sum of its 16 lanes exactly as dot does them, interleaved across the four keys.
void scaledDots(const float* q, const float* const* rows, int n, int d, float scale, float* out) {
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    __m256 lo[4], hi[4];
    for (int t = 0; t < 4; ++t) lo[t] = hi[t] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= d; i += 16) {
      const __m256 qlo = _mm256_loadu_ps(q + i), qhi = _mm256_loadu_ps(q + i + 8);
      for (int t = 0; t < 4; ++t) {
        lo[t] = _mm256_fmadd_ps(qlo, _mm256_loadu_ps(rows[j + t] + i), lo[t]);
        hi[t] = _mm256_fmadd_ps(qhi, _mm256_loadu_ps(rows[j + t] + i + 8), hi[t]);
      }
    }
    if (i < d) {
      const int r = d - i;
      for (int t = 0; t < 4; ++t) {
        lo[t] = _mm256_fmadd_ps(loadTail(q + i, r), loadTail(rows[j + t] + i, r), lo[t]);
        if (r > 8) hi[t] = _mm256_fmadd_ps(loadTail(q + i + 8, r - 8), loadTail(rows[j + t] + i + 8, r - 8), hi[t]);
      }
    }
    alignas(32) float lanes[4][16];
    for (int t = 0; t < 4; ++t) {
      _mm256_store_ps(lanes[t], lo[t]);
      _mm256_store_ps(lanes[t] + 8, hi[t]);
    }
    float sum[4] = {0.f, 0.f, 0.f, 0.f};
    for (int l = 0; l < 16; ++l)
      for (int t = 0; t < 4; ++t) sum[t] += lanes[t][l];
    for (int t = 0; t < 4; ++t) out[j + t] = sum[t] * scale;
  }
  for (; j < n; ++j) out[j] = dot(q, rows[j], d) * scale;
}

// Four 8-float chunks of y in registers per pass over the rows (independent FMA chains).
void weightedSum(const float* w, const float* const* rows, int n, float* y, int d) {
  int i = 0;
  for (; i + 32 <= d; i += 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int j = 0; j < n; ++j) {
      const __m256 wj = _mm256_set1_ps(w[j]);
      const float* r = rows[j] + i;
      a0 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(r), a0);
      a1 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(r + 8), a1);
      a2 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(r + 16), a2);
      a3 = _mm256_fmadd_ps(wj, _mm256_loadu_ps(r + 24), a3);
    }
    _mm256_storeu_ps(y + i, a0);
    _mm256_storeu_ps(y + i + 8, a1);
    _mm256_storeu_ps(y + i + 16, a2);
    _mm256_storeu_ps(y + i + 24, a3);
  }
  for (; i + 8 <= d; i += 8) {
    __m256 a = _mm256_setzero_ps();
    for (int j = 0; j < n; ++j) a = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), _mm256_loadu_ps(rows[j] + i), a);
    _mm256_storeu_ps(y + i, a);
  }
  for (; i < d; ++i) {
    float a = 0.f;
    for (int j = 0; j < n; ++j) a = __builtin_fmaf(w[j], rows[j][i], a);
    y[i] = a;
  }
}

inline __m256 pow2(__m256i k) {  // 2^k for k in [-126, 127]
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
}

inline __m256 exp256(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654f);
  const __m256 hi = _mm256_set1_ps(88.72283f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // p * 2^n with one rounding (vscalefps): an exact power-of-two factor, then one that rounds.
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256 v = _mm256_mul_ps(_mm256_mul_ps(p, pow2(n1)), pow2(_mm256_sub_epi32(ni, n1)));
  return _mm256_andnot_ps(under, v);
}

float reduce16(__m256 lo, __m256 hi) {
  alignas(32) float lanes[16];
  _mm256_store_ps(lanes, lo);
  _mm256_store_ps(lanes + 8, hi);
  double s = 0;
  for (int j = 0; j < 16; ++j) s += lanes[j];
  return static_cast<float>(s);
}

float sumExp(const float* x, int n, float shift) {
  const __m256 sh = _mm256_set1_ps(shift);
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    lo = _mm256_add_ps(lo, exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh)));
    hi = _mm256_add_ps(hi, exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), sh)));
  }
  if (i < n) {
    const int r = n - i;
    lo = _mm256_add_ps(lo, _mm256_and_ps(_mm256_castsi256_ps(tailMask(r)), exp256(_mm256_sub_ps(loadTail(x + i, r), sh))));
    if (r > 8)
      hi = _mm256_add_ps(hi, _mm256_and_ps(_mm256_castsi256_ps(tailMask(r - 8)), exp256(_mm256_sub_ps(loadTail(x + i + 8, r - 8), sh))));
  }
  return reduce16(lo, hi);
}

float expInPlace(float* x, int n, float shift) {
  const __m256 sh = _mm256_set1_ps(shift);
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 e0 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
    const __m256 e1 = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), sh));
    _mm256_storeu_ps(x + i, e0);
    _mm256_storeu_ps(x + i + 8, e1);
    lo = _mm256_add_ps(lo, e0);
    hi = _mm256_add_ps(hi, e1);
  }
  if (i < n) {
    const int r = n - i;
    const __m256 e0 = _mm256_and_ps(_mm256_castsi256_ps(tailMask(r)), exp256(_mm256_sub_ps(loadTail(x + i, r), sh)));
    _mm256_maskstore_ps(x + i, tailMask(r), e0);
    lo = _mm256_add_ps(lo, e0);
    if (r > 8) {
      const __m256 e1 = _mm256_and_ps(_mm256_castsi256_ps(tailMask(r - 8)), exp256(_mm256_sub_ps(loadTail(x + i + 8, r - 8), sh)));
      _mm256_maskstore_ps(x + i + 8, tailMask(r - 8), e1);
      hi = _mm256_add_ps(hi, e1);
    }
  }
  return reduce16(lo, hi);
}

inline __m256 gelu256(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 negZero = _mm256_set1_ps(-0.0f);
  const __m256 a = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752440f));
  const __m256 sign = _mm256_and_ps(negZero, a);
  const __m256 absA = _mm256_andnot_ps(negZero, a);
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), absA, one));
  __m256 r = _mm256_fmadd_ps(_mm256_set1_ps(1.061405429f), t, _mm256_set1_ps(-1.453152027f));
  r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(1.421413741f));
  r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(-0.284496736f));
  r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(0.254829592f));
  const __m256 e = exp256(_mm256_xor_ps(negZero, _mm256_mul_ps(a, a)));
  const __m256 erfAbs = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_xor_ps(negZero, e), t), r, one);
  const __m256 erf = _mm256_xor_ps(sign, erfAbs);
  return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), _mm256_add_ps(one, erf));
}

void gelu(float* x, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu256(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const int r = static_cast<int>(n - i);
    _mm256_maskstore_ps(x + i, tailMask(r), gelu256(loadTail(x + i, r)));
  }
}

const KernelTable kTable{"avx2", gemmPanels, dot, scaledDots, axpy, weightedSum, sumExp, expInPlace, gelu};

}  // namespace
}  // namespace glossa
#pragma GCC pop_options

namespace glossa {

const KernelTable& avx2Kernels() { return kTable; }

}  // namespace glossa
#else  // not x86: the portable kernels stand in (selectKernels never picks this ISA here)
#include "kernels/kernel_table.h"
namespace glossa {
const KernelTable& avx2Kernels() { return genericKernels(); }
}  // namespace glossa
#endif
