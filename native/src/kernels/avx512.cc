// AVX-512 kernels (compiled for that ISA only in this translation unit).
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <cstddef>

#include "kernels/kernel_table.h"

// Only the code between push_options and pop_options is compiled for this ISA (no inline library
// templates are instantiated in it, so nothing ISA-specific leaks into other translation units).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")

namespace glossa {
namespace {

inline int imin(int a, int b) { return a < b ? a : b; }

constexpr int kRows = 8;  // 8 rows x 2 panels = 16 zmm accumulators

// R rows x P panels (16 columns each) outer-product micro kernel.
template <int R, int P>
inline void microKernel(const float* x, int ldx, int K, const float* b, std::size_t panelStride, float* tile) {
  __m512 acc[R][P];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < P; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int k = 0; k < K; ++k) {
    __m512 bv[P];
    for (int j = 0; j < P; ++j) bv[j] = _mm512_loadu_ps(b + j * panelStride + static_cast<std::size_t>(k) * kPanelWidth);
    for (int i = 0; i < R; ++i) {
      const __m512 a = _mm512_set1_ps(x[static_cast<std::size_t>(i) * ldx + k]);
      for (int j = 0; j < P; ++j) acc[i][j] = _mm512_fmadd_ps(a, bv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < P; ++j) _mm512_storeu_ps(tile + (i * P + j) * kPanelWidth, acc[i][j]);
}

template <int P>
inline void dispatchRows(int rows, const float* x, int ldx, int K, const float* b, std::size_t stride, float* tile) {
  switch (rows) {
    case 8: microKernel<8, P>(x, ldx, K, b, stride, tile); break;
    case 7: microKernel<7, P>(x, ldx, K, b, stride, tile); break;
    case 6: microKernel<6, P>(x, ldx, K, b, stride, tile); break;
    case 5: microKernel<5, P>(x, ldx, K, b, stride, tile); break;
    case 4: microKernel<4, P>(x, ldx, K, b, stride, tile); break;
    case 3: microKernel<3, P>(x, ldx, K, b, stride, tile); break;
    case 2: microKernel<2, P>(x, ldx, K, b, stride, tile); break;
    default: microKernel<1, P>(x, ldx, K, b, stride, tile); break;
  }
}

void gemmPanels(const float* x, int ldx, int M, int K, const float* packed, const float* bias, float* y, int ldy,
                int N, int panelBegin, int panelEnd) {
  alignas(64) float tile[kRows * 2 * kPanelWidth];
  const std::size_t stride = static_cast<std::size_t>(K) * kPanelWidth;
  for (int p = panelBegin; p < panelEnd; p += 2) {
    const int panels = imin(2, panelEnd - p);
    const float* b = packed + static_cast<std::size_t>(p) * stride;
    for (int m0 = 0; m0 < M; m0 += kRows) {
      const int rows = imin(kRows, M - m0);
      const float* xm = x + static_cast<std::size_t>(m0) * ldx;
      if (panels == 2)
        dispatchRows<2>(rows, xm, ldx, K, b, stride, tile);
      else
        dispatchRows<1>(rows, xm, ldx, K, b, stride, tile);
      for (int j = 0; j < panels; ++j) {
        const int col0 = (p + j) * kPanelWidth;
        const int cols = imin(kPanelWidth, N - col0);
        for (int i = 0; i < rows; ++i) {
          float* out = y + static_cast<std::size_t>(m0 + i) * ldy + col0;
          const float* t = tile + (i * panels + j) * kPanelWidth;
          for (int c = 0; c < cols; ++c) out[c] = bias != nullptr ? t[c] + bias[col0 + c] : t[c];
        }
      }
    }
  }
}

float dot(const float* a, const float* b, int n) {
  __m512 acc = _mm512_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
  }
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, acc);
  float s = 0.f;
  for (int j = 0; j < 16; ++j) s += lanes[j];
  return s;
}

void axpy(float a, const float* x, float* y, int n) {
  const __m512 va = _mm512_set1_ps(a);
  int i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

// dot() for four rows at a time: the same fused multiply-adds per row and the same sequential sum of its 16
// lanes, interleaved across the rows (independent chains instead of one call per row).
void scaledDots(const float* q, const float* const* rows, int n, int d, float scale, float* out) {
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int i = 0;
    for (; i + 16 <= d; i += 16) {
      const __m512 qv = _mm512_loadu_ps(q + i);
      for (int t = 0; t < 4; ++t) acc[t] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(rows[j + t] + i), acc[t]);
    }
    if (i < d) {
      const __mmask16 m = static_cast<__mmask16>((1u << (d - i)) - 1u);
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
      for (int t = 0; t < 4; ++t) acc[t] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, rows[j + t] + i), acc[t]);
    }
    alignas(64) float lanes[4][16];
    for (int t = 0; t < 4; ++t) _mm512_store_ps(lanes[t], acc[t]);
    float s[4] = {0.f, 0.f, 0.f, 0.f};
    for (int l = 0; l < 16; ++l)
      for (int t = 0; t < 4; ++t) s[t] += lanes[t][l];
    for (int t = 0; t < 4; ++t) out[j + t] = s[t] * scale;
  }
  for (; j < n; ++j) out[j] = dot(q, rows[j], d) * scale;
}

// Four 16-float chunks of y in registers per pass over the rows (a 64-dim attention head in one pass).
void weightedSum(const float* w, const float* const* rows, int n, float* y, int d) {
  int i = 0;
  for (; i + 64 <= d; i += 64) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int j = 0; j < n; ++j) {
      const __m512 wj = _mm512_set1_ps(w[j]);
      const float* r = rows[j] + i;
      a0 = _mm512_fmadd_ps(wj, _mm512_loadu_ps(r), a0);
      a1 = _mm512_fmadd_ps(wj, _mm512_loadu_ps(r + 16), a1);
      a2 = _mm512_fmadd_ps(wj, _mm512_loadu_ps(r + 32), a2);
      a3 = _mm512_fmadd_ps(wj, _mm512_loadu_ps(r + 48), a3);
    }
    _mm512_storeu_ps(y + i, a0);
    _mm512_storeu_ps(y + i + 16, a1);
    _mm512_storeu_ps(y + i + 32, a2);
    _mm512_storeu_ps(y + i + 48, a3);
  }
  for (; i < d; i += 16) {
    const __mmask16 m = static_cast<__mmask16>(d - i >= 16 ? 0xFFFFu : (1u << (d - i)) - 1u);
    __m512 a = _mm512_setzero_ps();
    for (int j = 0; j < n; ++j) a = _mm512_fmadd_ps(_mm512_set1_ps(w[j]), _mm512_maskz_loadu_ps(m, rows[j] + i), a);
    _mm512_mask_storeu_ps(y + i, m, a);
  }
}

// exp(x) with Cody-Waite reduction and the Cephes expf polynomial (~1 ulp); 0 below the float range (and -inf).
inline __m512 exp512(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.33654f);
  const __m512 hi = _mm512_set1_ps(88.72283f);
  const __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  x = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~under), _mm512_scalef_ps(p, n));
}

float reduceLanes(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  double s = 0;
  for (int j = 0; j < 16; ++j) s += lanes[j];
  return static_cast<float>(s);
}

float sumExp(const float* x, int n, float shift) {
  const __m512 sh = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) acc = _mm512_add_ps(acc, exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), sh)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    acc = _mm512_mask_add_ps(acc, m, acc, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sh)));
  }
  return reduceLanes(acc);
}

float expInPlace(float* x, int n, float shift) {
  const __m512 sh = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), sh));
    _mm512_storeu_ps(x + i, e);
    acc = _mm512_add_ps(acc, e);
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sh));
    _mm512_mask_storeu_ps(x + i, m, e);
    acc = _mm512_mask_add_ps(acc, m, acc, e);
  }
  return reduceLanes(acc);
}

// erf-GELU with the erf evaluation PyTorch's vectorised CPU kernel uses (Abramowitz & Stegun 7.1.26:
// |error| < 1.5e-7, i.e. about an ulp of the GELU output), the same sequence of operations for all lanes.
inline __m512 gelu512(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 negZero = _mm512_set1_ps(-0.0f);
  const __m512 a = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752440f));
  const __m512 sign = _mm512_and_ps(negZero, a);
  const __m512 absA = _mm512_abs_ps(a);
  const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), absA, one));
  __m512 r = _mm512_fmadd_ps(_mm512_set1_ps(1.061405429f), t, _mm512_set1_ps(-1.453152027f));
  r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(1.421413741f));
  r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(-0.284496736f));
  r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(0.254829592f));
  const __m512 e = exp512(_mm512_xor_ps(negZero, _mm512_mul_ps(a, a)));
  const __m512 erfAbs = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_xor_ps(negZero, e), t), r, one);
  const __m512 erf = _mm512_xor_ps(sign, erfAbs);
  return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), _mm512_add_ps(one, erf));
}

void gelu(float* x, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, gelu512(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(x + i, m, gelu512(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

const KernelTable kTable{"avx512", gemmPanels, dot, scaledDots, axpy, weightedSum, sumExp, expInPlace, gelu};

}  // namespace
}  // namespace glossa
#pragma GCC pop_options

namespace glossa {

const KernelTable& avx512Kernels() { return kTable; }

}  // namespace glossa
#else  // not x86: the portable kernels stand in (selectKernels never picks this ISA here)
#include "kernels/kernel_table.h"
namespace glossa {
const KernelTable& avx512Kernels() { return genericKernels(); }
}  // namespace glossa
#endif
