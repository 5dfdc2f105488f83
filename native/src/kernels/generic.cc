// Portable C++ kernels (no ISA extensions beyond the compiler's baseline).
#include <algorithm>
#include <cmath>

#include "kernels/kernel_table.h"

namespace glossa {
namespace {

constexpr int kRows = 4;

void gemmPanels(const float* x, int ldx, int M, int K, const float* packed, const float* bias, float* y, int ldy,
                int N, int panelBegin, int panelEnd) {
  for (int p = panelBegin; p < panelEnd; ++p) {
    const float* b = packed + static_cast<std::size_t>(p) * K * kPanelWidth;
    const int col0 = p * kPanelWidth;
    const int cols = std::min(kPanelWidth, N - col0);
    for (int m0 = 0; m0 < M; m0 += kRows) {
      const int rows = std::min(kRows, M - m0);
      float acc[kRows][kPanelWidth] = {};
      for (int k = 0; k < K; ++k) {
        const float* bk = b + static_cast<std::size_t>(k) * kPanelWidth;
        for (int i = 0; i < rows; ++i) {
          const float a = x[static_cast<std::size_t>(m0 + i) * ldx + k];
          for (int j = 0; j < kPanelWidth; ++j) acc[i][j] += a * bk[j];
        }
      }
      for (int i = 0; i < rows; ++i) {
        float* out = y + static_cast<std::size_t>(m0 + i) * ldy + col0;
        for (int j = 0; j < cols; ++j) out[j] = bias != nullptr ? acc[i][j] + bias[col0 + j] : acc[i][j];
      }
    }
  }
}

float dot(const float* a, const float* b, int n) {
  float lanes[8] = {};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lanes[j] += a[i + j] * b[i + j];
  float s = 0.f;
  for (int j = 0; j < 8; ++j) s += lanes[j];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy(float a, const float* x, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

float genericSumExp(const float* x, int n, float shift) {
  float lanes[8] = {};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lanes[j] += std::exp(x[i + j] - shift);
  float s = 0.f;
  for (int j = 0; j < 8; ++j) s += lanes[j];
  for (; i < n; ++i) s += std::exp(x[i] - shift);
  return s;
}

float genericExpInPlace(float* x, int n, float shift) {
  float s = 0.f;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    s += x[i];
  }
  return s;
}

void genericGelu(float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752440f));
}

namespace {
const KernelTable kTable{"generic", gemmPanels, dot, axpy, genericSumExp, genericExpInPlace, genericGelu};
}  // namespace

const KernelTable& genericKernels() { return kTable; }

}  // namespace glossa
