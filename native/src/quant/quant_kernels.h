// Kernels for quantized and half-precision Linear layers (Int8Linear, Int4Linear, Half16Linear), one table
// per ISA like KernelTable. Packed layouts (16 output columns per panel, kPanelWidth):
//  - Q8 (W8A16):  int8  q[(p*K + k)*16 + j]                         = W[p*16+j][k]
//  - Q8A8 (W8A8): int8  q[((p*(Kp/4) + k4)*16 + j)*4 + t]           = W[p*16+j][4*k4+t]   (Kp = K rounded up to 4)
//  - Q4 (W4A16):  uint8 q[(p*(Kp/2) + kk)*16 + j] = q[n][2kk] | q[n][2kk+1] << 4          (Kp = K rounded up to 2)
//                 per (panel, group) 16 scales and 16 zero points as floats.
//  - Q4A8 (W4A8): uint8 q[((p*(Kp/8) + k8)*16 + j)*4 + t] = q[n][8k8+t] | q[n][8k8+4+t] << 4  (Kp = K rounded up
//                 to 8, zero codes past K), so one 64-byte load gives two 16x4 u8 operands of VNNI / maddubs;
//                 per (panel, group) 16 scales (float) and 16 zero points (int32); groupSize a multiple of 8.
//  - F16:         uint16 h[(p*K + k)*16 + j]                        = W[p*16+j][k]
// Batch invariance: every output element is computed with the same operation sequence whatever M is
// (per-row accumulation over K in order; the W8A8 products are exact int32 sums).
#pragma once

#include "core/half.h"
#include <cstddef>
#include <cstdint>

#include "core/cpu_features.h"

namespace glossa {

struct QuantKernelTable {
  const char* name;
  // Per-token symmetric int8 activations (W8A8, W4A8): xScale[m] = max_k |x[m][k]| / 127 (1 for a zero row),
  // xq[m * Kp + k] = round-half-even(x[m][k] * (1 / xScale[m])) clamped to +-127, zero for K <= k < Kp.
  // Every table gives the same bytes and scales (IEEE mul and round-to-nearest-even only).
  void (*quantizeRows)(const float* x, int ldx, int M, int K, int Kp, std::int8_t* xq, float* xScale);
  // y = (x . q^T) * scale[n] + bias[n]
  void (*gemmQ8)(const float* x, int ldx, int M, int K, const std::int8_t* packed, const float* scale,
                 const float* bias, float* y, int ldy, int N, int panelBegin, int panelEnd);
  // xq: M rows of Kp int8 (zero padded), xScale[m]; y = fma(float(xq . q), xScale[m] * scale[n], bias[n])
  void (*gemmQ8A8)(const std::int8_t* xq, const float* xScale, int M, int Kp, const std::int8_t* packed,
                   const std::int32_t* colSum, const float* scale, const float* bias, float* y, int ldy, int N,
                   int panelBegin, int panelEnd);
  // groupSums: M rows of `groups` sums of x over each group. y = sum_g s[g][n] * (x_g . q_g[n] - z[g][n] * groupSum) + bias
  void (*gemmQ4)(const float* x, int ldx, int M, int K, int groupSize, int groups, const std::uint8_t* packed,
                 const float* scales, const float* zeros, const float* groupSums, const float* bias, float* y,
                 int ldy, int N, int panelBegin, int panelEnd);
  // W4A8: xq/xScale from quantizeRows (rows of Kp = K rounded up to 8), xGroupSum[m * groups + g] = sum of xq over
  // group g. y = xScale[m] * sum_g s[g][n] * (xq_g . q_g[n] - z[g][n] * xGroupSum) + bias[n], the dot products and
  // the zero-point term in exact int32, then per group out = fma(s, float(int), out) and y = fma(out, xScale, bias)
  // (every table gives the same bits).
  void (*gemmQ4A8)(const std::int8_t* xq, const float* xScale, const std::int32_t* xGroupSum, int M, int Kp, int groupSize,
                   int groups, const std::uint8_t* packed, const float* scales, const std::int32_t* zeros, const float* bias,
                   float* y, int ldy, int N, int panelBegin, int panelEnd);
  void (*gemmF16)(const float* x, int ldx, int M, int K, const std::uint16_t* packed, const float* bias, float* y,
                  int ldy, int N, int panelBegin, int panelEnd);
};

const QuantKernelTable& genericQuantKernels();
const QuantKernelTable& avx2QuantKernels();
const QuantKernelTable& avx512QuantKernels();  // AVX-512 (+ VNNI for W8A8 when present)
const QuantKernelTable& avx512VnniQuantKernels();

// The quantized kernels matching a float kernel set name ("avx512", "avx2", "generic") on this CPU.
const QuantKernelTable& selectQuantKernels(const CpuFeatures& cpu, const char* floatKernels);

// IEEE half <-> float (round to nearest even).
std::uint16_t floatToHalfValue(float f);

}  // namespace glossa
