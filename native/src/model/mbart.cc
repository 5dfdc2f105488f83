#include "model/mbart.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace glossa {

namespace {
using Shape = std::vector<std::int64_t>;
}

MBartModel::Norm MBartModel::loadNorm(const WeightStore& w, const std::string& prefix) {
  const std::int64_t d = cfg_.dModel;
  Norm n;
  n.gamma = backend_.upload(w.get(prefix + ".weight", Shape{d}));
  n.beta = backend_.upload(w.get(prefix + ".bias", Shape{d}));
  return n;
}

std::unique_ptr<Linear> MBartModel::loadLinear(const WeightStore& w, const std::vector<std::string>& prefixes, int out,
                                               int in) {
  std::vector<const TensorRef*> ws, bs;
  for (const auto& p : prefixes) {
    ws.push_back(&w.get(p + ".weight", Shape{out, in}));
    bs.push_back(&w.get(p + ".bias", Shape{out}));
  }
  return backend_.createLinear(ws, bs);
}

MBartModel::MBartModel(const ModelConfig& cfg, const WeightStore& w, Backend& backend) : cfg_(cfg), backend_(backend) {
  const int d = cfg.dModel;
  if (d <= 0 || cfg.encoderHeads <= 0 || d % cfg.encoderHeads != 0 || cfg.decoderHeads <= 0 || d % cfg.decoderHeads != 0)
    throw std::runtime_error("config: d_model must be a positive multiple of the attention heads");
  const std::int64_t V = cfg.vocabSize, D = d, P = cfg.maxPositions + 2;
  const TensorRef& shared = w.get("model.shared.weight", Shape{V, D});
  const TensorRef* lmHead = w.find("lm_head.weight");
  if (lmHead != nullptr && !cfg.tieWordEmbeddings) {
    lmHead = &w.get("lm_head.weight", Shape{V, D});
    lmHead_ = backend.createLinear({lmHead}, {nullptr});
    embedding_ = backend.createLinear({&shared}, {nullptr});
  } else {
    lmHead_ = backend.createLinear({&shared}, {nullptr});
  }
  for (const char* name : {"model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"})
    if (w.has(name)) w.get(name, Shape{V, D});  // tied to shared; checked only
  if (w.has("final_logits_bias")) finalLogitsBias_ = backend.upload(w.get("final_logits_bias", Shape{1, V}));
  encPositions_ = backend.upload(w.get("model.encoder.embed_positions.weight", Shape{P, D}));
  decPositions_ = backend.upload(w.get("model.decoder.embed_positions.weight", Shape{P, D}));
  encEmbNorm_ = loadNorm(w, "model.encoder.layernorm_embedding");
  decEmbNorm_ = loadNorm(w, "model.decoder.layernorm_embedding");
  encFinalNorm_ = loadNorm(w, "model.encoder.layer_norm");
  decFinalNorm_ = loadNorm(w, "model.decoder.layer_norm");
  for (int i = 0; i < cfg.encoderLayers; ++i) {
    const std::string p = "model.encoder.layers." + std::to_string(i) + ".";
    EncoderLayer L;
    L.selfNorm = loadNorm(w, p + "self_attn_layer_norm");
    L.ffnNorm = loadNorm(w, p + "final_layer_norm");
    L.qkv = loadLinear(w, {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}, d, d);
    L.out = loadLinear(w, {p + "self_attn.out_proj"}, d, d);
    L.fc1 = loadLinear(w, {p + "fc1"}, cfg.encoderFfn, d);
    L.fc2 = loadLinear(w, {p + "fc2"}, d, cfg.encoderFfn);
    enc_.push_back(std::move(L));
  }
  for (int i = 0; i < cfg.decoderLayers; ++i) {
    const std::string p = "model.decoder.layers." + std::to_string(i) + ".";
    DecoderLayer L;
    L.selfNorm = loadNorm(w, p + "self_attn_layer_norm");
    L.crossNorm = loadNorm(w, p + "encoder_attn_layer_norm");
    L.ffnNorm = loadNorm(w, p + "final_layer_norm");
    L.qkv = loadLinear(w, {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}, d, d);
    L.selfOut = loadLinear(w, {p + "self_attn.out_proj"}, d, d);
    L.crossQ = loadLinear(w, {p + "encoder_attn.q_proj"}, d, d);
    L.crossKv = loadLinear(w, {p + "encoder_attn.k_proj", p + "encoder_attn.v_proj"}, d, d);
    L.crossOut = loadLinear(w, {p + "encoder_attn.out_proj"}, d, d);
    L.fc1 = loadLinear(w, {p + "fc1"}, cfg.decoderFfn, d);
    L.fc2 = loadLinear(w, {p + "fc2"}, d, cfg.decoderFfn);
    dec_.push_back(std::move(L));
  }
}

float* MBartModel::scratch(Scratch slot, std::size_t floats) {
  std::unique_ptr<Buffer>& b = scratch_[slot];
  if (!b || b->size() < floats) {
    b.reset();
    b = backend_.allocate(floats + floats / 4);
  }
  return b->data();
}

void MBartModel::feedForward(const std::unique_ptr<Linear>& fc1, const std::unique_ptr<Linear>& fc2, const Norm& norm,
                             float* h, int M, int ffn, float* normBuf, float* ffnBuf, float* tmp) {
  const int d = cfg_.dModel;
  backend_.layerNorm(h, M, d, norm.gamma->data(), norm.beta->data(), cfg_.layerNormEps, normBuf);
  fc1->forward(normBuf, d, M, ffnBuf, ffn);
  backend_.activate(cfg_.activation, ffnBuf, static_cast<std::size_t>(M) * ffn);
  fc2->forward(ffnBuf, ffn, M, tmp, d);
  backend_.addInPlace(h, tmp, static_cast<std::size_t>(M) * d);
}

void MBartModel::embedTokens(const std::vector<int>& tokens, const std::vector<int>& positions,
                             const Buffer& positionTable, const Norm& embeddingNorm, float* tmp, float* h) {
  const int d = cfg_.dModel;
  const int M = static_cast<int>(tokens.size());
  const Linear& table = embedding_ ? *embedding_ : *lmHead_;
  const float scale = cfg_.scaleEmbedding ? std::sqrt(static_cast<float>(d)) : 1.0f;
  backend_.embed(table, tokens.data(), positions.data(), M, scale, positionTable.data(), d, tmp);
  backend_.layerNorm(tmp, M, d, embeddingNorm.gamma->data(), embeddingNorm.beta->data(), cfg_.layerNormEps, h);
}

void MBartModel::encode(const std::vector<EncodeItem>& items, const PagedKvLayout& kv, std::vector<float>* encoderOut) {
  const int d = cfg_.dModel;
  const std::size_t D = static_cast<std::size_t>(d);
  std::vector<int> tokens, positions, segStart, segLen;
  for (const auto& it : items) {
    if (it.length <= 0 || it.length > cfg_.maxPositions) throw std::runtime_error("source length out of range");
    segStart.push_back(static_cast<int>(tokens.size()));
    segLen.push_back(it.length);
    for (int i = 0; i < it.length; ++i) {
      if (it.ids[i] < 0 || it.ids[i] >= cfg_.vocabSize) throw std::runtime_error("source token id out of range");
      tokens.push_back(it.ids[i]);
      positions.push_back(i + 2);
    }
  }
  const int M = static_cast<int>(tokens.size());
  if (M == 0) return;
  const int ffn = cfg_.encoderFfn;
  float* h = scratch(kHidden, M * D);
  float* nrm = scratch(kNorm, M * D);
  float* qkv = scratch(kQkv, M * 3 * D);
  float* att = scratch(kAttn, M * D);
  float* tmp = scratch(kTmp, M * D);
  float* ffnBuf = scratch(kFfn, static_cast<std::size_t>(M) * ffn);
  embedTokens(tokens, positions, *encPositions_, encEmbNorm_, tmp, h);
  const int heads = cfg_.encoderHeads;
  const float attScale = 1.0f / std::sqrt(static_cast<float>(d / heads));
  for (const auto& L : enc_) {
    backend_.layerNorm(h, M, d, L.selfNorm.gamma->data(), L.selfNorm.beta->data(), cfg_.layerNormEps,
                       nrm);
    L.qkv->forward(nrm, d, M, qkv, 3 * d);
    backend_.segmentAttention(qkv, segStart.data(), segLen.data(), static_cast<int>(items.size()), heads, d,
                              attScale, att);
    L.out->forward(att, d, M, tmp, d);
    backend_.addInPlace(h, tmp, M * D);
    feedForward(L.fc1, L.fc2, L.ffnNorm, h, M, ffn, nrm, ffnBuf, tmp);
  }
  backend_.layerNorm(h, M, d, encFinalNorm_.gamma->data(), encFinalNorm_.beta->data(), cfg_.layerNormEps,
                     nrm);
  if (encoderOut != nullptr) {
    encoderOut->resize(M * D);
    backend_.download(nrm, M * D, encoderOut->data());
  }
  // Cross-attention K/V of every decoder layer, stored once per request.
  std::vector<int> slotBlock(static_cast<std::size_t>(M)), slotIndex(static_cast<std::size_t>(M));
  for (std::size_t s = 0; s < items.size(); ++s)
    for (int i = 0; i < items[s].length; ++i) {
      slotBlock[static_cast<std::size_t>(segStart[s] + i)] = items[s].crossBlocks[i / kv.blockSize];
      slotIndex[static_cast<std::size_t>(segStart[s] + i)] = i % kv.blockSize;
    }
  float* kvBuf = scratch(kKv, M * 2 * D);
  for (int l = 0; l < cfg_.decoderLayers; ++l) {
    dec_[static_cast<std::size_t>(l)].crossKv->forward(nrm, d, M, kvBuf, 2 * d);
    backend_.storeKv(kv, l, kvBuf, kvBuf + d, 2 * d, M, slotBlock.data(), slotIndex.data());
  }
}

void MBartModel::decode(const std::vector<DecodeSequence>& seqs, const PagedKvLayout& kv, std::vector<float>& logits) {
  const int d = cfg_.dModel;
  const std::size_t D = static_cast<std::size_t>(d);
  std::vector<int> tokens, positions, slotBlock, slotIndex, lastRows;
  std::vector<AttentionRow> selfRows, crossRows;
  for (const auto& s : seqs) {
    if (s.count <= 0) throw std::runtime_error("decode: sequence with nothing to feed");
    if (s.start + s.count > cfg_.maxPositions) throw std::runtime_error("decode: sequence longer than max positions");
    for (int i = 0; i < s.count; ++i) {
      const int pos = s.start + i;
      if (s.tokens[i] < 0 || s.tokens[i] >= cfg_.vocabSize) throw std::runtime_error("decode: token id out of range");
      tokens.push_back(s.tokens[i]);
      positions.push_back(pos + 2);
      slotBlock.push_back(s.selfBlocks[pos / kv.blockSize]);
      slotIndex.push_back(pos % kv.blockSize);
      selfRows.push_back(AttentionRow{s.selfBlocks, pos + 1});
      crossRows.push_back(AttentionRow{s.crossBlocks, s.sourceLength});
    }
    lastRows.push_back(static_cast<int>(tokens.size()) - 1);
  }
  const int M = static_cast<int>(tokens.size());
  const int S = static_cast<int>(seqs.size());
  logits.resize(static_cast<std::size_t>(S) * cfg_.vocabSize);
  if (M == 0) return;
  const int ffn = cfg_.decoderFfn;
  float* h = scratch(kHidden, M * D);
  float* nrm = scratch(kNorm, M * D);
  float* qkv = scratch(kQkv, M * 3 * D);
  float* att = scratch(kAttn, M * D);
  float* tmp = scratch(kTmp, M * D);
  float* ffnBuf = scratch(kFfn, static_cast<std::size_t>(M) * ffn);
  embedTokens(tokens, positions, *decPositions_, decEmbNorm_, tmp, h);
  const int heads = cfg_.decoderHeads;
  const float attScale = 1.0f / std::sqrt(static_cast<float>(d / heads));
  for (int l = 0; l < cfg_.decoderLayers; ++l) {
    const DecoderLayer& L = dec_[static_cast<std::size_t>(l)];
    backend_.layerNorm(h, M, d, L.selfNorm.gamma->data(), L.selfNorm.beta->data(), cfg_.layerNormEps,
                       nrm);
    L.qkv->forward(nrm, d, M, qkv, 3 * d);
    backend_.storeKv(kv, l, qkv + d, qkv + 2 * d, 3 * d, M, slotBlock.data(), slotIndex.data());
    backend_.pagedAttention(kv, l, qkv, 3 * d, M, selfRows.data(), heads, attScale, att);
    L.selfOut->forward(att, d, M, tmp, d);
    backend_.addInPlace(h, tmp, M * D);

    backend_.layerNorm(h, M, d, L.crossNorm.gamma->data(), L.crossNorm.beta->data(), cfg_.layerNormEps,
                       nrm);
    L.crossQ->forward(nrm, d, M, qkv, d);
    // Cross K/V live in the decoder-layer slots of the request's cross blocks.
    backend_.pagedAttention(kv, l, qkv, d, M, crossRows.data(), heads, attScale, att);
    L.crossOut->forward(att, d, M, tmp, d);
    backend_.addInPlace(h, tmp, M * D);

    feedForward(L.fc1, L.fc2, L.ffnNorm, h, M, ffn, nrm, ffnBuf, tmp);
  }
  // Final norm and LM head only for each sequence's last row.
  for (int s = 0; s < S; ++s)
    backend_.copy(h + static_cast<std::size_t>(lastRows[static_cast<std::size_t>(s)]) * D,
                  tmp + static_cast<std::size_t>(s) * D, D);
  backend_.layerNorm(tmp, S, d, decFinalNorm_.gamma->data(), decFinalNorm_.beta->data(), cfg_.layerNormEps,
                     nrm);
  const std::size_t V = static_cast<std::size_t>(cfg_.vocabSize);
  float* out = scratch(kLogits, static_cast<std::size_t>(S) * V);
  lmHead_->forward(nrm, d, S, out, cfg_.vocabSize);
  if (finalLogitsBias_)
    for (int s = 0; s < S; ++s) backend_.addInPlace(out + s * V, finalLogitsBias_->data(), V);
  backend_.download(out, static_cast<std::size_t>(S) * V, logits.data());
}

}  // namespace glossa
