#pragma once
#include <string>
#include <vector>

namespace glossa {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;

  static CpuFeatures detect();
  std::vector<std::string> names() const;
};

}  // namespace glossa
