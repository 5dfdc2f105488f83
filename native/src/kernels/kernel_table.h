// The one dispatch point for CPU kernels: a table of function pointers chosen at run time
// from the CPU's features (AVX-512, AVX2+FMA or portable C++).
//
// Batch invariance: every kernel computes each output element with a fixed sequence of operations
// that does not depend on how many rows are in the call or which row it is (GEMM accumulates over K
// in order 0..K-1 with one accumulator per element, never splitting K). A sequence's result is thus
// bit-identical whatever else is in the batch.
#pragma once
#include <cstddef>

#include "core/cpu_features.h"

namespace glossa {

// Packed weight layout for GEMM: N output columns split into panels of kPanelWidth columns; panel p
// holds K rows of kPanelWidth floats: packed[(p * K + k) * kPanelWidth + j] = W[p * kPanelWidth + j][k].
constexpr int kPanelWidth = 16;

struct KernelTable {
  const char* name;
  // y[m * ldy + n] = sum_k x[m * ldx + k] * W[n][k] (+ bias[n] when bias != nullptr)
  // for m in [0, M) and panels [panelBegin, panelEnd) (columns >= N are not written).
  void (*gemmPanels)(const float* x, int ldx, int M, int K, const float* packed, const float* bias, float* y,
                     int ldy, int N, int panelBegin, int panelEnd);
  // Dot product with a fixed reduction order.
  float (*dot)(const float* a, const float* b, int n);
  // out[j] = dot(q, rows[j], d) * scale for j < n: each product exactly as dot computes it (attention scores).
  void (*scaledDots)(const float* q, const float* const* rows, int n, int d, float scale, float* out);
  // y += a * x
  void (*axpy)(float a, const float* x, float* y, int n);
  // y[i] = sum_j w[j] * rows[j][i] for i < d, as y = 0 followed by axpy(w[j], rows[j], y, d) for j = 0..n-1 (the same
  // fused multiply-adds in the same order, so the same bits), with y held in registers across the rows
  // (attention's weighted sum of value rows).
  void (*weightedSum)(const float* w, const float* const* rows, int n, float* y, int d);
  // sum_i exp(x[i] - shift) (exp(-inf) = 0), fixed order; exp accurate to ~1-2 ulp.
  float (*sumExp)(const float* x, int n, float shift);
  // x[i] = exp(x[i] - shift); returns their sum (fixed order).
  float (*expInPlace)(float* x, int n, float shift);
  // x = 0.5 * x * (1 + erf(x / sqrt(2))) elementwise (the same formula for every element, so chunking
  // never changes a value).
  void (*gelu)(float* x, std::size_t n);
};

// Portable versions of the AVX-512 exp / GELU arithmetic (same operations, std::fma): every table gives the
// same bits for dot, axpy, weightedSum, sumExp, expInPlace and gelu (the GEMM differs: generic multiplies and adds).
float referenceExp(float x);
float referenceGelu(float x);
float genericSumExp(const float* x, int n, float shift);
float genericExpInPlace(float* x, int n, float shift);
void genericGelu(float* x, std::size_t n);

const KernelTable& genericKernels();
const KernelTable& avx2Kernels();
const KernelTable& avx512Kernels();

// The best table this CPU runs; `forced` ("generic", "avx2", "avx512") overrides when supported.
const KernelTable& selectKernels(const CpuFeatures& cpu, const char* forced = nullptr);

}  // namespace glossa
