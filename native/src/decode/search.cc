#include "decode/search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace glossa {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// HF's no-repeat n-gram rule: calls ban(token) for every token that would complete an n-gram (n = ngram) already
// present in `tokens`; tokens outside [0, vocab) are skipped. Shared by the dense and the sparse processors.
template <typename Ban>
void forEachNgramBannedToken(const std::vector<int>& tokens, int ngram, int vocab, Ban&& ban) {
  const int curLen = static_cast<int>(tokens.size());
  if (ngram <= 0 || curLen + 1 < ngram) return;
  for (int i = 0; i + ngram <= curLen; ++i) {
    bool match = true;
    for (int j = 0; j < ngram - 1 && match; ++j)
      match = tokens[static_cast<std::size_t>(i + j)] == tokens[static_cast<std::size_t>(curLen - ngram + 1 + j)];
    if (match) {
      const int banned = tokens[static_cast<std::size_t>(i + ngram - 1)];
      if (banned >= 0 && banned < vocab) ban(banned);
    }
  }
}
}  // namespace

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
  forEachNgramBannedToken(tokens, opt.noRepeatNgramSize, vocab, [&](int banned) { scores[static_cast<std::size_t>(banned)] = kNegInf; });
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

namespace {

// log(sum(exp(x - mx))) with mx = max(x); float exponentials, double accumulation in a fixed order.
float logSumExpShifted(const float* x, std::size_t n, float mx, const SearchSettings& s) {
  if (s.sumExp != nullptr) return std::log(s.sumExp(x, static_cast<int>(n), mx));
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lanes[j] += static_cast<double>(std::exp(x[i + j] - mx));
  double sum = 0;
  for (; i < n; ++i) sum += static_cast<double>(std::exp(x[i] - mx));
  for (double l : lanes) sum += l;
  return static_cast<float>(std::log(sum));
}

bool better(const BeamCandidate& a, const BeamCandidate& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.beam != b.beam) return a.beam < b.beam;
  return a.token < b.token;
}

}  // namespace

void logSoftmax(std::vector<float>& x, const SearchSettings& s) {
  float mx = kNegInf;
  for (float v : x) mx = v > mx ? v : mx;
  if (mx == kNegInf) return;
  const float lse = logSumExpShifted(x.data(), x.size(), mx, s);
  for (float& v : x) v = (v - mx) - lse;
}

std::vector<BeamCandidate> rowCandidates(const float* logits, int vocab, const std::vector<int>& tokens,
                                         const DecodeOptions& opt, const SearchSettings& s, int forcedBosId,
                                         int maxLength, float beamScore, int beamIndex, int count,
                                         std::vector<float>& scratch) {
  scratch.assign(logits, logits + vocab);
  logSoftmax(scratch, s);
  applyLogitsProcessors(scratch, tokens, opt, s, forcedBosId, maxLength);
  // Keep the best `count` in a small sorted array; most values fail the first comparison.
  std::vector<BeamCandidate> top;
  top.reserve(static_cast<std::size_t>(count) + 1);
  float floor = kNegInf;  // score of the current last kept candidate once `count` are kept
  const float* v = scratch.data();
  constexpr int kBlock = 16;
  for (int t = 0; t < vocab; ++t) {
    if (t % kBlock == 0 && t + kBlock <= vocab) {
      // Skip a whole block when none of it can enter (vectorisable, no branches inside).
      bool any = false;
      for (int j = 0; j < kBlock; ++j) any |= (v[t + j] + beamScore >= floor);
      if (!any) {
        t += kBlock - 1;
        continue;
      }
    }
    const float sc = v[t] + beamScore;
    if (!(sc >= floor) || v[t] == kNegInf || sc == kNegInf) continue;  // fast reject (also NaN)
    const BeamCandidate c{sc, beamIndex, t};
    if (static_cast<int>(top.size()) == count && !better(c, top.back())) continue;
    top.insert(std::upper_bound(top.begin(), top.end(), c, better), c);
    if (static_cast<int>(top.size()) > count) top.pop_back();
    if (static_cast<int>(top.size()) == count) floor = top.back().score;
  }
  return top;
}

GreedyPick greedyPick(const float* logits, int vocab, const std::vector<int>& tokens, const DecodeOptions& opt,
                      const SearchSettings& s, int forcedBosId, int maxLength, std::vector<float>& scratch) {
  scratch.assign(logits, logits + vocab);
  applyLogitsProcessors(scratch, tokens, opt, s, forcedBosId, maxLength);
  int best = 0;
  for (int t = 1; t < vocab; ++t)
    if (scratch[static_cast<std::size_t>(t)] > scratch[static_cast<std::size_t>(best)]) best = t;
  const float mx = scratch[static_cast<std::size_t>(best)];
  const float lse = logSumExpShifted(scratch.data(), scratch.size(), mx, s);
  return GreedyPick{best, -lse};
}

std::vector<BeamCandidate> mergeCandidates(const std::vector<std::vector<BeamCandidate>>& rows, int count) {
  std::vector<BeamCandidate> all;
  for (const auto& r : rows) all.insert(all.end(), r.begin(), r.end());
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

SparseProcessors sparseProcessors(const std::vector<int>& tokens, const DecodeOptions& opt, const SearchSettings& s,
                                  int forcedBosId, int maxLength, int vocab) {
  SparseProcessors sp;
  const int curLen = static_cast<int>(tokens.size());
  // Forced BOS / EOS come last in HF's order and overwrite every other processor.
  if (s.forcedEosId >= 0 && curLen == maxLength - 1) {
    sp.forced = s.forcedEosId;
    return sp;
  }
  if (forcedBosId >= 0 && curLen == 1) {
    sp.forced = forcedBosId;
    return sp;
  }
  std::map<int, std::pair<bool, bool>> changed;  // token -> (penalized, banned)
  if (opt.repetitionPenalty != 1.0f)
    for (int t : tokens)
      if (t >= 0 && t < vocab) changed[t].first = true;
  forEachNgramBannedToken(tokens, opt.noRepeatNgramSize, vocab, [&](int banned) { changed[banned].second = true; });
  if (s.minLength > 0 && curLen < s.minLength && s.eosId >= 0 && s.eosId < vocab) changed[s.eosId].second = true;
  for (const auto& c : changed) {
    sp.ids.push_back(c.first);
    sp.penalized.push_back(c.second.first ? 1 : 0);
    sp.banned.push_back(c.second.second ? 1 : 0);
  }
  return sp;
}

namespace {

// applyLogitsProcessors on one changed value (penalty first, then bans), as the dense version does.
float processChanged(float v, bool penalized, bool banned, float penalty) {
  if (penalized) v = v < 0 ? v * penalty : v / penalty;
  if (banned) v = kNegInf;
  return v;
}

}  // namespace

std::vector<BeamCandidate> rowCandidatesFromReductions(const RowReductions& red, const SparseProcessors& sp,
                                                       const DecodeOptions& opt, float beamScore, int beamIndex,
                                                       int count) {
  std::vector<BeamCandidate> top;
  if (sp.forced >= 0) {
    top.push_back(BeamCandidate{0.f + beamScore, beamIndex, sp.forced});
    return top;
  }
  if (red.max == kNegInf) return top;  // log_softmax of an all -inf row leaves it -inf: no candidates
  const float mx = red.max;
  const float lse = std::log(red.sumExp);
  auto add = [&](float v, int token) {
    const float sc = v + beamScore;
    if (v == kNegInf || sc == kNegInf || !(sc == sc)) return;
    top.push_back(BeamCandidate{sc, beamIndex, token});
  };
  int taken = 0;
  for (int i = 0; i < red.k && taken < count; ++i) {
    const int t = red.topToken[i];
    if (t < 0) break;
    if (std::binary_search(sp.ids.begin(), sp.ids.end(), t)) continue;
    add((red.topValue[i] - mx) - lse, t);
    ++taken;
  }
  for (std::size_t j = 0; j < sp.ids.size(); ++j)
    add(processChanged((red.special[j] - mx) - lse, sp.penalized[j] != 0, sp.banned[j] != 0, opt.repetitionPenalty),
        sp.ids[j]);
  std::sort(top.begin(), top.end(), better);
  if (static_cast<int>(top.size()) > count) top.resize(static_cast<std::size_t>(count));
  return top;
}

GreedyPick greedyPickFromReductions(const RowReductions& red, const SparseProcessors& sp, const DecodeOptions& opt) {
  if (sp.forced >= 0) return GreedyPick{sp.forced, -std::log(1.0f)};
  // Best unchanged token: the first raw candidate that is not in the changed set.
  int best = -1;
  float bestValue = kNegInf;
  for (int i = 0; i < red.k; ++i) {
    const int t = red.topToken[i];
    if (t < 0) break;
    if (std::binary_search(sp.ids.begin(), sp.ids.end(), t)) continue;
    best = t;
    bestValue = red.topValue[i];
    break;
  }
  std::vector<float> changed(sp.ids.size());
  for (std::size_t j = 0; j < sp.ids.size(); ++j) {
    changed[j] = processChanged(red.special[j], sp.penalized[j] != 0, sp.banned[j] != 0, opt.repetitionPenalty);
    const float v = changed[j];
    if (best < 0 || v > bestValue || (v == bestValue && sp.ids[j] < best)) {
      best = sp.ids[j];
      bestValue = v;
    }
  }
  if (best < 0) return GreedyPick{0, 0.f};
  if (sp.ids.empty() && bestValue == red.max) return GreedyPick{best, -std::log(red.sumExp)};
  // sum exp(processed - best) = sum over the raw row, minus the changed tokens' raw terms, plus their new ones.
  double total = static_cast<double>(red.sumExp) * std::exp(static_cast<double>(red.max) - bestValue);
  for (std::size_t j = 0; j < sp.ids.size(); ++j) {
    total -= std::exp(static_cast<double>(red.special[j]) - bestValue);
    if (changed[j] != kNegInf) total += std::exp(static_cast<double>(changed[j]) - bestValue);
  }
  return GreedyPick{best, -static_cast<float>(std::log(std::max(total, 1e-30)))};
}

}  // namespace glossa
