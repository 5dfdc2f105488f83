// Decoding with Hugging Face `generate` semantics (transformers 5.x `_sample` for greedy and the vectorised
// `_beam_search`), reimplemented per request so requests can join and leave between steps.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace glossa {

struct DecodeOptions {
  int beamSize = 1;
  int maxNewTokens = 64;
  float lengthPenalty = 1.0f;
  bool earlyStopping = true;
  int noRepeatNgramSize = 0;
  float repetitionPenalty = 1.0f;
};

// Settings that come from the model's generation_config.json / config.json.
struct SearchSettings {
  int eosId = 2;
  int forcedEosId = -1;
  int minLength = 0;
  // Vectorised sum of exp(x - shift) from the CPU kernel table (nullptr: portable loop).
  float (*sumExp)(const float* x, int n, float shift) = nullptr;
};

// The logits processors generate() builds for these options, applied in HF's order:
// repetition penalty, no-repeat n-gram, min length, forced BOS, forced EOS.
// `tokens` is the decoder sequence so far (decoder start included); maxLength = 1 + maxNewTokens.
void applyLogitsProcessors(std::vector<float>& scores, const std::vector<int>& tokens, const DecodeOptions& opt,
                           const SearchSettings& s, int forcedBosId, int maxLength);

// In-place log_softmax.
void logSoftmax(std::vector<float>& x, const SearchSettings& s);

struct BeamCandidate {
  float score;  // accumulated log-prob (running score + token log-prob)
  int beam;
  int token;
};

// One beam's row: log_softmax(logits), the logits processors, + beamScore; its best `count` candidates
// (best first, -inf never returned). `scratch` is reused between calls.
std::vector<BeamCandidate> rowCandidates(const float* logits, int vocab, const std::vector<int>& tokens,
                                         const DecodeOptions& opt, const SearchSettings& s, int forcedBosId,
                                         int maxLength, float beamScore, int beamIndex, int count,
                                         std::vector<float>& scratch);

// Greedy: processors on the raw logits, first argmax, and its log-probability.
struct GreedyPick {
  int token;
  float logProb;
};
GreedyPick greedyPick(const float* logits, int vocab, const std::vector<int>& tokens, const DecodeOptions& opt,
                      const SearchSettings& s, int forcedBosId, int maxLength, std::vector<float>& scratch);

// Merges per-beam candidate lists into the best `count` overall (best first; ties: lower beam, then lower token id).
std::vector<BeamCandidate> mergeCandidates(const std::vector<std::vector<BeamCandidate>>& rows, int count);

struct Hypothesis {
  std::vector<int> tokens;
  float score;
};

// HF's finished-beam set: keeps the best beamSize hypotheses (existing ones win ties).
void addHypothesis(std::vector<Hypothesis>& finished, Hypothesis h, int beamSize);

// Beam score of a sequence of generatedLength tokens (HF: sum_logprobs / generatedLength ** lengthPenalty).
float lengthNormalised(float sumLogProbs, int generatedLength, float lengthPenalty);

}  // namespace glossa
