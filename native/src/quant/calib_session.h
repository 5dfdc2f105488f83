// Calibration session: the unquantized model held as plain float matrices (one "unit" per engine Linear,
// fused parts as in MBartModel), run teacher-forced over a language's calibration set to collect input
// statistics of every Linear, then the quantization recipes (per-channel INT8 with a W8A8/W8A16 choice,
// AWQ INT4 with scale and clipping searches) and the sensitivity pass, all on simulated (fake-quantized)
// weights. The result is the tensor set of an engine file plus a per-unit report.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/kernel_table.h"
#include "model/config.h"
#include "model/weight_store.h"

namespace glossa {

struct CalibExample {
  std::vector<int> src;     // encoder ids
  std::vector<int> labels;  // [lang code, tokens..., eos]; the decoder is fed [decoderStart] + labels[:-1]
};

struct UnitStats {
  std::string unit;
  int in = 0;
  std::int64_t rows = 0;
  std::vector<float> absMax, meanAbs;
  int sampled = 0;
};

struct RecipeOptions {
  std::string recipe = "int8";  // "int8" | "awq-int4" | "fold-only" (AWQ scales folded, weights float: a test)
  int groupSize = 128;
  double klBudget = 0.02;       // nats per token, sum of per-unit estimates
  double a8Threshold = 1e-3;    // W8A8 when its relative output MSE is at most this
  int sensitivitySentences = 32;
  bool clip = true;
  bool sensitivity = true;
  // AWQ-INT4: run the INT4 layers as W4A8 (per-token int8 activations, "int4-g<G>-a8") and let the sensitivity
  // pass promote a layer to W8A8 when its W8A8 output error is within a8Threshold (else W8A16). false: W4A16.
  bool int4A8 = false;
  // "f16" (default: model.shared.weight serves embeddings and lm_head) or "int8": an extra per-row int8
  // lm_head.weight run as W8A8, the F16 shared table kept for the embeddings.
  std::string lmHead = "f16";
};

struct UnitReport {
  std::string unit;
  std::vector<std::string> parts;
  std::string precision;
  double relErrW8A16 = -1, relErrW8A8 = -1, awqAlpha = -1, awqErrBefore = -1, awqErrAfter = -1;
  std::vector<std::pair<std::string, double>> kl;  // level -> KL with only this unit at that level
};

struct OutTensor {
  std::string name, dtype, precision;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data;
};

struct RecipeResult {
  std::vector<OutTensor> tensors;
  std::vector<UnitReport> units;
  double klEstimate = 0, klMeasured = 0;
  int sensitivityRows = 0;
};

struct Progress {
  std::atomic<int> done{0}, total{0};
  std::string phase;  // written only by the worker between steps (read approximately)
};

class CalibSession {
 public:
  CalibSession(const ModelConfig& cfg, const std::vector<TensorEntry>& tensors, int threads);
  ~CalibSession();

  std::vector<UnitStats> collectStats(const std::vector<CalibExample>& examples, int sampleRows, std::uint64_t seed);
  RecipeResult quantize(const RecipeOptions& opt);
  Progress& progress() { return progress_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Progress progress_;
};

}  // namespace glossa
