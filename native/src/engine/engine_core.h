// The step engine: owns the backend, model and KV block pool; admits waiting requests under a token
// budget, encodes them, advances every running sequence (all beams of all requests) by one token per
// step, preempts the newest requests when the pool runs out and resumes them later by recomputation.
// Not thread-safe by itself: the caller (the N-API binding) never runs two calls at once.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/thread_pool.h"
#include "core/cpu_features.h"
#include "decode/search.h"
#include "kvcache/block_pool.h"
#include "model/mbart.h"
#include "model/weight_store.h"

namespace glossa {

struct EngineOptions {
  int threads = 1;
  int kvBlocks = 0;              // 0: sized from the device's free memory x kvMemoryFraction (CUDA only)
  int blockSize = 16;
  bool checkFinite = true;  // refuse NaN/Inf weights at load (false only in the load-cost benchmark)
  std::string kernels;           // CPU kernel set, "" = best available
  std::string device = "cpu";    // "cpu", "cuda", "cuda:N"
  std::string compute;           // CUDA compute precision: "" / "f16", "bf16", "f32"
  bool deterministic = false;    // CUDA: batch-invariant kernels only
  bool cudaGraphs = true;        // CUDA: record decode steps at bucketed batch sizes
  bool hostSearchEmulation = false;  // CPU: run the device-search path on the host (tests)
  double kvMemoryFraction = 0.9;     // of the free device memory after the weights are loaded
};

struct GenerateRequest {
  std::vector<int> srcIds;
  int forcedBosId = -1;
  DecodeOptions options;
};

// One finished hypothesis of a beam search other than the best (n-best lists).
struct AlternativeResult {
  std::vector<int> ids;
  float score = 0.f;
  bool finishedByEos = false;
};

struct GenerateResult {
  std::vector<int> ids;
  float score = 0.f;
  bool finishedByEos = false;
  // Beam search: the other finished hypotheses, best first; empty for greedy.
  std::vector<AlternativeResult> alternatives;
};

struct StepResult {
  std::vector<std::pair<std::int64_t, std::vector<int>>> progress;
  std::vector<std::pair<std::int64_t, GenerateResult>> finished;
  std::vector<std::pair<std::int64_t, std::string>> failed;
  std::vector<std::int64_t> encoded;
  std::vector<std::int64_t> preempted;
  int batchSize = 0;
  int encodedTokens = 0;
};

struct RequestUse {
  std::int64_t id;
  const char* state;
  int selfBlocks;
  int crossBlocks;
};

struct PoolSnapshot {
  int blockSize, totalBlocks, usedBlocks, freeBlocks;
  std::vector<RequestUse> requests;
};

class EngineCore {
 public:
  EngineCore(const ModelConfig& cfg, const std::vector<TensorEntry>& tensors, const EngineOptions& opt);

  const ModelConfig& config() const { return cfg_; }
  const CpuFeatures& cpu() const { return cpu_; }
  const Backend& backend() const { return *backend_; }
  int kvBlocks() const { return pool_->totalBlocks(); }
  const char* precision() const { return model_->precision(); }

  void add(std::int64_t id, GenerateRequest req);  // throws std::invalid_argument on bad input
  bool cancel(std::int64_t id);
  StepResult step(int encodeTokenBudget);
  PoolSnapshot poolStats() const;
  std::vector<std::string> check() const;  // KV bookkeeping problems (empty when consistent)
  int pending() const { return static_cast<int>(requests_.size()); }

  // Encoder output [T, d] and first decoder step logits (decoder input = decoder start) for one source.
  void debugForward(const std::vector<int>& srcIds, std::vector<float>& encoderOut, std::vector<float>& logits);

 private:
  enum class State { Waiting, Running, Preempted };
  struct Beam {
    std::vector<int> tokens;
    float score = 0.f;
    BlockTable table;
    int cached = 0;       // tokens whose K/V are in the table (or written earlier in this pass, see below)
    int fillsShared = 0;  // resume: positions [0, fillsShared) are written by this beam for its siblings too
  };
  struct Request {
    std::int64_t id = 0;
    GenerateRequest req;
    State state = State::Waiting;
    CrossAttentionCache cross;
    std::vector<Beam> beams;
    std::vector<Hypothesis> finished;
    bool improvable = true;
    float greedyLogProb = 0.f;
  };

  int maxLength(const Request& r) const { return 1 + r.req.options.maxNewTokens; }
  int blocksFor(int tokens) const { return (tokens + pool_->blockSize() - 1) / pool_->blockSize(); }
  int admissionBlocks(const Request& r) const;
  // Full blocks of the common token prefix all beams of a preempted request can share when it resumes.
  int resumeSharedBlocks(const Request& r) const;
  // Resume: beam 0 recomputes the common prefix into blocks the other beams share (one pass, same bits).
  void shareResumePrefix(Request& r);
  void releaseBlocks(Request& r);
  void preempt(Request& r);
  // Search update from this step's per-row outcomes; returns true when the request finished (fills result).
  bool advanceGreedy(Request& r, const GreedyPick& pick, StepResult& out, GenerateResult& result);
  bool advanceBeams(Request& r, const std::vector<std::vector<BeamCandidate>>& rows, GenerateResult& result);

  ModelConfig cfg_;
  SearchSettings search_;
  CpuFeatures cpu_;
  std::unique_ptr<ThreadPool> threads_;  // compute threads: the backend's kernels and the host-side search
  std::unique_ptr<Backend> backend_;     // model code sees only the Backend interface
  std::unique_ptr<MBartModel> model_;
  std::unique_ptr<BlockPool> pool_;
  std::vector<std::unique_ptr<Request>> requests_;  // arrival order
  std::vector<float> logits_;                        // last step's logits, one row per sequence (host search)
  // Recorded decoder passes (Backend::replay): the logits and search results they leave, by key.
  struct Recorded {
    const float* logits = nullptr;
    RowSearchResults search;
  };
  std::map<std::uint64_t, Recorded> recorded_;
};

}  // namespace glossa
