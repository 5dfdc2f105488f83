#pragma once
// IEEE half -> single precision, exact for every input (normals, subnormals, infinities, NaN payloads).
#include <cstdint>
#include <cstring>

namespace glossa {

// kFlag: *nonFinite |= 1 for Inf/NaN inputs, set inside the branch the conversion already takes for them, so
// the common (finite) path costs nothing extra (the load-time finiteness check, TensorRef::toFloat).
template <bool kFlag>
inline float halfToFloatFlag(std::uint16_t h, std::uint32_t* nonFinite) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      mant &= 0x3ffu;
      bits = sign | (static_cast<std::uint32_t>(127 - 15 - e) << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    if (kFlag) *nonFinite |= 1u;
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline float halfToFloat(std::uint16_t h) { return halfToFloatFlag<false>(h, nullptr); }

}  // namespace glossa
