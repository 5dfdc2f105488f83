// A checked view of one tensor's bytes inside a memory-mapped checkpoint file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace glossa {

// F32/F16/BF16/I8/U8 are safetensors dtypes. The others are logical views of engine-file tensors built by
// the TypeScript engine-file reader (src/engine/engine-file.ts): F16H = F16 weights kept in half precision
// at run time; Q8 / Q8A8 = per-row int8 weights [out, in] (+ "<name>_scale" F32 [out]) run as W8A16 / W8A8;
// Q4 = asymmetric 4-bit weights, two per byte, rows of ceil(in / 2) bytes (+ "<name>_scale" F16 and
// "<name>_zero" U8 of shape [out, groups]), groups of groupSize along the input dimension; Q4A8 = the same
// stored bytes run as W4A8 (activations quantized per token to int8, VNNI / maddubs dot products).
enum class DType { F32, F16, BF16, I8, U8, F16H, Q8, Q8A8, Q4, Q4A8 };

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
  int groupSize = 0;                     // Q4 / Q4A8 only
  const TensorRef* scale = nullptr;      // Q8 / Q8A8 / Q4: linked by WeightStore
  const TensorRef* zero = nullptr;       // Q4 / Q4A8
  // Refuse NaN/Inf values (F32/F16/F16H/BF16) when converting or packing; false only to measure the check's cost.
  bool checkFinite = true;

  bool quantized() const { return dtype == DType::Q8 || dtype == DType::Q8A8 || isQ4(); }
  bool isQ4() const { return dtype == DType::Q4 || dtype == DType::Q4A8; }
  // Bytes the data must have for this dtype and shape.
  std::size_t storageBytes() const;

  std::int64_t elements() const;
  // Converts element range [begin, begin + count) to F32. The finiteness check is fused into the conversion:
  // a NaN or infinite value throws naming file, tensor and element (see requireFinite).
  void toFloat(std::size_t begin, std::size_t count, float* out) const;
  // Throws "<file>: tensor <name>: element [...] is NaN|inf|-inf ..." when a value in the range is not finite
  // (a no-op for integer dtypes and when checkFinite is false). For tensors packed without conversion (F16H).
  void requireFinite(std::size_t begin, std::size_t count) const;
  std::vector<float> toFloatVector() const;
  std::string describe() const;  // "file: tensor name"
};

}  // namespace glossa
