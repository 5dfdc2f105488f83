#include "model/weight_store.h"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace glossa {
namespace {

std::string shapeString(const std::vector<std::int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (std::size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

}  // namespace

WeightStore::WeightStore(const std::vector<TensorEntry>& entries, bool checkFinite) {
  for (const auto& e : entries) {
    auto it = files_.find(e.file);
    if (it == files_.end()) it = files_.emplace(e.file, std::make_unique<MappedFile>(e.file)).first;
    const MappedFile& f = *it->second;
    TensorRef t;
    t.name = e.name;
    t.file = e.file;
    t.shape = e.shape;
    t.checkFinite = checkFinite;
    if (!parseDType(e.dtype, &t.dtype))
      throw std::runtime_error(e.file + ": tensor " + e.name + ": unsupported dtype " + e.dtype +
                               " (expected F32, F16 or BF16)");
    if (t.isQ4()) {
      const std::size_t digits = t.dtype == DType::Q4A8 ? 5 : 3;  // "Q4A8G128" / "Q4G128"
      t.groupSize = e.dtype.size() > digits ? std::atoi(e.dtype.c_str() + digits) : 128;
      if (t.groupSize <= 0 || t.groupSize % 2 != 0)
        throw std::runtime_error(e.file + ": tensor " + e.name + ": bad 4-bit group size in " + e.dtype);
    }
    for (auto d : e.shape)
      if (d < 0) throw std::runtime_error(e.file + ": tensor " + e.name + ": negative dimension");
    const std::size_t expected = t.storageBytes();
    if (e.bytes != expected)
      throw std::runtime_error(e.file + ": tensor " + e.name + ": data is " + std::to_string(e.bytes) +
                               " bytes but shape " + shapeString(e.shape) + " of " + e.dtype + " needs " +
                               std::to_string(expected));
    if (e.offset > f.size() || e.bytes > f.size() - e.offset)
      throw std::runtime_error(e.file + ": tensor " + e.name + ": data ends at byte " +
                               std::to_string(e.offset + e.bytes) + " but the file has " + std::to_string(f.size()) +
                               " bytes (truncated?)");
    t.data = f.data() + e.offset;
    t.bytes = e.bytes;
    if (!tensors_.emplace(e.name, std::move(t)).second)
      throw std::runtime_error(e.file + ": tensor " + e.name + ": listed twice");
  }
  linkQuantized();
}

// Quantized weights "<name>" find their scales "<name>_scale" (and zero points "<name>_zero" for Q4).
void WeightStore::linkQuantized() {
  for (auto& kv : tensors_) {
    TensorRef& t = kv.second;
    if (!t.quantized()) continue;
    if (t.shape.size() != 2) throw std::runtime_error(t.describe() + ": quantized weight must be 2-D");
    const std::int64_t out = t.shape[0], in = t.shape[1];
    auto need = [&](const std::string& suffix, const std::vector<std::int64_t>& shape) -> const TensorRef* {
      auto it = tensors_.find(t.name + suffix);
      if (it == tensors_.end()) throw std::runtime_error(t.describe() + ": missing " + t.name + suffix);
      if (it->second.shape != shape)
        throw std::runtime_error(it->second.describe() + ": shape " + shapeString(it->second.shape) + ", expected " +
                                 shapeString(shape));
      return &it->second;
    };
    if (t.isQ4()) {
      const std::int64_t groups = (in + t.groupSize - 1) / t.groupSize;
      t.scale = need("_scale", {out, groups});
      t.zero = need("_zero", {out, groups});
      if (t.scale->dtype != DType::F16 && t.scale->dtype != DType::F32)
        throw std::runtime_error(t.scale->describe() + ": scales must be F16 or F32");
      if (t.zero->dtype != DType::U8) throw std::runtime_error(t.zero->describe() + ": zero points must be U8");
    } else {
      t.scale = need("_scale", {out});
      if (t.scale->dtype != DType::F32) throw std::runtime_error(t.scale->describe() + ": scales must be F32");
    }
  }
}

std::string WeightStore::files() const {
  std::string s;
  for (const auto& f : files_) s += (s.empty() ? "" : ", ") + f.first;
  return s;
}

const TensorRef* WeightStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const TensorRef& WeightStore::get(const std::string& name, const std::vector<std::int64_t>& shape) const {
  const TensorRef* t = find(name);
  if (t == nullptr) throw std::runtime_error(files() + ": tensor " + name + " is missing");
  if (t->shape != shape)
    throw std::runtime_error(t->describe() + ": shape " + shapeString(t->shape) + " does not match the config (" +
                             shapeString(shape) + ")");
  return *t;
}

}  // namespace glossa
