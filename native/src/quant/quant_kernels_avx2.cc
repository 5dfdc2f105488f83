// AVX2 W8A8 kernel (maddubs on |x| and sign-adjusted weights; exact int32 sums). The other quantized
// kernels of the AVX2 table are the portable ones.
#include "quant/quant_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx2,fma")

namespace glossa {
namespace quantdetail {

void avx2GemmQ8A8(const std::int8_t* xq, const float* xScale, int M, int Kp, const std::int8_t* packed,
                  const std::int32_t* colSum, const float* scale, const float* bias, float* y, int ldy, int N, int p0,
                  int p1) {
  (void)colSum;
  constexpr int kW = 16;
  const int K4 = Kp / 4;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int p = p0; p < p1; ++p) {
    const std::int8_t* b = packed + static_cast<std::size_t>(p) * K4 * kW * 4;
    const int col0 = p * kW, cols = N - col0 < kW ? N - col0 : kW;
    for (int m = 0; m < M; ++m) {
      __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
      const std::int8_t* xr = xq + static_cast<std::size_t>(m) * Kp;
      for (int k4 = 0; k4 < K4; ++k4) {
        std::int32_t x4;
        __builtin_memcpy(&x4, xr + k4 * 4, 4);
        const __m256i a = _mm256_set1_epi32(x4);
        const __m256i absA = _mm256_sign_epi8(a, a);
        const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + static_cast<std::size_t>(k4) * 64));
        const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + static_cast<std::size_t>(k4) * 64 + 32));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_maddubs_epi16(absA, _mm256_sign_epi8(w0, a)), ones));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_maddubs_epi16(absA, _mm256_sign_epi8(w1, a)), ones));
      }
      alignas(32) std::int32_t lanes[16];
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc0);
      _mm256_store_si256(reinterpret_cast<__m256i*>(lanes + 8), acc1);
      float* out = y + static_cast<std::size_t>(m) * ldy + col0;
      for (int j = 0; j < cols; ++j)
        out[j] = static_cast<float>(lanes[j]) * (xScale[m] * scale[col0 + j]) + (bias ? bias[col0 + j] : 0.f);
    }
  }
}

}  // namespace quantdetail
}  // namespace glossa
#pragma GCC pop_options

namespace glossa {
namespace {
const QuantKernelTable kAvx2{"avx2", genericQuantKernels().gemmQ8, quantdetail::avx2GemmQ8A8,
                             genericQuantKernels().gemmQ4, genericQuantKernels().gemmF16};
}
const QuantKernelTable& avx2QuantKernels() { return kAvx2; }
}  // namespace glossa
#else
namespace glossa {
namespace quantdetail {
void avx2GemmQ8A8(const std::int8_t* xq, const float* xScale, int M, int Kp, const std::int8_t* packed,
                  const std::int32_t* colSum, const float* scale, const float* bias, float* y, int ldy, int N, int p0,
                  int p1) {
  genericQuantKernels().gemmQ8A8(xq, xScale, M, Kp, packed, colSum, scale, bias, y, ldy, N, p0, p1);
}
}  // namespace quantdetail
const QuantKernelTable& avx2QuantKernels() { return genericQuantKernels(); }
}  // namespace glossa
#endif
