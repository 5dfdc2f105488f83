#include "decode/search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace glossa {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
}

void applyLogitsProcessors(std::vector<float>& scores, const std::vector<int>& tokens, const DecodeOptions& opt,
                           const SearchSettings& s, int forcedBosId, int maxLength) {
  const int vocab = static_cast<int>(scores.size());
  const int curLen = static_cast<int>(tokens.size());
  if (opt.repetitionPenalty != 1.0f) {
    std::set<int> seen(tokens.begin(), tokens.end());
    for (int t : seen) {
      if (t < 0 || t >= vocab) continue;
      float& v = scores[static_cast<std::size_t>(t)];
      v = v < 0 ? v * opt.repetitionPenalty : v / opt.repetitionPenalty;
    }
  }
  const int n = opt.noRepeatNgramSize;
  if (n > 0 && curLen + 1 >= n) {
    // Ban every token that would complete an n-gram already present in the sequence.
    for (int i = 0; i + n <= curLen; ++i) {
      bool match = true;
      for (int j = 0; j < n - 1 && match; ++j) match = tokens[static_cast<std::size_t>(i + j)] == tokens[static_cast<std::size_t>(curLen - n + 1 + j)];
      if (match) {
        const int banned = tokens[static_cast<std::size_t>(i + n - 1)];
        if (banned >= 0 && banned < vocab) scores[static_cast<std::size_t>(banned)] = kNegInf;
      }
    }
  }
  if (s.minLength > 0 && curLen < s.minLength && s.eosId >= 0 && s.eosId < vocab)
    scores[static_cast<std::size_t>(s.eosId)] = kNegInf;
  if (forcedBosId >= 0 && curLen == 1) {
    std::fill(scores.begin(), scores.end(), kNegInf);
    scores[static_cast<std::size_t>(forcedBosId)] = 0.f;
  }
  if (s.forcedEosId >= 0 && curLen == maxLength - 1) {
    std::fill(scores.begin(), scores.end(), kNegInf);
    scores[static_cast<std::size_t>(s.forcedEosId)] = 0.f;
  }
}

void logSoftmax(std::vector<float>& x) {
  float mx = kNegInf;
  for (float v : x) mx = v > mx ? v : mx;
  if (mx == kNegInf) return;
  double sum = 0;
  for (float v : x) sum += std::exp(static_cast<double>(v - mx));
  const float lse = static_cast<float>(std::log(sum));
  for (float& v : x) v = (v - mx) - lse;
}

std::vector<BeamCandidate> topCandidates(const std::vector<std::vector<float>>& beamLogProbs,
                                         const std::vector<float>& beamScores, int count) {
  auto better = [](const BeamCandidate& a, const BeamCandidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.beam != b.beam) return a.beam < b.beam;
    return a.token < b.token;
  };
  std::vector<BeamCandidate> all;
  for (std::size_t b = 0; b < beamLogProbs.size(); ++b) {
    const auto& lp = beamLogProbs[b];
    std::vector<BeamCandidate> mine;
    mine.reserve(lp.size());
    for (std::size_t t = 0; t < lp.size(); ++t) {
      if (lp[t] == kNegInf) continue;
      const float sc = lp[t] + beamScores[b];
      if (sc == kNegInf) continue;
      mine.push_back({sc, static_cast<int>(b), static_cast<int>(t)});
    }
    if (static_cast<int>(mine.size()) > count) {
      std::nth_element(mine.begin(), mine.begin() + count, mine.end(), better);
      mine.resize(static_cast<std::size_t>(count));
    }
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end(), better);
  if (static_cast<int>(all.size()) > count) all.resize(static_cast<std::size_t>(count));
  return all;
}

void addHypothesis(std::vector<Hypothesis>& finished, Hypothesis h, int beamSize) {
  auto pos = std::upper_bound(finished.begin(), finished.end(), h.score,
                              [](float s, const Hypothesis& x) { return s > x.score; });
  finished.insert(pos, std::move(h));
  if (static_cast<int>(finished.size()) > beamSize) finished.resize(static_cast<std::size_t>(beamSize));
}

float lengthNormalised(float sumLogProbs, int generatedLength, float lengthPenalty) {
  const float denom = static_cast<float>(std::pow(static_cast<double>(generatedLength), static_cast<double>(lengthPenalty)));
  return sumLogProbs / denom;
}

}  // namespace glossa
