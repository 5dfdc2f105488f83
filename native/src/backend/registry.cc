#include "backend/registry.h"

#include <stdexcept>

#include "backend/cpu_backend.h"
#include "kernels/kernel_table.h"
#ifdef GLOSSA_WITH_CUDA
#include "backend/cuda/cuda_api.h"
#endif

namespace glossa {

bool cudaCompiled() {
#ifdef GLOSSA_WITH_CUDA
  return true;
#else
  return false;
#endif
}

std::string cudaUnavailableReason() {
#ifdef GLOSSA_WITH_CUDA
  return cudaProbe();
#else
  return "this build of the native engine has no CUDA backend (nvcc was not found when it was built)";
#endif
}

std::unique_ptr<Backend> createBackend(const BackendSpec& spec, ThreadPool& pool, const CpuFeatures& cpu) {
  if (spec.device == "cpu" || spec.device.empty())
    return std::make_unique<CpuBackend>(selectKernels(cpu, spec.kernels.c_str()), pool, spec.hostSearchEmulation);
  if (spec.device == "cuda" || spec.device.rfind("cuda:", 0) == 0) {
    int ordinal = 0;
    if (spec.device.size() > 5) {
      const std::string n = spec.device.substr(5);
      if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos || n.size() > 3)
        throw std::invalid_argument("device \"" + spec.device + "\": expected cuda or cuda:N");
      ordinal = std::stoi(n);
    }
#ifdef GLOSSA_WITH_CUDA
    const std::string why = cudaProbe(ordinal);
    if (!why.empty()) throw std::runtime_error("device " + spec.device + " is not usable: " + why);
    return createCudaBackend(spec, ordinal);
#else
    (void)ordinal;
    throw std::runtime_error("device " + spec.device + " is not usable: " + cudaUnavailableReason());
#endif
  }
  throw std::invalid_argument("unknown device \"" + spec.device + "\" (expected cpu, cuda or cuda:N)");
}

}  // namespace glossa
