#pragma once
#include <memory>

#include "backend/backend.h"
#include "core/thread_pool.h"
#include "kernels/kernel_table.h"

namespace glossa {

class CpuBackend : public Backend {
 public:
  // The thread pool belongs to the engine and outlives the backend.
  CpuBackend(const KernelTable& kernels, ThreadPool& pool);

  std::string name() const override { return kernels_.name; }
  int threads() const override { return pool_.size(); }
  ThreadPool& pool() { return pool_; }
  const KernelTable& kernels() const { return kernels_; }

  std::unique_ptr<Buffer> allocate(std::size_t floats) override;
  std::unique_ptr<Buffer> upload(const TensorRef& t) override;
  std::unique_ptr<Linear> createLinear(const std::vector<const TensorRef*>& weightParts,
                                       const std::vector<const TensorRef*>& biasParts) override;
  void download(const float* src, std::size_t n, float* hostDst) override;
  void copy(const float* src, float* dst, std::size_t n) override;

  void embed(const Linear& table, const int* tokens, const int* posIds, int M, float embedScale,
             const float* positions, int d, float* out) override;
  void layerNorm(const float* x, int M, int d, const float* gamma, const float* beta, float eps,
                 float* y) override;
  void activate(Activation a, float* x, std::size_t n) override;
  void addInPlace(float* x, const float* y, std::size_t n) override;
  void segmentAttention(const float* qkv, const int* segStart, const int* segLen, int segments, int heads, int d,
                        float scale, float* out) override;
  void storeKv(const PagedKvLayout& kv, int layer, const float* k, const float* v, int ld, int M,
               const int* slotBlock, const int* slotIndex) override;
  void pagedAttention(const PagedKvLayout& kv, int layer, const float* q, int ldq, int M, const AttentionRow* rows,
                      int heads, float scale, float* out) override;

 private:
  const KernelTable& kernels_;
  ThreadPool& pool_;
};

}  // namespace glossa
