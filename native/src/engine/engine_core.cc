#include "engine/engine_core.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <map>

#include "backend/registry.h"
#include "kernels/kernel_table.h"

namespace glossa {

EngineCore::EngineCore(const ModelConfig& cfg, const std::vector<TensorEntry>& tensors, const EngineOptions& opt)
    : cfg_(cfg), cpu_(CpuFeatures::detect()) {
  search_.eosId = cfg.eosId;
  search_.forcedEosId = cfg.forcedEosId;
  search_.minLength = cfg.minLength;
  const KernelTable& kt = selectKernels(cpu_, opt.kernels.c_str());
  search_.sumExp = kt.sumExp;
  threads_ = std::make_unique<ThreadPool>(opt.threads);
  BackendSpec spec;
  spec.device = opt.device;
  spec.kernels = opt.kernels;
  spec.compute = opt.compute;
  spec.deterministic = opt.deterministic;
  spec.cudaGraphs = opt.cudaGraphs;
  spec.hostSearchEmulation = opt.hostSearchEmulation;
  backend_ = createBackend(spec, *threads_, cpu_);
  backend_->bindThread();
  WeightStore weights(tensors, opt.checkFinite);
  model_ = std::make_unique<MBartModel>(cfg, weights, *backend_);
  if (opt.blockSize <= 0 || opt.kvBlocks < 0) throw std::invalid_argument("kvBlocks and blockSize must be positive");
  int blocks = opt.kvBlocks;
  if (blocks == 0) {
    // Size the pool from the device memory left after the weights (CUDA), keeping 1 - fraction free.
    const DeviceMemory mem = backend_->memory();
    if (mem.total == 0) throw std::invalid_argument("kvBlocks must be positive on the " + backend_->device() + " backend");
    if (!(opt.kvMemoryFraction > 0 && opt.kvMemoryFraction <= 1))
      throw std::invalid_argument("kvMemoryFraction must be in (0, 1]");
    PagedKvLayout probe;
    probe.blockSize = opt.blockSize;
    probe.layers = cfg.decoderLayers;
    probe.d = cfg.dModel;
    probe.elementBytes = backend_->kvElementBytes();
    const double budget = static_cast<double>(mem.free) * opt.kvMemoryFraction;
    blocks = static_cast<int>(std::min(budget / static_cast<double>(probe.blockBytes()) - 1, 4.0e6));
    if (blocks < 8)
      throw std::runtime_error("not enough free device memory for a KV cache (" + std::to_string(mem.free >> 20) +
                               " MiB free after the weights)");
  }
  pool_ = std::make_unique<BlockPool>(*backend_, blocks, opt.blockSize, cfg.decoderLayers, cfg.dModel);
}

void EngineCore::add(std::int64_t id, GenerateRequest req) {
  for (const auto& r : requests_)
    if (r->id == id) throw std::invalid_argument("request id " + std::to_string(id) + " is already live");
  const auto& o = req.options;
  const int n = static_cast<int>(req.srcIds.size());
  if (n == 0) throw std::invalid_argument("srcIds is empty");
  if (n > cfg_.maxPositions)
    throw std::invalid_argument("source has " + std::to_string(n) + " tokens; the model accepts at most " +
                                std::to_string(cfg_.maxPositions));
  for (int t : req.srcIds)
    if (t < 0 || t >= cfg_.vocabSize) throw std::invalid_argument("source token id " + std::to_string(t) + " is out of the vocabulary");
  if (req.forcedBosId < -1 || req.forcedBosId >= cfg_.vocabSize)
    throw std::invalid_argument("forcedBosId " + std::to_string(req.forcedBosId) + " is out of the vocabulary");
  if (o.beamSize < 1 || o.beamSize > 64) throw std::invalid_argument("beamSize must be in [1, 64]");
  if (o.maxNewTokens < 1 || o.maxNewTokens + 1 > cfg_.maxPositions)
    throw std::invalid_argument("maxNewTokens must be in [1, " + std::to_string(cfg_.maxPositions - 1) + "]");
  if (!std::isfinite(o.lengthPenalty)) throw std::invalid_argument("lengthPenalty must be finite");
  if (o.noRepeatNgramSize < 0) throw std::invalid_argument("noRepeatNgramSize must be >= 0");
  if (!(o.repetitionPenalty > 0) || !std::isfinite(o.repetitionPenalty))
    throw std::invalid_argument("repetitionPenalty must be > 0");
  auto r = std::make_unique<Request>();
  r->id = id;
  r->req = std::move(req);
  requests_.push_back(std::move(r));
}

void EngineCore::releaseBlocks(Request& r) {
  for (auto& b : r.beams) {
    b.table.releaseAll(*pool_);
    b.cached = 0;
    b.fillsShared = 0;
  }
  r.cross.releaseAll(*pool_);
}

void EngineCore::preempt(Request& r) {
  releaseBlocks(r);
  r.state = State::Preempted;
}

bool EngineCore::cancel(std::int64_t id) {
  for (auto it = requests_.begin(); it != requests_.end(); ++it) {
    if ((*it)->id != id) continue;
    releaseBlocks(**it);
    requests_.erase(it);
    return true;
  }
  return false;
}

int EngineCore::admissionBlocks(const Request& r) const {
  int need = blocksFor(static_cast<int>(r.req.srcIds.size()));
  if (r.beams.empty()) return need + 1;
  for (const auto& b : r.beams) need += blocksFor(static_cast<int>(b.tokens.size()));
  return need - resumeSharedBlocks(r) * (static_cast<int>(r.beams.size()) - 1);
}

int EngineCore::resumeSharedBlocks(const Request& r) const {
  if (r.beams.size() < 2) return 0;
  const std::vector<int>& first = r.beams[0].tokens;
  std::size_t common = first.size();
  for (const auto& b : r.beams) {
    std::size_t i = 0;
    while (i < common && i < b.tokens.size() && b.tokens[i] == first[i]) ++i;
    common = i;
    common = std::min(common, b.tokens.size() - 1);  // every beam still feeds at least its last token
  }
  return static_cast<int>(common) / pool_->blockSize();
}

void EngineCore::shareResumePrefix(Request& r) {
  const int shared = resumeSharedBlocks(r);
  if (shared == 0) return;
  Beam& producer = r.beams[0];
  const int sharedTokens = shared * pool_->blockSize();
  if (!producer.table.prepareWrite(*pool_, 0, sharedTokens))
    throw std::logic_error("KV pool ran out while resuming (admission reserved the blocks)");
  producer.fillsShared = sharedTokens;
  for (std::size_t i = 1; i < r.beams.size(); ++i) {
    r.beams[i].table.shareFirst(*pool_, producer.table, shared);
    r.beams[i].cached = sharedTokens;  // written by the producer earlier in the same layer of the coming pass
  }
}

StepResult EngineCore::step(int encodeTokenBudget) {
  backend_->bindThread();
  StepResult out;
  const int budget = encodeTokenBudget > 0 ? encodeTokenBudget : (1 << 30);

  // 1. Admission (arrival order: preempted requests come back before newer waiting ones).
  std::vector<Request*> admitted;
  int freeLeft = pool_->freeBlocks();
  for (auto& rp : requests_) {
    Request& r = *rp;
    if (r.state == State::Running) continue;
    const int need = admissionBlocks(r);
    if (need > pool_->totalBlocks()) {
      out.failed.emplace_back(r.id, "request needs " + std::to_string(need) + " KV blocks but the pool has only " +
                                        std::to_string(pool_->totalBlocks()));
      continue;
    }
    const int len = static_cast<int>(r.req.srcIds.size());
    if (out.encodedTokens > 0 && out.encodedTokens + len > budget) break;
    if (need > freeLeft) break;
    freeLeft -= need;
    r.cross.sourceLength = len;
    for (int i = 0; i < blocksFor(len); ++i) r.cross.blocks.push_back(pool_->allocate());
    out.encodedTokens += len;
    admitted.push_back(&r);
  }
  for (const auto& f : out.failed) cancel(f.first);
  if (!admitted.empty()) {
    std::vector<EncodeItem> items;
    for (Request* r : admitted)
      items.push_back(EncodeItem{r->req.srcIds.data(), static_cast<int>(r->req.srcIds.size()), r->cross.blocks.data()});
    try {
      model_->encode(items, pool_->layout());
    } catch (const std::exception& e) {
      // The requests fail; their blocks go back to the pool.
      for (Request* r : admitted) out.failed.emplace_back(r->id, std::string("encoder failed: ") + e.what());
      for (Request* r : admitted) cancel(r->id);
      admitted.clear();
    }
    for (Request* r : admitted) {
      r->state = State::Running;
      if (r->beams.empty()) {
        Beam b;
        b.tokens.push_back(cfg_.decoderStartId);
        r->beams.push_back(std::move(b));
      } else {
        shareResumePrefix(*r);
      }
      out.encoded.push_back(r->id);
    }
  }

  // 2. Make room for this step's K/V writes, preempting the newest running requests when needed.
  for (;;) {
    int need = 0;
    std::vector<Request*> running;
    for (auto& rp : requests_)
      if (rp->state == State::Running) {
        running.push_back(rp.get());
        for (const auto& b : rp->beams)
          need += b.table.blocksNeeded(*pool_, b.cached, static_cast<int>(b.tokens.size()), b.fillsShared);
      }
    if (need <= pool_->freeBlocks() || running.empty()) break;
    Request* victim = running.back();
    if (running.size() == 1) {
      out.failed.emplace_back(victim->id, "request needs more KV blocks than the pool has (" +
                                              std::to_string(pool_->totalBlocks()) + " blocks of " +
                                              std::to_string(pool_->blockSize()) + " tokens)");
      cancel(victim->id);
      break;
    }
    preempt(*victim);
    out.preempted.push_back(victim->id);
  }
  std::vector<Request*> running;
  std::vector<DecodeSequence> seqs;
  for (auto& rp : requests_) {
    if (rp->state != State::Running) continue;
    running.push_back(rp.get());
    for (auto& b : rp->beams) {
      if (!b.table.prepareWrite(*pool_, b.cached, static_cast<int>(b.tokens.size()), b.fillsShared))
        throw std::logic_error("KV pool ran out after the step reserved its blocks");
      // Never write into a block another sequence reads (except a resume prefix this beam fills for its
      // siblings of the same request, with the values they would compute themselves).
      for (int idx = b.cached / pool_->blockSize(); idx <= (static_cast<int>(b.tokens.size()) - 1) / pool_->blockSize(); ++idx)
        if (idx * pool_->blockSize() >= b.fillsShared && pool_->refcount(b.table.blocks()[static_cast<std::size_t>(idx)]) != 1)
          throw std::logic_error("a decode step would overwrite a shared KV block");
      DecodeSequence s;
      s.tokens = b.tokens.data() + b.cached;
      s.start = b.cached;
      s.count = static_cast<int>(b.tokens.size()) - b.cached;
      s.selfBlocks = b.table.blocks().data();
      s.crossBlocks = rp->cross.blocks.data();
      s.sourceLength = rp->cross.sourceLength;
      seqs.push_back(s);
    }
  }
  out.batchSize = static_cast<int>(seqs.size());
  if (seqs.empty()) return out;

  // 3. One decoder pass over every live beam. Its integer inputs (and the device search's) are uploaded once.
  //    Host search: the logits come back and every row is searched here. Device search: each row's reductions
  //    (statistics, best raw candidates, the values of tokens the logits processors change) come back instead,
  //    except for rows whose processors change too many tokens (their logits come back).
  const std::size_t V = static_cast<std::size_t>(cfg_.vocabSize);
  struct RowJob {
    Request* request;
    int beam;
    std::size_t row;
    SparseProcessors sp;
    bool host = true;
  };
  std::vector<RowJob> jobs;
  {
    std::size_t row = 0;
    for (Request* r : running)
      for (std::size_t b = 0; b < r->beams.size(); ++b) jobs.push_back(RowJob{r, static_cast<int>(b), row++, {}, true});
  }
  const bool deviceSearch = backend_->searchOnDevice();
  constexpr int kMaxDeviceK = 64, kMaxDeviceCap = 32;
  int k = 0, cap = 0;
  if (deviceSearch) {
    for (RowJob& j : jobs) {
      const Request& r = *j.request;
      const Beam& beam = r.beams[static_cast<std::size_t>(j.beam)];
      j.sp = sparseProcessors(beam.tokens, r.req.options, search_, r.req.forcedBosId, maxLength(r), cfg_.vocabSize);
      const int count = r.req.options.beamSize == 1 ? 1 : 2 * r.req.options.beamSize;
      const int need = rawCandidatesNeeded(count, j.sp);
      j.host = need > kMaxDeviceK || static_cast<int>(j.sp.ids.size()) > kMaxDeviceCap;
      if (j.host || j.sp.forced >= 0) continue;
      k = std::max(k, need);
      cap = std::max(cap, static_cast<int>(j.sp.ids.size()));
    }
    auto pow2 = [](int v) {
      int p = 1;
      while (p < v) p *= 2;
      return p;
    };
    k = pow2(std::max(k, 1));
    cap = cap == 0 ? 0 : std::max(4, pow2(cap));
  }
  bool pure = true;
  for (const auto& s : seqs) pure = pure && s.count == 1;
  int padRows = 0;
  if (pure && backend_->recordsSteps()) {
    static const int kBuckets[] = {1, 2, 4, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512};
    for (int b : kBuckets)
      if (b >= static_cast<int>(seqs.size())) {
        padRows = b;
        break;
      }
  }
  StepInputs in;
  DecodePlan plan;
  int specialsAt = 0;
  try {
    plan = model_->planDecode(seqs, pool_->blockSize(), padRows, pool_->spareBlock(), in);
    if (cap > 0) {
      specialsAt = in.fill(static_cast<std::size_t>(plan.S) * cap, -1);
      for (const RowJob& j : jobs)
        if (!j.host && j.sp.forced < 0)
          for (std::size_t i = 0; i < j.sp.ids.size(); ++i) in.at(specialsAt)[j.row * cap + i] = j.sp.ids[i];
    }
  } catch (const std::exception& e) {
    for (Request* r : running) out.failed.emplace_back(r->id, std::string("decoder failed: ") + e.what());
    for (Request* r : running) cancel(r->id);
    return out;
  }
  std::vector<float>& logits = logits_;  // host search: reused across steps (no page faults for the big rows)
  const std::size_t ld = static_cast<std::size_t>(model_->logitsStride());  // row stride of the device logits
  Recorded pass;
  try {
    const int* dev = backend_->uploadInts(in.data().data(), in.data().size());
    const PagedKvLayout& kv = pool_->layout();
    auto enqueue = [&] {
      pass.logits = model_->runDecode(plan, dev, kv);
      if (deviceSearch)
        pass.search = backend_->enqueueRowSearch(pass.logits, plan.S, cfg_.vocabSize, ld, k, cap ? dev + specialsAt : nullptr, cap);
    };
    if (padRows > 0) {
      const std::uint64_t key = (static_cast<std::uint64_t>(plan.M) << 32) | (static_cast<std::uint64_t>(k) << 16) |
                                static_cast<std::uint64_t>(cap);
      bool ran = false;
      backend_->replay(key, [&] {
        enqueue();
        ran = true;
      });
      if (ran) recorded_[key] = pass;
      else pass = recorded_.at(key);
    } else {
      enqueue();
    }
    if (!deviceSearch) {
      logits.resize(static_cast<std::size_t>(plan.S) * V);
      backend_->downloadRows(pass.logits, static_cast<std::size_t>(plan.S), V, ld, logits.data());
    } else {
      // Rows searched on the host: their logits come back.
      for (const RowJob& j : jobs)
        if (j.host) {
          if (logits.size() < (j.row + 1) * V) logits.resize(static_cast<std::size_t>(plan.S) * V);
          backend_->download(pass.logits + j.row * ld, V, logits.data() + j.row * V);
        }
    }
    backend_->synchronize();
  } catch (const std::exception& e) {
    for (Request* r : running) out.failed.emplace_back(r->id, std::string("decoder failed: ") + e.what());
    for (Request* r : running) cancel(r->id);
    return out;
  }
  for (Request* r : running)
    for (auto& b : r->beams) {
      b.cached = static_cast<int>(b.tokens.size());
      b.fillsShared = 0;
    }

  // 4. Search update: the heavy per-row work (log-softmax, processors, top-k) in parallel, then the
  //    per-request bookkeeping (block forks, finished hypotheses) serially.
  std::vector<std::vector<BeamCandidate>> rowCands(jobs.size());
  std::vector<GreedyPick> picks(jobs.size());
  threads_->parallelFor(jobs.size(), [&](std::size_t b, std::size_t e) {
    std::vector<float> scratch;
    for (std::size_t i = b; i < e; ++i) {
      const RowJob& j = jobs[i];
      const Request& r = *j.request;
      const Beam& beam = r.beams[static_cast<std::size_t>(j.beam)];
      const bool greedy = r.req.options.beamSize == 1;
      if (!j.host) {
        RowReductions red;
        const RowSearchResults& s = pass.search;
        if (j.sp.forced < 0) {
          red.max = s.stats[2 * j.row];
          red.sumExp = s.stats[2 * j.row + 1];
          red.topValue = s.topValue + j.row * k;
          red.topToken = s.topToken + j.row * k;
          red.k = k;
          red.special = cap ? s.special + j.row * cap : nullptr;
        }
        if (greedy)
          picks[i] = greedyPickFromReductions(red, j.sp, r.req.options);
        else
          rowCands[i] = rowCandidatesFromReductions(red, j.sp, r.req.options, beam.score, j.beam,
                                                    2 * r.req.options.beamSize);
        continue;
      }
      const float* rl = logits.data() + j.row * V;
      if (greedy)
        picks[i] = greedyPick(rl, cfg_.vocabSize, beam.tokens, r.req.options, search_, r.req.forcedBosId, maxLength(r), scratch);
      else
        rowCands[i] = rowCandidates(rl, cfg_.vocabSize, beam.tokens, r.req.options, search_, r.req.forcedBosId,
                                    maxLength(r), beam.score, j.beam, 2 * r.req.options.beamSize, scratch);
    }
  });
  std::vector<std::int64_t> done;
  std::size_t next = 0;
  for (Request* r : running) {
    const std::size_t first = next;
    next += r->beams.size();
    GenerateResult result;
    bool finished;
    if (r->req.options.beamSize == 1) {
      finished = advanceGreedy(*r, picks[first], out, result);
    } else {
      std::vector<std::vector<BeamCandidate>> rows(rowCands.begin() + static_cast<std::ptrdiff_t>(first),
                                                    rowCands.begin() + static_cast<std::ptrdiff_t>(next));
      finished = advanceBeams(*r, rows, result);
      if (!finished) out.progress.emplace_back(r->id, std::vector<int>{});  // beams report tokens at the end
    }
    if (finished) {
      out.finished.emplace_back(r->id, std::move(result));
      done.push_back(r->id);
    }
  }
  for (auto id : done) cancel(id);
  return out;
}

bool EngineCore::advanceGreedy(Request& r, const GreedyPick& pick, StepResult& out, GenerateResult& result) {
  Beam& b = r.beams.at(0);
  const int best = pick.token;
  r.greedyLogProb += pick.logProb;
  b.tokens.push_back(best);
  out.progress.emplace_back(r.id, std::vector<int>{best});
  const bool eos = best == cfg_.eosId;
  if (eos || static_cast<int>(b.tokens.size()) >= maxLength(r)) {
    result.ids = b.tokens;
    result.score = r.greedyLogProb;
    result.finishedByEos = eos;
    return true;
  }
  return false;
}

bool EngineCore::advanceBeams(Request& r, const std::vector<std::vector<BeamCandidate>>& rows, GenerateResult& result) {
  const DecodeOptions& o = r.req.options;
  const int k = o.beamSize;
  const int curLen = static_cast<int>(r.beams[0].tokens.size());
  const int newLen = curLen + 1;
  const int maxLen = maxLength(r);
  // HF: top 2k of (log-probs + beam scores) over all beams (the -1e9 placeholder beams of HF's first step
  // never outrank a real candidate, so they are not materialised).
  const std::vector<BeamCandidate> cands = mergeCandidates(rows, 2 * k);
  const bool full = o.earlyStopping && static_cast<int>(r.finished.size()) == k;
  // Finished hypotheses: only EOS/max-length candidates among the top k can be accepted.
  if (!full && r.improvable) {
    for (int i = 0; i < static_cast<int>(cands.size()) && i < k; ++i) {
      const BeamCandidate& c = cands[static_cast<std::size_t>(i)];
      if (c.token != cfg_.eosId && newLen < maxLen) continue;
      Hypothesis h;
      h.tokens = r.beams[static_cast<std::size_t>(c.beam)].tokens;
      h.tokens.push_back(c.token);
      h.score = lengthNormalised(c.score, newLen - 1, o.lengthPenalty);
      addHypothesis(r.finished, std::move(h), k);
    }
  }
  // Next running beams: the best k candidates that did not stop; blocks are shared copy-on-write.
  std::vector<Beam> next;
  for (const BeamCandidate& c : cands) {
    if (static_cast<int>(next.size()) == k) break;
    if (c.token == cfg_.eosId || newLen >= maxLen) continue;
    const Beam& src = r.beams[static_cast<std::size_t>(c.beam)];
    Beam nb;
    nb.tokens = src.tokens;
    nb.tokens.push_back(c.token);
    nb.score = c.score;
    nb.table.forkFrom(*pool_, src.table);
    nb.cached = src.cached;
    next.push_back(std::move(nb));
  }
  for (auto& b : r.beams) b.table.releaseAll(*pool_);
  r.beams = std::move(next);
  // HF's early-stop heuristic: can the best running beam still beat the worst finished one?
  if (r.improvable && static_cast<int>(r.finished.size()) == k && !r.beams.empty()) {
    const float best = lengthNormalised(r.beams[0].score, newLen - 1, o.lengthPenalty);
    r.improvable = best > r.finished.back().score;
  }
  const bool stop = !r.improvable || (o.earlyStopping && static_cast<int>(r.finished.size()) == k) ||
                    newLen >= maxLen || r.beams.empty();
  if (!stop) return false;
  if (!r.finished.empty()) {
    result.ids = r.finished[0].tokens;
    result.score = r.finished[0].score;
    for (std::size_t k = 1; k < r.finished.size(); ++k) {
      Hypothesis& h = r.finished[k];
      const bool eos = !h.tokens.empty() && h.tokens.back() == cfg_.eosId;
      result.alternatives.push_back(AlternativeResult{std::move(h.tokens), h.score, eos});
    }
  } else {
    result.ids = r.beams.at(0).tokens;
    result.score = lengthNormalised(r.beams[0].score, newLen - 1, o.lengthPenalty);
  }
  result.finishedByEos = !result.ids.empty() && result.ids.back() == cfg_.eosId;
  return true;
}

PoolSnapshot EngineCore::poolStats() const {
  PoolSnapshot s{pool_->blockSize(), pool_->totalBlocks(), pool_->usedBlocks(), pool_->freeBlocks(), {}};
  for (const auto& r : requests_) {
    std::set<int> self;
    for (const auto& b : r->beams) self.insert(b.table.blocks().begin(), b.table.blocks().end());
    const char* st = r->state == State::Running ? "running" : r->state == State::Waiting ? "waiting" : "preempted";
    s.requests.push_back(RequestUse{r->id, st, static_cast<int>(self.size()), static_cast<int>(r->cross.blocks.size())});
  }
  return s;
}

std::vector<std::string> EngineCore::check() const {
  std::vector<std::string> errors;
  std::vector<int> expected(static_cast<std::size_t>(pool_->totalBlocks()), 0);
  std::map<int, std::int64_t> owner;
  auto note = [&](int b, std::int64_t id, const char* what) {
    if (b < 0 || b >= pool_->totalBlocks()) {
      errors.push_back("request " + std::to_string(id) + " holds invalid " + what + " block " + std::to_string(b));
      return;
    }
    ++expected[static_cast<std::size_t>(b)];
    auto it = owner.find(b);
    if (it == owner.end()) owner[b] = id;
    else if (it->second != id)
      errors.push_back("block " + std::to_string(b) + " is shared by requests " + std::to_string(it->second) + " and " +
                       std::to_string(id));
  };
  for (const auto& r : requests_) {
    std::set<int> cross(r->cross.blocks.begin(), r->cross.blocks.end());
    for (int b : r->cross.blocks) note(b, r->id, "cross");
    for (const auto& beam : r->beams) {
      for (int b : beam.table.blocks()) {
        note(b, r->id, "self");
        if (cross.count(b)) errors.push_back("block " + std::to_string(b) + " is both cross and self of request " + std::to_string(r->id));
      }
      if (beam.cached > beam.table.size() * pool_->blockSize())
        errors.push_back("request " + std::to_string(r->id) + " has cached tokens beyond its blocks");
    }
    if (r->state != State::Running && (!r->cross.blocks.empty()))
      errors.push_back("request " + std::to_string(r->id) + " is not running but holds cross blocks");
  }
  for (int b = 0; b < pool_->totalBlocks(); ++b)
    if (pool_->refcount(b) != expected[static_cast<std::size_t>(b)])
      errors.push_back("block " + std::to_string(b) + " has refcount " + std::to_string(pool_->refcount(b)) +
                       " but " + std::to_string(expected[static_cast<std::size_t>(b)]) + " holders");
  pool_->checkFreeList(errors);
  return errors;
}

void EngineCore::debugForward(const std::vector<int>& srcIds, std::vector<float>& encoderOut, std::vector<float>& logits) {
  backend_->bindThread();
  const int n = static_cast<int>(srcIds.size());
  if (n == 0 || n > cfg_.maxPositions) throw std::invalid_argument("source length out of range");
  for (int t : srcIds)
    if (t < 0 || t >= cfg_.vocabSize) throw std::invalid_argument("source token id out of range");
  CrossAttentionCache cross;
  BlockTable self;
  struct Guard {
    BlockPool& pool;
    CrossAttentionCache& c;
    BlockTable& s;
    ~Guard() {
      c.releaseAll(pool);
      s.releaseAll(pool);
    }
  } guard{*pool_, cross, self};
  for (int i = 0; i < blocksFor(n); ++i) {
    const int b = pool_->allocate();
    if (b < 0) throw std::runtime_error("KV pool has no room for a debug forward");
    cross.blocks.push_back(b);
  }
  cross.sourceLength = n;
  model_->encode({EncodeItem{srcIds.data(), n, cross.blocks.data()}}, pool_->layout(), &encoderOut);
  if (!self.prepareWrite(*pool_, 0, 1)) throw std::runtime_error("KV pool has no room for a debug forward");
  const int start = cfg_.decoderStartId;
  DecodeSequence s{&start, 0, 1, self.blocks().data(), cross.blocks.data(), n};
  model_->decode({s}, pool_->layout(), logits);
}

}  // namespace glossa
