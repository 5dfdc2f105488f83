// Read-only memory map of a whole file (RAII).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace glossa {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  std::size_t size() const { return size_; }
  const std::uint8_t* data() const { return data_; }

 private:
  std::string path_;
  std::size_t size_ = 0;
  const std::uint8_t* data_ = nullptr;
};

}  // namespace glossa
