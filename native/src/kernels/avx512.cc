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

const KernelTable kTable{"avx512", gemmPanels, dot, axpy};

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
