// Portable kernels for quantized Linear layers and the selection of a table. The float-activation kernels
// (W8A16, W4A16, F16) use std::fma in the same per-element order as the AVX2 / AVX-512 kernels, and the
// int8-activation kernels (W8A8, W4A8) exact integer sums with the same float epilogue, so every table gives
// the same bits.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "quant/quant_kernels.h"

namespace glossa {
namespace {

constexpr int kW = 16;

void quantizeRows(const float* x, int ldx, int M, int K, int Kp, std::int8_t* xq, float* xScale) {
  for (int m = 0; m < M; ++m) {
    const float* r = x + static_cast<std::size_t>(m) * ldx;
    float amax = 0.f;
    for (int k = 0; k < K; ++k) amax = std::max(amax, std::fabs(r[k]));
    const float s = amax > 0.f ? amax / 127.f : 1.f;
    const float inv = 1.f / s;
    xScale[m] = s;
    std::int8_t* q = xq + static_cast<std::size_t>(m) * Kp;
    for (int k = 0; k < K; ++k) {
      const float v = std::nearbyint(r[k] * inv);
      q[k] = static_cast<std::int8_t>(v > 127.f ? 127.f : (v < -127.f ? -127.f : v));
    }
    for (int k = K; k < Kp; ++k) q[k] = 0;
  }
}

void gemmQ8(const float* x, int ldx, int M, int K, const std::int8_t* packed, const float* scale, const float* bias,
            float* y, int ldy, int N, int p0, int p1) {
  for (int p = p0; p < p1; ++p) {
    const std::int8_t* b = packed + static_cast<std::size_t>(p) * K * kW;
    const int col0 = p * kW, cols = std::min(kW, N - col0);
    for (int m = 0; m < M; ++m) {
      float acc[kW] = {};
      const float* xr = x + static_cast<std::size_t>(m) * ldx;
      for (int k = 0; k < K; ++k)
        for (int j = 0; j < kW; ++j) acc[j] = std::fma(xr[k], static_cast<float>(b[static_cast<std::size_t>(k) * kW + j]), acc[j]);
      float* out = y + static_cast<std::size_t>(m) * ldy + col0;
      for (int j = 0; j < cols; ++j) out[j] = std::fma(acc[j], scale[col0 + j], bias ? bias[col0 + j] : 0.f);
    }
  }
}

void gemmQ8A8(const std::int8_t* xq, const float* xScale, int M, int Kp, const std::int8_t* packed,
              const std::int32_t* colSum, const float* scale, const float* bias, float* y, int ldy, int N, int p0,
              int p1) {
  (void)colSum;
  const int K4 = Kp / 4;
  for (int p = p0; p < p1; ++p) {
    const std::int8_t* b = packed + static_cast<std::size_t>(p) * K4 * kW * 4;
    const int col0 = p * kW, cols = std::min(kW, N - col0);
    for (int m = 0; m < M; ++m) {
      std::int32_t acc[kW] = {};
      const std::int8_t* xr = xq + static_cast<std::size_t>(m) * Kp;
      for (int k4 = 0; k4 < K4; ++k4)
        for (int j = 0; j < kW; ++j)
          for (int t = 0; t < 4; ++t)
            acc[j] += static_cast<std::int32_t>(xr[k4 * 4 + t]) *
                      static_cast<std::int32_t>(b[(static_cast<std::size_t>(k4) * kW + j) * 4 + t]);
      float* out = y + static_cast<std::size_t>(m) * ldy + col0;
      for (int j = 0; j < cols; ++j)
        out[j] = std::fma(static_cast<float>(acc[j]), xScale[m] * scale[col0 + j], bias ? bias[col0 + j] : 0.f);
    }
  }
}

void gemmQ4(const float* x, int ldx, int M, int K, int groupSize, int groups, const std::uint8_t* packed,
            const float* scales, const float* zeros, const float* groupSums, const float* bias, float* y, int ldy,
            int N, int p0, int p1) {
  const int K2 = (K + 1) / 2;
  for (int p = p0; p < p1; ++p) {
    const std::uint8_t* b = packed + static_cast<std::size_t>(p) * K2 * kW;
    const float* sP = scales + static_cast<std::size_t>(p) * groups * kW;
    const float* zP = zeros + static_cast<std::size_t>(p) * groups * kW;
    const int col0 = p * kW, cols = std::min(kW, N - col0);
    for (int m = 0; m < M; ++m) {
      const float* xr = x + static_cast<std::size_t>(m) * ldx;
      float out[kW] = {};
      for (int g = 0; g < groups; ++g) {
        float lo[kW] = {}, hi[kW] = {};  // even / odd k chains
        const int kb = g * groupSize, ke = std::min(K, kb + groupSize);
        for (int k = kb; k < ke; k += 2) {
          const std::uint8_t* bk = b + static_cast<std::size_t>(k / 2) * kW;
          for (int j = 0; j < kW; ++j) lo[j] = std::fma(xr[k], static_cast<float>(bk[j] & 15), lo[j]);
          if (k + 1 < ke)
            for (int j = 0; j < kW; ++j) hi[j] = std::fma(xr[k + 1], static_cast<float>(bk[j] >> 4), hi[j]);
        }
        const float gs = groupSums[static_cast<std::size_t>(m) * groups + g];
        for (int j = 0; j < kW; ++j) out[j] = std::fma(sP[g * kW + j], std::fma(-zP[g * kW + j], gs, lo[j] + hi[j]), out[j]);
      }
      float* o = y + static_cast<std::size_t>(m) * ldy + col0;
      for (int j = 0; j < cols; ++j) o[j] = out[j] + (bias ? bias[col0 + j] : 0.f);
    }
  }
}

void gemmQ4A8(const std::int8_t* xq, const float* xScale, const std::int32_t* xGroupSum, int M, int Kp, int G, int groups,
              const std::uint8_t* packed, const float* scales, const std::int32_t* zeros, const float* bias, float* y,
              int ldy, int N, int p0, int p1) {
  const int K8 = Kp / 8, G8 = G / 8;
  for (int p = p0; p < p1; ++p) {
    const std::uint8_t* b = packed + static_cast<std::size_t>(p) * K8 * kW * 4;
    const float* sP = scales + static_cast<std::size_t>(p) * groups * kW;
    const std::int32_t* zP = zeros + static_cast<std::size_t>(p) * groups * kW;
    const int col0 = p * kW, cols = std::min(kW, N - col0);
    for (int m = 0; m < M; ++m) {
      const std::int8_t* xr = xq + static_cast<std::size_t>(m) * Kp;
      float out[kW] = {};
      for (int g = 0; g < groups; ++g) {
        std::int32_t acc[kW] = {};
        const int e8 = std::min(K8, (g + 1) * G8);
        for (int k8 = g * G8; k8 < e8; ++k8) {
          const std::uint8_t* bk = b + static_cast<std::size_t>(k8) * kW * 4;
          for (int j = 0; j < kW; ++j)
            for (int t = 0; t < 4; ++t) {
              const std::uint8_t v = bk[j * 4 + t];
              acc[j] += static_cast<std::int32_t>(v & 15) * xr[8 * k8 + t] + static_cast<std::int32_t>(v >> 4) * xr[8 * k8 + 4 + t];
            }
        }
        const std::int32_t gs = xGroupSum[static_cast<std::size_t>(m) * groups + g];
        for (int j = 0; j < kW; ++j) {
          out[j] = std::fma(sP[g * kW + j], static_cast<float>(acc[j] - zP[g * kW + j] * gs), out[j]);
        }
      }
      float* o = y + static_cast<std::size_t>(m) * ldy + col0;
      for (int j = 0; j < cols; ++j) {
        o[j] = std::fma(out[j], xScale[m], bias ? bias[col0 + j] : 0.f);
      }
    }
  }
}

void gemmF16(const float* x, int ldx, int M, int K, const std::uint16_t* packed, const float* bias, float* y, int ldy,
             int N, int p0, int p1) {
  for (int p = p0; p < p1; ++p) {
    const std::uint16_t* b = packed + static_cast<std::size_t>(p) * K * kW;
    const int col0 = p * kW, cols = std::min(kW, N - col0);
    for (int m = 0; m < M; ++m) {
      float acc[kW] = {};
      const float* xr = x + static_cast<std::size_t>(m) * ldx;
      for (int k = 0; k < K; ++k)
        for (int j = 0; j < kW; ++j) acc[j] = std::fma(xr[k], halfToFloat(b[static_cast<std::size_t>(k) * kW + j]), acc[j]);
      float* out = y + static_cast<std::size_t>(m) * ldy + col0;
      for (int j = 0; j < cols; ++j) out[j] = acc[j] + (bias ? bias[col0 + j] : 0.f);
    }
  }
}

const QuantKernelTable kGeneric{"generic", quantizeRows, gemmQ8, gemmQ8A8, gemmQ4, gemmQ4A8, gemmF16};

}  // namespace

const QuantKernelTable& genericQuantKernels() { return kGeneric; }


std::uint16_t floatToHalfValue(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
  if (absx >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (absx < 0x38800000u) {  // subnormal or zero in half
    float a;
    std::memcpy(&a, &absx, 4);
    const float scaled = a * 16777216.0f;  // 2^24: half subnormal unit
    const std::uint32_t m = static_cast<std::uint32_t>(std::nearbyint(scaled));
    return static_cast<std::uint16_t>(sign | m);
  }
  const std::uint32_t e = ((absx >> 23) - 127 + 15);
  std::uint32_t mant = absx & 0x7fffffu;
  std::uint32_t h = (e << 10) | (mant >> 13);
  const std::uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

const QuantKernelTable& selectQuantKernels(const CpuFeatures& cpu, const char* floatKernels) {
  const std::string name = floatKernels ? floatKernels : "";
  if (name == "avx512") return cpu.avx512vnni ? avx512VnniQuantKernels() : avx512QuantKernels();
  if (name == "avx2") return avx2QuantKernels();
  return genericQuantKernels();
}

}  // namespace glossa
