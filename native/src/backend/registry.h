// The backend factory: the engine names a device ("cpu", "cuda", "cuda:N"), never a backend class.
#pragma once
#include <memory>
#include <string>

#include "backend/backend.h"
#include "core/cpu_features.h"
#include "core/thread_pool.h"

namespace glossa {

// The backend for spec.device. The thread pool (CPU kernels) belongs to the engine and outlives the backend.
// Throws std::invalid_argument for an unknown device and std::runtime_error (with the reason) when CUDA is asked
// for but not usable.
std::unique_ptr<Backend> createBackend(const BackendSpec& spec, ThreadPool& pool, const CpuFeatures& cpu);

// Whether this build holds the CUDA backend (nvcc was present when the addon was built).
bool cudaCompiled();
// "" when a CUDA device is usable, else why not ("built without CUDA", "no CUDA device visible: ...").
std::string cudaUnavailableReason();

}  // namespace glossa
