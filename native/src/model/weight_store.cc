#include "model/weight_store.h"

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

WeightStore::WeightStore(const std::vector<TensorEntry>& entries) {
  for (const auto& e : entries) {
    auto it = files_.find(e.file);
    if (it == files_.end()) it = files_.emplace(e.file, std::make_unique<MappedFile>(e.file)).first;
    const MappedFile& f = *it->second;
    TensorRef t;
    t.name = e.name;
    t.file = e.file;
    t.shape = e.shape;
    if (!parseDType(e.dtype, &t.dtype))
      throw std::runtime_error(e.file + ": tensor " + e.name + ": unsupported dtype " + e.dtype +
                               " (expected F32, F16 or BF16)");
    for (auto d : e.shape)
      if (d < 0) throw std::runtime_error(e.file + ": tensor " + e.name + ": negative dimension");
    const std::size_t expected = static_cast<std::size_t>(t.elements()) * dtypeSize(t.dtype);
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
