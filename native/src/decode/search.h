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

// The logits processors of one row in sparse form, for the device search path: a forced token (every other
// token -inf), or the few tokens whose value the processors change (`ids`, sorted; penalized by the repetition
// penalty and/or banned); every other token keeps its value.
struct SparseProcessors {
  int forced = -1;
  std::vector<int> ids;
  std::vector<unsigned char> penalized, banned;  // per entry of ids
};
SparseProcessors sparseProcessors(const std::vector<int>& tokens, const DecodeOptions& opt, const SearchSettings& s,
                                  int forcedBosId, int maxLength, int vocab);

// Row reductions computed where the logits are (Backend::enqueueRowSearch): max and sum exp(x - max) of the raw
// row, its k best raw values (best first, ties lower token first) and the raw values at sp.ids.
struct RowReductions {
  float max = 0.f, sumExp = 0.f;
  const float* topValue = nullptr;
  const int* topToken = nullptr;
  int k = 0;
  const float* special = nullptr;  // one per sp.ids entry
};
// How many raw candidates the device must return for a row that needs `count` candidates: enough that `count`
// remain after the row's special tokens are taken out, plus one.
inline int rawCandidatesNeeded(int count, const SparseProcessors& sp) { return count + static_cast<int>(sp.ids.size()) + 1; }

// rowCandidates / greedyPick from a row's reductions: the same candidates, order and log-probabilities as the host
// functions given the same row statistics (greedy log-probability of a row with changed tokens is recombined
// from the statistics in double precision).
std::vector<BeamCandidate> rowCandidatesFromReductions(const RowReductions& red, const SparseProcessors& sp,
                                                       const DecodeOptions& opt, float beamScore, int beamIndex,
                                                       int count);
GreedyPick greedyPickFromReductions(const RowReductions& red, const SparseProcessors& sp, const DecodeOptions& opt);

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
