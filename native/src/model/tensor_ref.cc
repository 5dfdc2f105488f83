#include "model/tensor_ref.h"

#include "core/half.h"

#include <cstring>
#include <stdexcept>

namespace glossa {

const char* dtypeName(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::F16H: return "F16H";
    case DType::Q8: return "Q8";
    case DType::Q8A8: return "Q8A8";
    case DType::Q4: return "Q4";
    case DType::Q4A8: return "Q4A8";
  }
  return "?";
}

std::size_t dtypeSize(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: case DType::BF16: case DType::F16H: return 2;
    default: return 1;  // I8, U8, Q8, Q8A8 (Q4 packs two per byte: see storageBytes)
  }
}

std::size_t TensorRef::storageBytes() const {
  if (isQ4()) {
    if (shape.size() != 2) return 0;
    return static_cast<std::size_t>(shape[0]) * static_cast<std::size_t>((shape[1] + 1) / 2);
  }
  return static_cast<std::size_t>(elements()) * dtypeSize(dtype);
}

bool parseDType(const std::string& s, DType* out) {
  if (s == "F32") *out = DType::F32;
  else if (s == "F16") *out = DType::F16;
  else if (s == "BF16") *out = DType::BF16;
  else if (s == "I8") *out = DType::I8;
  else if (s == "U8") *out = DType::U8;
  else if (s == "F16H") *out = DType::F16H;
  else if (s == "Q8") *out = DType::Q8;
  else if (s == "Q8A8") *out = DType::Q8A8;
  else if (s == "Q4A8" || s.rfind("Q4A8G", 0) == 0) *out = DType::Q4A8;
  else if (s == "Q4" || s.rfind("Q4G", 0) == 0) *out = DType::Q4;
  else return false;
  return true;
}

std::int64_t TensorRef::elements() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string TensorRef::describe() const { return file + ": tensor " + name; }

namespace {

// Non-finite test on raw bits, branch-free so it stays inside the conversion loops: the exponent field is
// all ones exactly when adding one unit of the exponent's lowest bit carries into the sign bit's position.
inline std::uint32_t nonFiniteF16(std::uint16_t h) { return ((h & 0x7c00u) + 0x0400u) & 0x8000u; }
inline std::uint32_t nonFiniteBF16(std::uint16_t h) { return ((h & 0x7f80u) + 0x0080u) & 0x8000u; }
inline std::uint32_t nonFiniteF32(std::uint32_t b) { return ((b & 0x7f800000u) + 0x00800000u) & 0x80000000u; }

}  // namespace

// Slow path, only after a conversion saw a non-finite value: finds the first one and names it.
static void throwNonFinite(const TensorRef& t, std::size_t begin, std::size_t count) {
  const std::uint8_t* p = t.data + begin * dtypeSize(t.dtype);
  for (std::size_t i = 0; i < count; ++i) {
    bool bad = false, nan = false, neg = false;
    if (t.dtype == DType::F32) {
      std::uint32_t b;
      std::memcpy(&b, p + 4 * i, 4);
      bad = nonFiniteF32(b) != 0;
      nan = (b & 0x007fffffu) != 0;
      neg = (b >> 31) != 0;
    } else {
      std::uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      bad = t.dtype == DType::BF16 ? nonFiniteBF16(h) != 0 : nonFiniteF16(h) != 0;
      nan = t.dtype == DType::BF16 ? (h & 0x007fu) != 0 : (h & 0x03ffu) != 0;
      neg = (h >> 15) != 0;
    }
    if (!bad) continue;
    const std::size_t at = begin + i;
    std::string where;
    if (t.shape.size() == 2 && t.shape[1] > 0) {
      const auto cols = static_cast<std::size_t>(t.shape[1]);
      where = "[" + std::to_string(at / cols) + ", " + std::to_string(at % cols) + "]";
    } else {
      where = "[" + std::to_string(at) + "]";
    }
    throw std::runtime_error(t.describe() + ": element " + where + " is " + (nan ? "NaN" : neg ? "-inf" : "inf") +
                             "; non-finite weights are refused (the file is corrupt or was written from a diverged model)");
  }
}

void TensorRef::requireFinite(std::size_t begin, std::size_t count) const {
  if (!checkFinite) return;
  const std::size_t es = dtypeSize(dtype);
  if ((begin + count) * es > bytes) throw std::runtime_error(describe() + ": read past the tensor's data");
  const std::uint8_t* p = data + begin * es;
  std::uint32_t bad = 0;
  switch (dtype) {
    case DType::F32:
      for (std::size_t i = 0; i < count; ++i) {
        std::uint32_t b;
        std::memcpy(&b, p + 4 * i, 4);
        bad |= nonFiniteF32(b);
      }
      break;
    case DType::F16:
    case DType::F16H:
    case DType::BF16: {
      const bool bf = dtype == DType::BF16;
      for (std::size_t i = 0; i < count; ++i) {
        std::uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        bad |= bf ? nonFiniteBF16(h) : nonFiniteF16(h);
      }
      break;
    }
    default:
      return;  // integer codes are always finite
  }
  if (bad) throwNonFinite(*this, begin, count);
}


namespace {

// One conversion loop per dtype, with the finiteness test compiled in (kCheck) or out. The flag accumulates
// inside the loop and is examined once per call; the slow path (throwNonFinite) only runs when it is set.
template <bool kCheck>
std::uint32_t convert(DType dtype, const std::uint8_t* p, std::size_t count, float* out) {
  std::uint32_t bad = 0;
  switch (dtype) {
    case DType::F32:
      for (std::size_t i = 0; i < count; ++i) {  // copy as bits: vectorised together with the test
        std::uint32_t b;
        std::memcpy(&b, p + 4 * i, 4);
        if (kCheck) bad |= nonFiniteF32(b);
        std::memcpy(out + i, &b, 4);
      }
      break;
    case DType::F16:
    case DType::F16H:
      for (std::size_t i = 0; i < count; ++i) {
        std::uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = halfToFloatFlag<kCheck>(h, &bad);  // flagged in the Inf/NaN branch it already has
      }
      break;
    case DType::BF16:
      for (std::size_t i = 0; i < count; ++i) {
        std::uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        if (kCheck) bad |= nonFiniteBF16(h);
        const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
        std::memcpy(out + i, &bits, 4);
      }
      break;
    case DType::I8:
      for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<float>(static_cast<std::int8_t>(p[i]));
      break;
    case DType::U8:
      for (std::size_t i = 0; i < count; ++i) out[i] = static_cast<float>(p[i]);
      break;
    default:
      break;
  }
  return bad;
}

}  // namespace

void TensorRef::toFloat(std::size_t begin, std::size_t count, float* out) const {
  if (quantized()) throw std::runtime_error(describe() + ": quantized weights are read by a quantized Linear only");
  const std::size_t es = dtypeSize(dtype);
  if ((begin + count) * es > bytes) throw std::runtime_error(describe() + ": read past the tensor's data");
  const std::uint8_t* p = data + begin * es;
  if (!checkFinite) {
    convert<false>(dtype, p, count, out);
    return;
  }
  if (convert<true>(dtype, p, count, out) != 0) throwNonFinite(*this, begin, count);
}

std::vector<float> TensorRef::toFloatVector() const {
  std::vector<float> v(static_cast<std::size_t>(elements()));
  toFloat(0, v.size(), v.data());
  return v;
}

}  // namespace glossa
