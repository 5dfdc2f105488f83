#pragma once
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "core/thread_pool.h"
#include "kernels/kernel_table.h"

namespace glossa {

class CpuBackend : public Backend {
 public:
  // The thread pool belongs to the engine and outlives the backend.
  CpuBackend(const KernelTable& kernels, ThreadPool& pool, bool hostSearchEmulation = false);

  std::string name() const override { return kernels_.name; }
  std::string device() const override { return "cpu"; }
  int threads() const override { return pool_.size(); }
  ThreadPool& pool() { return pool_; }
  const KernelTable& kernels() const { return kernels_; }

  std::unique_ptr<Buffer> allocate(std::size_t floats) override;
  std::unique_ptr<Buffer> upload(const TensorRef& t) override;
  std::unique_ptr<Linear> createLinear(const std::vector<const TensorRef*>& weightParts,
                                       const std::vector<const TensorRef*>& biasParts) override;
  void download(const float* src, std::size_t n, float* hostDst) override;
  void copy(const float* src, float* dst, std::size_t n) override;
  const int* uploadInts(const int* host, std::size_t) override { return host; }

  void embed(const Linear& table, const int* tokens, const int* posIds, int M, float embedScale,
             const float* positions, int d, float* out) override;
  void layerNorm(const float* x, int M, int d, const float* gamma, const float* beta, float eps,
                 float* y) override;
  void activate(Activation a, float* x, std::size_t n) override;
  void addInPlace(float* x, const float* y, std::size_t n) override;
  void gatherRows(const float* src, const int* rows, int n, int d, float* dst) override;
  void segmentAttention(const float* qkv, const SegmentRows& seg, int M, int heads, int d, float scale,
                        float* out) override;
  void storeKv(const PagedKvLayout& kv, int layer, const float* k, const float* v, int ld, int M,
               const int* slotBlock, const int* slotIndex) override;
  void pagedAttention(const PagedKvLayout& kv, int layer, const float* q, int ldq, int M, const PagedRows& rows,
                      int heads, float scale, float* out) override;

  // The device-search path computed on the host (tests compare it with the host search path).
  bool searchOnDevice() const override { return hostSearchEmulation_; }
  RowSearchResults enqueueRowSearch(const float* logits, int rows, int vocab, int ld, int k, const int* specialIds,
                                    int cap) override;

 private:
  const KernelTable& kernels_;
  ThreadPool& pool_;
  bool hostSearchEmulation_;
  std::vector<float> stats_, topValue_, special_;
  std::vector<int> topToken_;
};

}  // namespace glossa
