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
  if (dtype == DType::Q4) {
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


void TensorRef::toFloat(std::size_t begin, std::size_t count, float* out) const {
  if (quantized()) throw std::runtime_error(describe() + ": quantized weights are read by a quantized Linear only");
  const std::size_t es = dtypeSize(dtype);
  if ((begin + count) * es > bytes) throw std::runtime_error(describe() + ": read past the tensor's data");
  const std::uint8_t* p = data + begin * es;
  switch (dtype) {
    case DType::F32:
      std::memcpy(out, p, count * 4);
      break;
    case DType::F16:
    case DType::F16H:
      for (std::size_t i = 0; i < count; ++i) {
        std::uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = halfToFloat(h);
      }
      break;
    case DType::BF16:
      for (std::size_t i = 0; i < count; ++i) {
        std::uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
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
}

std::vector<float> TensorRef::toFloatVector() const {
  std::vector<float> v(static_cast<std::size_t>(elements()));
  toFloat(0, v.size(), v.data());
  return v;
}

}  // namespace glossa
