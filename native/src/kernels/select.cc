#include <cstring>

#include "kernels/kernel_table.h"

namespace glossa {

const KernelTable& selectKernels(const CpuFeatures& cpu, const char* forced) {
  const bool has512 = cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq && cpu.fma;
  const bool has2 = cpu.avx2 && cpu.fma;
  if (forced != nullptr && forced[0] != '\0') {
    if (std::strcmp(forced, "generic") == 0) return genericKernels();
    if (std::strcmp(forced, "avx2") == 0 && has2) return avx2Kernels();
    if (std::strcmp(forced, "avx512") == 0 && has512) return avx512Kernels();
  }
  if (has512) return avx512Kernels();
  if (has2) return avx2Kernels();
  return genericKernels();
}

}  // namespace glossa
