// Portable C++ kernels (no ISA extensions beyond the compiler's baseline).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

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

// dot, axpy, exp and GELU follow the AVX-512 kernels operation for operation (16 lanes, fused multiply-adds
// through std::fma, the same polynomial and reduction order), so every kernel set gives the same bits for them:
// with per-token int8 activations (W8A8 / W4A8 engines) a last-bit difference upstream could flip a rounding
// and, rarely, a token.
float dot(const float* a, const float* b, int n) {
  float lanes[16] = {};
  int i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) lanes[j] = std::fma(a[i + j], b[i + j], lanes[j]);
  for (int j = 0; i + j < n; ++j) lanes[j] = std::fma(a[i + j], b[i + j], lanes[j]);
  float s = 0.f;
  for (int j = 0; j < 16; ++j) s += lanes[j];
  return s;
}

void axpy(float a, const float* x, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
}

void scaledDots(const float* q, const float* const* rows, int n, int d, float scale, float* out) {
  for (int j = 0; j < n; ++j) out[j] = dot(q, rows[j], d) * scale;
}

void weightedSum(const float* w, const float* const* rows, int n, float* y, int d) {
  for (int i = 0; i < d; ++i) {
    float acc = 0.f;
    for (int j = 0; j < n; ++j) acc = std::fma(w[j], rows[j][i], acc);
    y[i] = acc;
  }
}

}  // namespace

float referenceExp(float x) {
  const float lo = -87.33654f, hi = 88.72283f;
  if (x < lo) return 0.f;
  x = std::min(std::max(x, lo), hi);
  const float n = std::nearbyint(x * 1.44269504088896341f);
  float r = std::fma(-n, 0.693359375f, x);
  r = std::fma(-n, -2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = std::fma(p, r, 1.3981999507e-3f);
  p = std::fma(p, r, 8.3334519073e-3f);
  p = std::fma(p, r, 4.1665795894e-2f);
  p = std::fma(p, r, 1.6666665459e-1f);
  p = std::fma(p, r, 5.0000001201e-1f);
  p = std::fma(p, r * r, r + 1.0f);
  // p * 2^n with one rounding (as vscalefps): two exact power-of-two factors, the second product rounds.
  const int ni = static_cast<int>(n), n1 = ni >> 1, n2 = ni - n1;
  auto pow2 = [](int k) {
    const std::uint32_t bits = static_cast<std::uint32_t>(k + 127) << 23;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  };
  return (p * pow2(n1)) * pow2(n2);
}

float genericSumExp(const float* x, int n, float shift) {
  float lanes[16] = {};
  int i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) lanes[j] = lanes[j] + referenceExp(x[i + j] - shift);
  for (int j = 0; i + j < n; ++j) lanes[j] = lanes[j] + referenceExp(x[i + j] - shift);
  double s = 0;
  for (int j = 0; j < 16; ++j) s += lanes[j];
  return static_cast<float>(s);
}

float genericExpInPlace(float* x, int n, float shift) {
  float lanes[16] = {};
  for (int i = 0; i < n; ++i) {
    x[i] = referenceExp(x[i] - shift);
    lanes[i % 16] = lanes[i % 16] + x[i];
  }
  double s = 0;
  for (int j = 0; j < 16; ++j) s += lanes[j];
  return static_cast<float>(s);
}

float referenceGelu(float x) {
  const float a = x * 0.70710678118654752440f;
  const float absA = std::fabs(a);
  const float t = 1.0f / std::fma(0.3275911f, absA, 1.0f);
  float r = std::fma(1.061405429f, t, -1.453152027f);
  r = std::fma(r, t, 1.421413741f);
  r = std::fma(r, t, -0.284496736f);
  r = std::fma(r, t, 0.254829592f);
  const float e = referenceExp(-(a * a));
  const float erfAbs = std::fma(-e * t, r, 1.0f);
  const float erf = std::signbit(a) ? -erfAbs : erfAbs;
  return (x * 0.5f) * (1.0f + erf);
}

void genericGelu(float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] = referenceGelu(x[i]);
}

namespace {
const KernelTable kTable{"generic", gemmPanels, dot, scaledDots, axpy, weightedSum, genericSumExp, genericExpInPlace, genericGelu};
}  // namespace

const KernelTable& genericKernels() { return kTable; }

}  // namespace glossa
