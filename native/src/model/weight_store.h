// Memory-maps checkpoint files and hands out bounds-checked tensor views by name.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "model/tensor_ref.h"

namespace glossa {

struct TensorEntry {
  std::string name;
  std::string file;
  std::size_t offset = 0;  // absolute byte offset of the data in the file
  std::size_t bytes = 0;
  std::string dtype;
  std::vector<std::int64_t> shape;
};

class WeightStore {
 public:
  // checkFinite: refuse NaN/Inf weights while converting (true everywhere; false only to measure its cost).
  explicit WeightStore(const std::vector<TensorEntry>& entries, bool checkFinite = true);

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // The tensor with this name and shape; throws naming file and tensor on any mismatch.
  const TensorRef& get(const std::string& name, const std::vector<std::int64_t>& shape) const;
  const TensorRef* find(const std::string& name) const;
  std::string files() const;

 private:
  void linkQuantized();

  std::map<std::string, std::unique_ptr<MappedFile>> files_;
  std::map<std::string, TensorRef> tensors_;
};

}  // namespace glossa
