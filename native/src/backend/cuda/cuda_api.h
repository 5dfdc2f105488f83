// The CUDA backend's entry points as plain C++ (no CUDA headers), for the backend registry. Compiled only when
// the addon is built with nvcc (GLOSSA_WITH_CUDA).
#pragma once
#include <memory>
#include <string>

#include "backend/backend.h"

namespace glossa {

// "" when device `ordinal` can run the backend, else why not (no driver, no device, cuBLAS not found, ...).
std::string cudaProbe(int ordinal = 0);
std::unique_ptr<Backend> createCudaBackend(const BackendSpec& spec, int ordinal);

}  // namespace glossa
