// A checked view of one tensor's bytes inside a memory-mapped checkpoint file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace glossa {

enum class DType { F32, F16, BF16 };

const char* dtypeName(DType t);
std::size_t dtypeSize(DType t);
bool parseDType(const std::string& s, DType* out);

struct TensorRef {
  std::string name;
  std::string file;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  const std::uint8_t* data = nullptr;  // into the mapped file
  std::size_t bytes = 0;

  std::int64_t elements() const;
  // Converts element range [begin, begin + count) to F32.
  void toFloat(std::size_t begin, std::size_t count, float* out) const;
  std::vector<float> toFloatVector() const;
  std::string describe() const;  // "file: tensor name"
};

}  // namespace glossa
