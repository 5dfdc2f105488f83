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

float dot(const float* a, const float* b, int n) {
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  float s = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy(float a, const float* x, float* y, int n) {
  const __m256 va = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

const KernelTable kTable{"avx2", gemmPanels, dot, axpy, genericSumExp, genericExpInPlace, genericGelu};

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
