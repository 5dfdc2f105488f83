#include "quant/calib_session.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>

#include "core/cpu_features.h"
#include "quant/quant_kernels.h"
#include "quant/quantizers.h"

namespace glossa {
namespace {

using Shape = std::vector<std::int64_t>;

struct Norm {
  std::string name;  // HF prefix
  std::vector<float> gamma, beta;
};

struct Unit {
  std::string name;
  std::vector<std::string> parts;
  std::vector<int> partRows;
  int in = 0, out = 0;
  std::vector<float> w0, bias0;  // the float reference (after AWQ folding when applied)
  std::vector<float> w;          // what the forward uses now (w0 or a fake-quantized copy)
  std::vector<float> packed;
  bool actQuant = false;
  // statistics of the input
  std::vector<float> absMax;
  std::vector<double> sumAbs;
  std::int64_t rows = 0;
  std::vector<float> sample;  // sampled rows x in
  int sampled = 0;
  std::int64_t seen = 0;
};

struct EncLayer {
  Norm selfNorm, ffnNorm;
  int qkv, out, fc1, fc2;
};
struct DecLayer {
  Norm selfNorm, crossNorm, ffnNorm;
  int qkv, selfOut, crossQ, crossKv, crossOut, fc1, fc2;
};

struct Batch {
  std::vector<int> encTok, encPos, encStart, encLen;
  std::vector<int> decTok, decPos, decStart, decLen, labels;
};

std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void appendBytes(std::vector<std::uint8_t>& out, const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}

}  // namespace

struct CalibSession::Impl {
  ModelConfig cfg;
  const KernelTable& kt;
  ThreadPool pool;
  std::vector<float> shared;         // [V, d]
  std::vector<float> sharedPacked;   // lm head panels
  std::vector<float> lmHeadQPacked;  // when set: int8 lm_head (dequantized panels) with int8 activations (W8A8)
  std::vector<float> encPos, decPos, finalLogitsBias;
  Norm encEmb, decEmb, encFinal, decFinal;
  std::vector<Unit> units;
  std::vector<EncLayer> enc;
  std::vector<DecLayer> dec;
  std::vector<CalibExample> examples;
  bool recording = false;
  bool used = false;
  std::uint64_t rng = 1;
  int sampleRows = 512;
  Progress* progress = nullptr;

  Impl(const ModelConfig& c, const std::vector<TensorEntry>& tensors, int threads)
      : cfg(c), kt(selectKernels(CpuFeatures::detect())), pool(threads) {
    WeightStore ws(tensors);
    const std::int64_t d = cfg.dModel, V = cfg.vocabSize, P = cfg.maxPositions + 2;
    shared = ws.get("model.shared.weight", Shape{V, d}).toFloatVector();
    sharedPacked = pack(shared, static_cast<int>(V), static_cast<int>(d));
    encPos = ws.get("model.encoder.embed_positions.weight", Shape{P, d}).toFloatVector();
    decPos = ws.get("model.decoder.embed_positions.weight", Shape{P, d}).toFloatVector();
    if (ws.has("final_logits_bias")) finalLogitsBias = ws.get("final_logits_bias", Shape{1, V}).toFloatVector();
    encEmb = norm(ws, "model.encoder.layernorm_embedding");
    decEmb = norm(ws, "model.decoder.layernorm_embedding");
    encFinal = norm(ws, "model.encoder.layer_norm");
    decFinal = norm(ws, "model.decoder.layer_norm");
    const int D = cfg.dModel;
    for (int i = 0; i < cfg.encoderLayers; ++i) {
      const std::string p = "model.encoder.layers." + std::to_string(i) + ".";
      const std::string u = "encoder." + std::to_string(i) + ".";
      EncLayer L;
      L.selfNorm = norm(ws, p + "self_attn_layer_norm");
      L.ffnNorm = norm(ws, p + "final_layer_norm");
      L.qkv = unit(ws, u + "self_attn.qkv", {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}, D, D);
      L.out = unit(ws, u + "self_attn.out_proj", {p + "self_attn.out_proj"}, D, D);
      L.fc1 = unit(ws, u + "fc1", {p + "fc1"}, cfg.encoderFfn, D);
      L.fc2 = unit(ws, u + "fc2", {p + "fc2"}, D, cfg.encoderFfn);
      enc.push_back(std::move(L));
    }
    for (int i = 0; i < cfg.decoderLayers; ++i) {
      const std::string p = "model.decoder.layers." + std::to_string(i) + ".";
      const std::string u = "decoder." + std::to_string(i) + ".";
      DecLayer L;
      L.selfNorm = norm(ws, p + "self_attn_layer_norm");
      L.crossNorm = norm(ws, p + "encoder_attn_layer_norm");
      L.ffnNorm = norm(ws, p + "final_layer_norm");
      L.qkv = unit(ws, u + "self_attn.qkv", {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}, D, D);
      L.selfOut = unit(ws, u + "self_attn.out_proj", {p + "self_attn.out_proj"}, D, D);
      L.crossQ = unit(ws, u + "encoder_attn.q_proj", {p + "encoder_attn.q_proj"}, D, D);
      L.crossKv = unit(ws, u + "encoder_attn.kv", {p + "encoder_attn.k_proj", p + "encoder_attn.v_proj"}, D, D);
      L.crossOut = unit(ws, u + "encoder_attn.out_proj", {p + "encoder_attn.out_proj"}, D, D);
      L.fc1 = unit(ws, u + "fc1", {p + "fc1"}, cfg.decoderFfn, D);
      L.fc2 = unit(ws, u + "fc2", {p + "fc2"}, D, cfg.decoderFfn);
      dec.push_back(std::move(L));
    }
  }

  Norm norm(const WeightStore& ws, const std::string& p) {
    const std::int64_t d = cfg.dModel;
    return Norm{p, ws.get(p + ".weight", Shape{d}).toFloatVector(), ws.get(p + ".bias", Shape{d}).toFloatVector()};
  }

  int unit(const WeightStore& ws, const std::string& name, const std::vector<std::string>& parts, int out, int in) {
    Unit u;
    u.name = name;
    u.parts = parts;
    u.in = in;
    for (const auto& p : parts) {
      const auto w = ws.get(p + ".weight", Shape{out, in}).toFloatVector();
      const auto b = ws.get(p + ".bias", Shape{out}).toFloatVector();
      u.w0.insert(u.w0.end(), w.begin(), w.end());
      u.bias0.insert(u.bias0.end(), b.begin(), b.end());
      u.partRows.push_back(out);
      u.out += out;
    }
    u.w = u.w0;
    u.packed = pack(u.w, u.out, u.in);
    u.absMax.assign(static_cast<std::size_t>(in), 0.f);
    u.sumAbs.assign(static_cast<std::size_t>(in), 0.0);
    units.push_back(std::move(u));
    return static_cast<int>(units.size()) - 1;
  }

  static std::vector<float> pack(const std::vector<float>& w, int out, int in) {
    const int panels = (out + kPanelWidth - 1) / kPanelWidth;
    std::vector<float> p(static_cast<std::size_t>(panels) * in * kPanelWidth, 0.f);
    for (int n = 0; n < out; ++n) {
      float* dst = p.data() + static_cast<std::size_t>(n / kPanelWidth) * in * kPanelWidth + n % kPanelWidth;
      const float* src = w.data() + static_cast<std::size_t>(n) * in;
      for (int k = 0; k < in; ++k) dst[static_cast<std::size_t>(k) * kPanelWidth] = src[k];
    }
    return p;
  }

  void gemm(const float* x, int M, int K, const std::vector<float>& packed, const float* bias, float* y, int N) {
    const int panels = (N + kPanelWidth - 1) / kPanelWidth;
    const int pairs = (panels + 1) / 2;
    pool.parallelFor(static_cast<std::size_t>(pairs), [&](std::size_t b, std::size_t e) {
      const int p0 = static_cast<int>(b) * 2;
      const int p1 = std::min(panels, static_cast<int>(e) * 2);
      kt.gemmPanels(x, K, M, K, packed.data(), bias, y, N, N, p0, p1);
    }, 2);
  }

  void setWeights(Unit& u, const std::vector<float>& w, bool actQuant) {
    u.w = w;
    u.packed = pack(u.w, u.out, u.in);
    u.actQuant = actQuant;
  }

  void observe(Unit& u, const float* x, int M) {
    if (!recording) return;
    const int in = u.in;
    for (int m = 0; m < M; ++m) {
      const float* r = x + static_cast<std::size_t>(m) * in;
      for (int k = 0; k < in; ++k) {
        const float a = std::fabs(r[k]);
        if (a > u.absMax[k]) u.absMax[k] = a;
        u.sumAbs[k] += a;
      }
      ++u.rows;
      ++u.seen;
      std::int64_t slot = -1;
      if (u.sampled < sampleRows) {
        slot = u.sampled++;
        u.sample.resize(static_cast<std::size_t>(u.sampled) * in);
      } else {
        const std::uint64_t j = splitmix(rng) % static_cast<std::uint64_t>(u.seen);
        if (j < static_cast<std::uint64_t>(sampleRows)) slot = static_cast<std::int64_t>(j);
      }
      if (slot >= 0) std::memcpy(u.sample.data() + static_cast<std::size_t>(slot) * in, r, sizeof(float) * in);
    }
  }

  void linear(int ui, const float* x, int M, float* y) {
    Unit& u = units[static_cast<std::size_t>(ui)];
    observe(u, x, M);
    if (u.actQuant) {
      std::vector<float> xq(static_cast<std::size_t>(M) * u.in);
      for (int m = 0; m < M; ++m)
        fakeQuantizeActivationRow(x + static_cast<std::size_t>(m) * u.in, u.in, xq.data() + static_cast<std::size_t>(m) * u.in);
      gemm(xq.data(), M, u.in, u.packed, u.bias0.data(), y, u.out);
    } else {
      gemm(x, M, u.in, u.packed, u.bias0.data(), y, u.out);
    }
  }

  void layerNorm(const float* x, int M, const Norm& n, float* y) {
    const int d = cfg.dModel;
    for (int m = 0; m < M; ++m) {
      const float* r = x + static_cast<std::size_t>(m) * d;
      float* o = y + static_cast<std::size_t>(m) * d;
      double sum = 0, var = 0;
      for (int i = 0; i < d; ++i) sum += r[i];
      const double mean = sum / d;
      for (int i = 0; i < d; ++i) var += (r[i] - mean) * (r[i] - mean);
      const float rstd = static_cast<float>(1.0 / std::sqrt(var / d + cfg.layerNormEps));
      for (int i = 0; i < d; ++i) o[i] = (r[i] - static_cast<float>(mean)) * rstd * n.gamma[i] + n.beta[i];
    }
  }

  void gelu(float* x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const float v = x[i];
      if (cfg.activation == Activation::Relu) x[i] = v > 0 ? v : 0;
      else if (cfg.activation == Activation::GeluTanh)
        x[i] = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
      else x[i] = 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752440f));
    }
  }

  // out rows [qStart, qStart+nq) attend to key rows [kStart, kStart+nk) (causal: row i sees keys <= i).
  void attention(const float* q, int ldq, const float* k, int ldk, const float* v, int ldv, const std::vector<int>& qStart,
                 const std::vector<int>& qLen, const std::vector<int>& kStart, const std::vector<int>& kLen, bool causal,
                 int heads, float* out) {
    const int d = cfg.dModel, hd = d / heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    std::vector<std::pair<int, int>> items;  // (segment, row in segment)
    for (std::size_t s = 0; s < qStart.size(); ++s)
      for (int i = 0; i < qLen[s]; ++i) items.push_back({static_cast<int>(s), i});
    pool.parallelFor(items.size() * heads, [&](std::size_t b, std::size_t e) {
      std::vector<float> sc;
      for (std::size_t it = b; it < e; ++it) {
        const auto [s, i] = items[it / heads];
        const int h = static_cast<int>(it % heads);
        const int row = qStart[s] + i;
        const int nk = causal ? i + 1 : kLen[s];
        sc.resize(static_cast<std::size_t>(nk));
        const float* qh = q + static_cast<std::size_t>(row) * ldq + h * hd;
        float mx = -INFINITY;
        for (int j = 0; j < nk; ++j) {
          sc[j] = kt.dot(qh, k + static_cast<std::size_t>(kStart[s] + j) * ldk + h * hd, hd) * scale;
          mx = std::max(mx, sc[j]);
        }
        float sum = 0;
        for (int j = 0; j < nk; ++j) sum += (sc[j] = std::exp(sc[j] - mx));
        float* o = out + static_cast<std::size_t>(row) * d + h * hd;
        for (int c = 0; c < hd; ++c) o[c] = 0;
        for (int j = 0; j < nk; ++j) kt.axpy(sc[j] / sum, v + static_cast<std::size_t>(kStart[s] + j) * ldv + h * hd, o, hd);
      }
    }, 8);
  }

  Batch makeBatch(const std::vector<const CalibExample*>& ex) {
    Batch b;
    for (const CalibExample* e : ex) {
      const int n = std::min<int>(static_cast<int>(e->src.size()), cfg.maxPositions);
      b.encStart.push_back(static_cast<int>(b.encTok.size()));
      b.encLen.push_back(n);
      for (int i = 0; i < n; ++i) {
        b.encTok.push_back(e->src[i]);
        b.encPos.push_back(i + 2);
      }
      const int m = std::min<int>(static_cast<int>(e->labels.size()), cfg.maxPositions);
      b.decStart.push_back(static_cast<int>(b.decTok.size()));
      b.decLen.push_back(m);
      for (int i = 0; i < m; ++i) {
        b.decTok.push_back(i == 0 ? cfg.decoderStartId : e->labels[i - 1]);
        b.decPos.push_back(i + 2);
        b.labels.push_back(e->labels[i]);
      }
    }
    return b;
  }

  void embed(const std::vector<int>& tok, const std::vector<int>& pos, const std::vector<float>& table, float* out) {
    const int d = cfg.dModel;
    const float scale = cfg.scaleEmbedding ? std::sqrt(static_cast<float>(d)) : 1.0f;
    for (std::size_t m = 0; m < tok.size(); ++m)
      for (int i = 0; i < d; ++i)
        out[m * d + i] = shared[static_cast<std::size_t>(tok[m]) * d + i] * scale + table[static_cast<std::size_t>(pos[m]) * d + i];
  }

  // Pre-norm feed-forward sub-block with its residual: h += fc2(gelu(fc1(norm(h)))).
  void feedForward(const Norm& norm, int fc1, int fc2, int M, std::vector<float>& h, std::vector<float>& nrm,
                   std::vector<float>& f, std::vector<float>& tmp) {
    layerNorm(h.data(), M, norm, nrm.data());
    linear(fc1, nrm.data(), M, f.data());
    gelu(f.data(), f.size());
    linear(fc2, f.data(), M, tmp.data());
    for (std::size_t i = 0; i < h.size(); ++i) h[i] += tmp[i];
  }

  // Encoder from layer `from` (h holds that layer's input; from = 0 embeds). layerInputs (optional) gets
  // each layer's input. Returns the final-norm output.
  std::vector<float> encode(const Batch& b, int from, std::vector<float> h, std::vector<std::vector<float>>* layerInputs) {
    const int d = cfg.dModel, M = static_cast<int>(b.encTok.size()), ffn = cfg.encoderFfn;
    const std::size_t MD = static_cast<std::size_t>(M) * d;
    std::vector<float> nrm(MD), qkv(MD * 3), att(MD), tmp(MD), f(static_cast<std::size_t>(M) * ffn);
    if (from == 0) {
      h.assign(MD, 0.f);
      embed(b.encTok, b.encPos, encPos, tmp.data());
      layerNorm(tmp.data(), M, encEmb, h.data());
    }
    for (int l = from; l < cfg.encoderLayers; ++l) {
      if (layerInputs) (*layerInputs)[static_cast<std::size_t>(l)] = h;
      const EncLayer& L = enc[static_cast<std::size_t>(l)];
      layerNorm(h.data(), M, L.selfNorm, nrm.data());
      linear(L.qkv, nrm.data(), M, qkv.data());
      attention(qkv.data(), 3 * d, qkv.data() + d, 3 * d, qkv.data() + 2 * d, 3 * d, b.encStart, b.encLen, b.encStart,
                b.encLen, false, cfg.encoderHeads, att.data());
      linear(L.out, att.data(), M, tmp.data());
      for (std::size_t i = 0; i < MD; ++i) h[i] += tmp[i];
      feedForward(L.ffnNorm, L.fc1, L.fc2, M, h, nrm, f, tmp);
    }
    std::vector<float> out(MD);
    layerNorm(h.data(), M, encFinal, out.data());
    return out;
  }

  // Decoder over all positions (teacher forced); returns the final hidden states after the final norm.
  std::vector<float> decode(const Batch& b, const std::vector<float>& encOut, int from, std::vector<float> h,
                            std::vector<std::vector<float>>* layerInputs) {
    const int d = cfg.dModel, M = static_cast<int>(b.decTok.size()), S = static_cast<int>(b.encTok.size());
    const int ffn = cfg.decoderFfn;
    const std::size_t MD = static_cast<std::size_t>(M) * d;
    std::vector<float> nrm(MD), qkv(MD * 3), att(MD), tmp(MD), f(static_cast<std::size_t>(M) * ffn),
        kv(static_cast<std::size_t>(S) * 2 * d);
    if (from == 0) {
      h.assign(MD, 0.f);
      embed(b.decTok, b.decPos, decPos, tmp.data());
      layerNorm(tmp.data(), M, decEmb, h.data());
    }
    for (int l = from; l < cfg.decoderLayers; ++l) {
      if (layerInputs) (*layerInputs)[static_cast<std::size_t>(l)] = h;
      const DecLayer& L = dec[static_cast<std::size_t>(l)];
      layerNorm(h.data(), M, L.selfNorm, nrm.data());
      linear(L.qkv, nrm.data(), M, qkv.data());
      attention(qkv.data(), 3 * d, qkv.data() + d, 3 * d, qkv.data() + 2 * d, 3 * d, b.decStart, b.decLen, b.decStart,
                b.decLen, true, cfg.decoderHeads, att.data());
      linear(L.selfOut, att.data(), M, tmp.data());
      for (std::size_t i = 0; i < MD; ++i) h[i] += tmp[i];
      layerNorm(h.data(), M, L.crossNorm, nrm.data());
      linear(L.crossQ, nrm.data(), M, qkv.data());
      linear(L.crossKv, encOut.data(), S, kv.data());
      attention(qkv.data(), d, kv.data(), 2 * d, kv.data() + d, 2 * d, b.decStart, b.decLen, b.encStart, b.encLen, false,
                cfg.decoderHeads, att.data());
      linear(L.crossOut, att.data(), M, tmp.data());
      for (std::size_t i = 0; i < MD; ++i) h[i] += tmp[i];
      feedForward(L.ffnNorm, L.fc1, L.fc2, M, h, nrm, f, tmp);
    }
    std::vector<float> out(MD);
    layerNorm(h.data(), M, decFinal, out.data());
    return out;
  }

  // log-softmax of the LM head over every row.
  std::vector<float> logProbs(const std::vector<float>& hidden, int M) {
    const int V = cfg.vocabSize, d = cfg.dModel;
    std::vector<float> lp(static_cast<std::size_t>(M) * V);
    if (!lmHeadQPacked.empty()) {
      std::vector<float> hq(hidden.size());
      for (int m = 0; m < M; ++m)
        fakeQuantizeActivationRow(hidden.data() + static_cast<std::size_t>(m) * d, d, hq.data() + static_cast<std::size_t>(m) * d);
      gemm(hq.data(), M, d, lmHeadQPacked, finalLogitsBias.empty() ? nullptr : finalLogitsBias.data(), lp.data(), V);
    } else {
      gemm(hidden.data(), M, d, sharedPacked, finalLogitsBias.empty() ? nullptr : finalLogitsBias.data(), lp.data(), V);
    }
    pool.parallelFor(static_cast<std::size_t>(M), [&](std::size_t b, std::size_t e) {
      for (std::size_t m = b; m < e; ++m) {
        float* r = lp.data() + m * V;
        float mx = -INFINITY;
        for (int i = 0; i < V; ++i) mx = std::max(mx, r[i]);
        double s = 0;
        for (int i = 0; i < V; ++i) s += std::exp(static_cast<double>(r[i] - mx));
        const float lse = mx + static_cast<float>(std::log(s));
        for (int i = 0; i < V; ++i) r[i] -= lse;
      }
    });
    return lp;
  }
};

CalibSession::CalibSession(const ModelConfig& cfg, const std::vector<TensorEntry>& tensors, int threads)
    : impl_(std::make_unique<Impl>(cfg, tensors, threads)) {
  impl_->progress = &progress_;
}

CalibSession::~CalibSession() = default;

std::vector<UnitStats> CalibSession::collectStats(const std::vector<CalibExample>& examples, int sampleRows,
                                                  std::uint64_t seed) {
  Impl& I = *impl_;
  if (examples.empty()) throw std::invalid_argument("collectStats: no examples");
  for (const auto& e : examples) {
    if (e.src.empty() || e.labels.empty()) throw std::invalid_argument("collectStats: an example has no tokens");
    for (int t : e.src)
      if (t < 0 || t >= I.cfg.vocabSize) throw std::invalid_argument("collectStats: source token id out of range");
    for (int t : e.labels)
      if (t < 0 || t >= I.cfg.vocabSize) throw std::invalid_argument("collectStats: label token id out of range");
  }
  I.examples = examples;
  I.sampleRows = std::max(1, sampleRows);
  I.rng = seed;
  for (auto& u : I.units) {
    std::fill(u.absMax.begin(), u.absMax.end(), 0.f);
    std::fill(u.sumAbs.begin(), u.sumAbs.end(), 0.0);
    u.rows = u.seen = 0;
    u.sampled = 0;
    u.sample.clear();
  }
  progress_.phase = "statistics";
  progress_.total = static_cast<int>(examples.size());
  progress_.done = 0;
  I.recording = true;
  const std::size_t chunk = 16;
  for (std::size_t i = 0; i < examples.size(); i += chunk) {
    std::vector<const CalibExample*> ex;
    for (std::size_t j = i; j < std::min(examples.size(), i + chunk); ++j) ex.push_back(&examples[j]);
    Batch b = I.makeBatch(ex);
    auto encOut = I.encode(b, 0, {}, nullptr);
    I.decode(b, encOut, 0, {}, nullptr);
    progress_.done = static_cast<int>(std::min(examples.size(), i + chunk));
  }
  I.recording = false;
  std::vector<UnitStats> out;
  for (const auto& u : I.units) {
    UnitStats s;
    s.unit = u.name;
    s.in = u.in;
    s.rows = u.rows;
    s.absMax = u.absMax;
    s.meanAbs.resize(static_cast<std::size_t>(u.in));
    for (int k = 0; k < u.in; ++k) s.meanAbs[k] = u.rows ? static_cast<float>(u.sumAbs[k] / u.rows) : 0.f;
    s.sampled = u.sampled;
    out.push_back(std::move(s));
  }
  return out;
}


namespace {

// Rows of a unit whose clipping is not searched (q and k projections, as llm-awq).
int clipSkipRows(const std::string& unit, int d) {
  if (unit.find("self_attn.qkv") != std::string::npos) return 2 * d;
  if (unit.find("encoder_attn.q_proj") != std::string::npos) return 1 << 30;
  if (unit.find("encoder_attn.kv") != std::string::npos) return d;
  return 0;
}

struct Level {
  std::string precision;  // "int4-g128", "int8-w8a8", "int8-w8a16", "f32"
  std::vector<float> deq;
  bool actQuant = false;
  double kl = -1;
};

}  // namespace

RecipeResult CalibSession::quantize(const RecipeOptions& opt) {
  Impl& I = *impl_;
  if (I.examples.empty()) throw std::runtime_error("quantize: run collectStats first");
  if (I.used) throw std::runtime_error("quantize: a session runs one recipe (the model is folded in place)");
  if (opt.recipe != "int8" && opt.recipe != "awq-int4" && opt.recipe != "fold-only")
    throw std::invalid_argument("unknown recipe " + opt.recipe + " (int8, awq-int4)");
  if (opt.groupSize <= 0 || opt.groupSize % 2 != 0) throw std::invalid_argument("groupSize must be a positive even number");
  if (opt.int4A8 && opt.groupSize % 8 != 0) throw std::invalid_argument("W4A8 (int4A8) needs a groupSize that is a multiple of 8");
  if (opt.lmHead != "f16" && opt.lmHead != "int8") throw std::invalid_argument("lmHead must be f16 or int8, got " + opt.lmHead);
  const int d = I.cfg.dModel;
  const int G = opt.groupSize;
  const bool awq = opt.recipe != "int8";
  I.used = true;
  RecipeResult res;
  std::vector<UnitReport> rep(I.units.size());
  for (std::size_t i = 0; i < I.units.size(); ++i) {
    rep[i].unit = I.units[i].name;
    rep[i].parts = I.units[i].parts;
  }
  std::vector<int> encLayerOf(I.units.size(), -1);
  for (std::size_t l = 0; l < I.enc.size(); ++l)
    for (int u : {I.enc[l].qkv, I.enc[l].out, I.enc[l].fc1, I.enc[l].fc2}) encLayerOf[static_cast<std::size_t>(u)] = static_cast<int>(l);

  // ---- sensitivity batch and its float reference ----
  progress_.phase = "reference";
  progress_.done = 0;
  progress_.total = 1;
  const int S = std::max(1, std::min<int>(opt.sensitivitySentences, static_cast<int>(I.examples.size())));
  std::vector<const CalibExample*> sens;
  const std::size_t stride = I.examples.size() / static_cast<std::size_t>(S);
  for (int i = 0; i < S; ++i) sens.push_back(&I.examples[static_cast<std::size_t>(i) * std::max<std::size_t>(1, stride)]);
  Batch sb = I.makeBatch(sens);
  std::vector<std::vector<float>> encIn(I.enc.size());
  std::vector<float> refEnc = I.encode(sb, 0, {}, &encIn);
  const int rowsS = static_cast<int>(sb.decTok.size());
  const std::vector<float> refLp = I.logProbs(I.decode(sb, refEnc, 0, {}, nullptr), rowsS);
  res.sensitivityRows = rowsS;
  const int V = I.cfg.vocabSize;
  auto klAgainstRef = [&](const std::vector<float>& lp) {
    std::vector<double> part(static_cast<std::size_t>(rowsS));
    I.pool.parallelFor(static_cast<std::size_t>(rowsS), [&](std::size_t b, std::size_t e) {
      for (std::size_t m = b; m < e; ++m) {
        double s = 0;
        const float* r = refLp.data() + m * V;
        const float* q = lp.data() + m * V;
        for (int v = 0; v < V; ++v) s += std::exp(static_cast<double>(r[v])) * (r[v] - q[v]);
        part[m] = s;
      }
    });
    double t = 0;
    for (double x : part) t += x;
    return t / rowsS;
  };
  auto runKl = [&](int fromEncLayer) {
    std::vector<float> eo = fromEncLayer >= 0 ? I.encode(sb, fromEncLayer, encIn[static_cast<std::size_t>(fromEncLayer)], nullptr)
                                              : refEnc;
    return klAgainstRef(I.logProbs(I.decode(sb, eo, 0, {}, nullptr), rowsS));
  };
  progress_.done = 1;

  // ---- AWQ: activation-aware scales per group of Linears sharing an input, folded into what precedes ----
  if (awq) {
    struct Fold {
      Norm* norm = nullptr;  // LayerNorm before the group
      int vUnit = -1, vRow = 0;  // or the v rows of this unit (out_proj via v_proj)
    };
    struct Group {
      std::string name;
      std::vector<int> units;
      Fold fold;
    };
    std::vector<Group> groups;
    for (std::size_t l = 0; l < I.enc.size(); ++l) {
      EncLayer& L = I.enc[l];
      const std::string n = "encoder." + std::to_string(l) + ".";
      groups.push_back({n + "self_attn.qkv", {L.qkv}, {&L.selfNorm, -1, 0}});
      groups.push_back({n + "self_attn.out_proj", {L.out}, {nullptr, L.qkv, 2 * d}});
      groups.push_back({n + "fc1", {L.fc1}, {&L.ffnNorm, -1, 0}});
    }
    std::vector<int> crossKv;
    for (std::size_t l = 0; l < I.dec.size(); ++l) {
      DecLayer& L = I.dec[l];
      const std::string n = "decoder." + std::to_string(l) + ".";
      groups.push_back({n + "self_attn.qkv", {L.qkv}, {&L.selfNorm, -1, 0}});
      groups.push_back({n + "self_attn.out_proj", {L.selfOut}, {nullptr, L.qkv, 2 * d}});
      groups.push_back({n + "encoder_attn.q_proj", {L.crossQ}, {&L.crossNorm, -1, 0}});
      groups.push_back({n + "encoder_attn.out_proj", {L.crossOut}, {nullptr, L.crossKv, d}});
      groups.push_back({n + "fc1", {L.fc1}, {&L.ffnNorm, -1, 0}});
      crossKv.push_back(L.crossKv);
    }
    if (!crossKv.empty()) groups.push_back({"decoder.*.encoder_attn.kv", crossKv, {&I.encFinal, -1, 0}});
    progress_.phase = "awq-scales";
    progress_.total = static_cast<int>(groups.size());
    progress_.done = 0;
    std::vector<std::vector<float>> scales(groups.size());
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
      const Group& g = groups[gi];
      const Unit& u0 = I.units[static_cast<std::size_t>(g.units[0])];
      const int in = u0.in, n = u0.sampled;
      std::vector<float> W;
      for (int ui : g.units) W.insert(W.end(), I.units[static_cast<std::size_t>(ui)].w0.begin(), I.units[static_cast<std::size_t>(ui)].w0.end());
      const int out = static_cast<int>(W.size() / in);
      std::vector<float> xmean(static_cast<std::size_t>(in));
      for (int k = 0; k < in; ++k) xmean[k] = u0.rows ? static_cast<float>(u0.sumAbs[k] / u0.rows) : 0.f;
      std::vector<float> E(W.size()), Y(static_cast<std::size_t>(n) * out);
      double best = INFINITY, first = 0;
      float bestAlpha = 0;
      std::vector<float> bestS(static_cast<std::size_t>(in), 1.f), s(static_cast<std::size_t>(in));
      for (int a = 0; a < 20; ++a) {
        const float alpha = a * 0.05f;
        float mx = 0, mn = INFINITY;
        for (int k = 0; k < in; ++k) {
          s[k] = std::max(1e-4f, std::pow(std::max(xmean[k], 1e-8f), alpha));
          mx = std::max(mx, s[k]);
          mn = std::min(mn, s[k]);
        }
        const float norm = std::sqrt(mx * mn);
        for (int k = 0; k < in; ++k) s[k] /= norm;
        I.pool.parallelFor(static_cast<std::size_t>(out), [&](std::size_t b, std::size_t e) {
          std::vector<float> row(static_cast<std::size_t>(in)), q(static_cast<std::size_t>(in));
          for (std::size_t r = b; r < e; ++r) {
            const float* w = W.data() + r * in;
            for (int k = 0; k < in; ++k) row[k] = w[k] * s[k];
            for (int k0 = 0; k0 < in; k0 += G) fakeQuantizeInt4Group(row.data() + k0, std::min(G, in - k0), 0.f, q.data() + k0);
            for (int k = 0; k < in; ++k) E[r * in + k] = w[k] - q[k] / s[k];
          }
        });
        const auto packed = Impl::pack(E, out, in);
        I.gemm(u0.sample.data(), n, in, packed, nullptr, Y.data(), out);
        double err = 0;
        for (float y : Y) err += static_cast<double>(y) * y;
        err /= static_cast<double>(n) * out;
        if (a == 0) first = err;
        if (err < best) {
          best = err;
          bestAlpha = alpha;
          bestS = s;
        }
      }
      scales[gi] = bestS;
      for (int ui : g.units) {
        rep[static_cast<std::size_t>(ui)].awqAlpha = bestAlpha;
        rep[static_cast<std::size_t>(ui)].awqErrBefore = first;
        rep[static_cast<std::size_t>(ui)].awqErrAfter = best;
      }
      progress_.done = static_cast<int>(gi + 1);
    }
    // Apply: W[:, k] *= s[k]; the preceding LayerNorm (gamma, beta) or v rows (+ bias) /= s; samples /= s.
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
      const Group& g = groups[gi];
      const std::vector<float>& sc = scales[gi];
      for (int ui : g.units) {
        Unit& u = I.units[static_cast<std::size_t>(ui)];
        for (int r = 0; r < u.out; ++r)
          for (int k = 0; k < u.in; ++k) u.w0[static_cast<std::size_t>(r) * u.in + k] *= sc[k];
        for (int r = 0; r < u.sampled; ++r)
          for (int k = 0; k < u.in; ++k) u.sample[static_cast<std::size_t>(r) * u.in + k] /= sc[k];
      }
      if (g.fold.norm) {
        for (int k = 0; k < d; ++k) {
          g.fold.norm->gamma[k] /= sc[k];
          g.fold.norm->beta[k] /= sc[k];
        }
      } else {
        Unit& v = I.units[static_cast<std::size_t>(g.fold.vUnit)];
        for (int j = 0; j < d; ++j) {
          const int r = g.fold.vRow + j;
          for (int k = 0; k < v.in; ++k) v.w0[static_cast<std::size_t>(r) * v.in + k] /= sc[j];
          v.bias0[static_cast<std::size_t>(r)] /= sc[j];
        }
      }
    }
    for (auto& u : I.units) I.setWeights(u, u.w0, false);
    // The encoder's final LayerNorm was folded (cross k/v scales): the cached encoder output changes.
    refEnc = I.encode(sb, 0, {}, nullptr);
  }

  // ---- candidates per unit ----
  std::vector<std::vector<Level>> levels(I.units.size());
  std::vector<Int4Rows> int4(I.units.size());
  std::vector<std::vector<std::int8_t>> int8q(I.units.size());
  std::vector<std::vector<float>> int8s(I.units.size());
  // Relative output MSE of a unit's int8 weights with float (W8A16) and per-token int8 (W8A8) activations on
  // its sampled input rows.
  auto int8Errors = [&](std::size_t ui, const std::vector<float>& deq8) {
    Unit& u = I.units[ui];
    const int n = u.sampled;
    std::vector<float> Y(static_cast<std::size_t>(n) * u.out), Y16(Y.size()), Y8(Y.size()), Xq(u.sample.size());
    I.gemm(u.sample.data(), n, u.in, Impl::pack(u.w0, u.out, u.in), nullptr, Y.data(), u.out);
    const auto p8 = Impl::pack(deq8, u.out, u.in);
    I.gemm(u.sample.data(), n, u.in, p8, nullptr, Y16.data(), u.out);
    for (int r = 0; r < n; ++r)
      fakeQuantizeActivationRow(u.sample.data() + static_cast<std::size_t>(r) * u.in, u.in, Xq.data() + static_cast<std::size_t>(r) * u.in);
    I.gemm(Xq.data(), n, u.in, p8, nullptr, Y8.data(), u.out);
    double ref = 0, e16 = 0, e8 = 0;
    for (std::size_t i = 0; i < Y.size(); ++i) {
      ref += static_cast<double>(Y[i]) * Y[i];
      e16 += static_cast<double>(Y[i] - Y16[i]) * (Y[i] - Y16[i]);
      e8 += static_cast<double>(Y[i] - Y8[i]) * (Y[i] - Y8[i]);
    }
    rep[ui].relErrW8A16 = ref > 0 ? e16 / ref : 0;
    rep[ui].relErrW8A8 = ref > 0 ? e8 / ref : 0;
  };
  progress_.phase = awq ? "clip+quantize" : "quantize";
  progress_.total = static_cast<int>(I.units.size());
  progress_.done = 0;
  for (std::size_t ui = 0; ui < I.units.size(); ++ui) {
    Unit& u = I.units[ui];
    const std::size_t WN = u.w0.size();
    // INT8 per-channel
    int8q[ui].resize(WN);
    int8s[ui].resize(static_cast<std::size_t>(u.out));
    quantizeInt8Rows(u.w0.data(), u.out, u.in, int8q[ui].data(), int8s[ui].data());
    std::vector<float> deq8(WN);
    dequantizeInt8Rows(int8q[ui].data(), int8s[ui].data(), u.out, u.in, deq8.data());
    if (opt.recipe == "fold-only") {
      levels[ui].push_back({"f32", u.w0, false});
    } else if (!awq) {
      // W8A8 or W8A16 by the measured output error on the sampled input rows.
      int8Errors(ui, deq8);
      if (rep[ui].relErrW8A8 <= opt.a8Threshold) levels[ui].push_back({"int8-w8a8", deq8, true});
      levels[ui].push_back({"int8-w8a16", deq8, false});
      levels[ui].push_back({"f32", u.w0, false});
    } else {
      // AWQ INT4 with a clipping search per (row, group) on the scaled inputs (q/k rows skipped).
      const int groups = (u.in + G - 1) / G;
      std::vector<float> clip(static_cast<std::size_t>(u.out) * groups, 0.f);
      if (opt.clip) {
        const int skip = clipSkipRows(u.name, d);
        const int nr = std::min(u.sampled, 128);
        const int step = std::max(1, u.sampled / std::max(1, nr));
        std::vector<const float*> xs;
        for (int r = 0; r < nr; ++r) xs.push_back(u.sample.data() + static_cast<std::size_t>(r * step) * u.in);
        I.pool.parallelFor(static_cast<std::size_t>(u.out), [&](std::size_t b, std::size_t e) {
          std::vector<float> q(static_cast<std::size_t>(G)), diff(static_cast<std::size_t>(G));
          for (std::size_t r = b; r < e; ++r) {
            if (static_cast<int>(r) < skip) continue;
            const float* w = u.w0.data() + r * u.in;
            for (int g = 0; g < groups; ++g) {
              const int k0 = g * G, len = std::min(G, u.in - k0);
              float amax = 0;
              for (int k = 0; k < len; ++k) amax = std::max(amax, std::fabs(w[k0 + k]));
              double bestErr = INFINITY;
              float bestClip = 0;
              for (int i = 0; i < 10; ++i) {
                const float c = amax * (1.0f - i / 20.0f);
                fakeQuantizeInt4Group(w + k0, len, c, q.data());
                for (int k = 0; k < len; ++k) diff[k] = w[k0 + k] - q[k];
                double err = 0;
                for (const float* x : xs) {
                  const float t = I.kt.dot(x + k0, diff.data(), len);
                  err += static_cast<double>(t) * t;
                }
                if (err < bestErr) {
                  bestErr = err;
                  bestClip = i == 0 ? 0.f : c;
                }
              }
              clip[r * groups + g] = bestClip;
            }
          }
        }, 8);
      }
      int4[ui] = quantizeInt4Rows(u.w0.data(), u.out, u.in, G, clip.data());
      std::vector<float> deq4(WN);
      dequantizeInt4Rows(int4[ui], deq4.data());
      if (opt.int4A8) {
        levels[ui].push_back({"int4-g" + std::to_string(G) + "-a8", deq4, true});
        int8Errors(ui, deq8);
        if (rep[ui].relErrW8A8 <= opt.a8Threshold) levels[ui].push_back({"int8-w8a8", deq8, true});
      } else {
        levels[ui].push_back({"int4-g" + std::to_string(G), deq4, false});
      }
      levels[ui].push_back({"int8-w8a16", deq8, false});
      levels[ui].push_back({"f32", u.w0, false});
    }
    progress_.done = static_cast<int>(ui + 1);
  }

  // ---- sensitivity: KL of each unit alone at its level; promote the worst until within budget ----
  std::vector<int> chosen(I.units.size(), 0);
  auto measure = [&](std::size_t ui, int li) {
    Level& L = levels[ui][static_cast<std::size_t>(li)];
    if (L.kl >= 0) return L.kl;
    if (L.precision == "f32") return L.kl = 0.0;
    Unit& u = I.units[ui];
    I.setWeights(u, L.deq, L.actQuant);
    L.kl = std::max(0.0, runKl(encLayerOf[ui]));
    I.setWeights(u, u.w0, false);
    rep[ui].kl.push_back({L.precision, L.kl});
    progress_.done = progress_.done + 1;
    return L.kl;
  };
  if (opt.recipe != "fold-only" && opt.sensitivity) {
    progress_.phase = "sensitivity";
    progress_.total = static_cast<int>(I.units.size());
    progress_.done = 0;
    double total = 0;
    for (std::size_t ui = 0; ui < I.units.size(); ++ui) total += measure(ui, 0);
    for (;;) {
      if (total <= opt.klBudget) break;
      std::size_t worst = I.units.size();
      double worstKl = 0;
      for (std::size_t ui = 0; ui < I.units.size(); ++ui) {
        if (chosen[ui] + 1 >= static_cast<int>(levels[ui].size())) continue;
        const double k = levels[ui][static_cast<std::size_t>(chosen[ui])].kl;
        if (k > worstKl) {
          worstKl = k;
          worst = ui;
        }
      }
      if (worst == I.units.size()) break;
      progress_.total = progress_.total + 1;
      total -= worstKl;
      ++chosen[worst];
      total += measure(worst, chosen[worst]);
    }
    res.klEstimate = total;
  }
  // ---- the chosen mixed model, measured once ----
  progress_.phase = "final-check";
  for (std::size_t ui = 0; ui < I.units.size(); ++ui) {
    const Level& L = levels[ui][static_cast<std::size_t>(chosen[ui])];
    I.setWeights(I.units[ui], L.deq, L.actQuant);
    rep[ui].precision = L.precision;
  }
  // An int8 lm_head (recipe option) is quantized from the F16 values the file keeps for the embeddings.
  std::vector<std::int8_t> lmQ;
  std::vector<float> lmS;
  if (opt.lmHead == "int8") {
    const int V = I.cfg.vocabSize;
    std::vector<float> h(I.shared.size());
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = halfToFloat(floatToHalfValue(I.shared[i]));
    lmQ.resize(h.size());
    lmS.resize(static_cast<std::size_t>(V));
    quantizeInt8Rows(h.data(), V, d, lmQ.data(), lmS.data());
    std::vector<float> deq(h.size());
    dequantizeInt8Rows(lmQ.data(), lmS.data(), V, d, deq.data());
    I.lmHeadQPacked = Impl::pack(deq, V, d);
  }
  res.klMeasured = runKl(0);
  I.lmHeadQPacked.clear();
  for (auto& u : I.units) I.setWeights(u, u.w0, false);

  // ---- export ----
  progress_.phase = "export";
  auto f32 = [&](const std::string& name, const std::vector<float>& v, Shape shape) {
    OutTensor t{name, "F32", "f32", std::move(shape), {}};
    appendBytes(t.data, v.data(), v.size() * 4);
    res.tensors.push_back(std::move(t));
  };
  {
    OutTensor t{"model.shared.weight", "F16", "f16", {I.cfg.vocabSize, d}, {}};
    t.data.resize(I.shared.size() * 2);
    for (std::size_t i = 0; i < I.shared.size(); ++i) {
      const std::uint16_t h = floatToHalfValue(I.shared[i]);
      std::memcpy(t.data.data() + 2 * i, &h, 2);
    }
    res.tensors.push_back(std::move(t));
  }
  if (opt.lmHead == "int8") {
    OutTensor t{"lm_head.weight", "I8", "int8-w8a8", {I.cfg.vocabSize, d}, {}};
    appendBytes(t.data, lmQ.data(), lmQ.size());
    res.tensors.push_back(std::move(t));
    OutTensor sc{"lm_head.weight_scale", "F32", "f32", {I.cfg.vocabSize}, {}};
    appendBytes(sc.data, lmS.data(), lmS.size() * 4);
    res.tensors.push_back(std::move(sc));
  }
  const std::int64_t P = I.cfg.maxPositions + 2;
  f32("model.encoder.embed_positions.weight", I.encPos, {P, d});
  f32("model.decoder.embed_positions.weight", I.decPos, {P, d});
  if (!I.finalLogitsBias.empty()) f32("final_logits_bias", I.finalLogitsBias, {1, I.cfg.vocabSize});
  auto normOut = [&](const Norm& n) {
    f32(n.name + ".weight", n.gamma, {d});
    f32(n.name + ".bias", n.beta, {d});
  };
  normOut(I.encEmb);
  normOut(I.decEmb);
  normOut(I.encFinal);
  normOut(I.decFinal);
  for (auto& L : I.enc) {
    normOut(L.selfNorm);
    normOut(L.ffnNorm);
  }
  for (auto& L : I.dec) {
    normOut(L.selfNorm);
    normOut(L.crossNorm);
    normOut(L.ffnNorm);
  }
  for (std::size_t ui = 0; ui < I.units.size(); ++ui) {
    const Unit& u = I.units[ui];
    const std::string prec = rep[ui].precision;
    int r0 = 0;
    for (std::size_t pi = 0; pi < u.parts.size(); ++pi) {
      const std::string& p = u.parts[pi];
      const int rows = u.partRows[pi];
      std::vector<float> b(u.bias0.begin() + r0, u.bias0.begin() + r0 + rows);
      if (prec == "f32") {
        std::vector<float> w(u.w0.begin() + static_cast<std::ptrdiff_t>(r0) * u.in,
                             u.w0.begin() + static_cast<std::ptrdiff_t>(r0 + rows) * u.in);
        f32(p + ".weight", w, {rows, u.in});
      } else if (prec.rfind("int8", 0) == 0) {
        OutTensor t{p + ".weight", "I8", prec, {rows, u.in}, {}};
        appendBytes(t.data, int8q[ui].data() + static_cast<std::size_t>(r0) * u.in, static_cast<std::size_t>(rows) * u.in);
        res.tensors.push_back(std::move(t));
        OutTensor s{p + ".weight_scale", "F32", "f32", {rows}, {}};
        appendBytes(s.data, int8s[ui].data() + r0, static_cast<std::size_t>(rows) * 4);
        res.tensors.push_back(std::move(s));
      } else {
        const Int4Rows& q = int4[ui];
        const std::size_t bpr = static_cast<std::size_t>((u.in + 1) / 2);
        OutTensor t{p + ".weight", "U8", prec, {rows, static_cast<std::int64_t>(bpr)}, {}};
        appendBytes(t.data, q.packed.data() + static_cast<std::size_t>(r0) * bpr, rows * bpr);
        res.tensors.push_back(std::move(t));
        OutTensor s{p + ".weight_scale", "F16", "f16", {rows, q.groups}, {}};
        appendBytes(s.data, q.scaleF16.data() + static_cast<std::size_t>(r0) * q.groups, static_cast<std::size_t>(rows) * q.groups * 2);
        res.tensors.push_back(std::move(s));
        OutTensor z{p + ".weight_zero", "U8", "u8", {rows, q.groups}, {}};
        appendBytes(z.data, q.zero.data() + static_cast<std::size_t>(r0) * q.groups, static_cast<std::size_t>(rows) * q.groups);
        res.tensors.push_back(std::move(z));
      }
      f32(p + ".bias", b, {rows});
      r0 += rows;
    }
  }
  res.units = rep;
  // The session's float model was folded in place for AWQ: reload it before another recipe.
  return res;
}

}  // namespace glossa
