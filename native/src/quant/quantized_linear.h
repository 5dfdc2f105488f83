// Linear layers over quantized or half-precision weights (engine files built by the calibration
// pipeline), behind the same Linear interface as Float32Linear:
//  - Int8Linear: per-output-row symmetric int8 weights; activations kept in float (W8A16) or quantized
//    per token at run time to int8 (W8A8, VNNI dot products where present, AVX2 maddubs otherwise).
//  - Int4Linear: asymmetric 4-bit weights with a zero point per (row, group of groupSize inputs).
//  - Half16Linear: F16 weights (lm_head / tied embeddings) converted on the fly.
#pragma once
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "core/thread_pool.h"
#include "quant/quant_kernels.h"

namespace glossa {

// Builds the Linear for weight parts whose dtype is F16H, Q8, Q8A8 or Q4 (all parts the same dtype).
std::unique_ptr<Linear> createQuantizedLinear(const QuantKernelTable& kernels, ThreadPool& pool,
                                              const std::vector<const TensorRef*>& weightParts,
                                              const std::vector<const TensorRef*>& biasParts);

bool isQuantizedLinearDType(DType t);

}  // namespace glossa
