#include "core/cpu_features.h"

namespace glossa {

CpuFeatures CpuFeatures::detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.f16c = __builtin_cpu_supports("f16c");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512dq = __builtin_cpu_supports("avx512dq");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
  f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
  return f;
}

std::vector<std::string> CpuFeatures::names() const {
  std::vector<std::string> out;
  if (avx2) out.push_back("avx2");
  if (fma) out.push_back("fma");
  if (f16c) out.push_back("f16c");
  if (avx512f) out.push_back("avx512f");
  if (avx512bw) out.push_back("avx512bw");
  if (avx512vl) out.push_back("avx512vl");
  if (avx512dq) out.push_back("avx512dq");
  if (avx512vnni) out.push_back("avx512vnni");
  if (avx512bf16) out.push_back("avx512bf16");
  return out;
}

}  // namespace glossa
