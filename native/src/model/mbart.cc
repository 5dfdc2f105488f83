#include "model/mbart.h"

#include <algorithm>
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
  // Device backends add final_logits_bias in the LM head's epilogue (one pass less over the logits); the CPU keeps
  // its own order of operations (LM head, then the bias), which the HF goldens were matched with.
  const TensorRef* logitsBias = w.has("final_logits_bias") ? &w.get("final_logits_bias", Shape{1, V}) : nullptr;
  logitsBiasInHead_ = logitsBias != nullptr && backend.device() != "cpu";
  const TensorRef* headBias = logitsBiasInHead_ ? logitsBias : nullptr;
  // A separate lm_head: an untied checkpoint's, or an engine file's quantized one (recipe option --lm-head int8;
  // the tied F16 table then serves the embeddings only).
  if (lmHead != nullptr && (!cfg.tieWordEmbeddings || lmHead->quantized())) {
    lmHead = &w.get("lm_head.weight", Shape{V, D});
    lmHead_ = backend.createLinear({lmHead}, {headBias});
    embedding_ = backend.createLinear({&shared}, {nullptr});
  } else {
    lmHead_ = backend.createLinear({&shared}, {headBias});
  }
  for (const char* name : {"model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"})
    if (w.has(name)) w.get(name, Shape{V, D});  // tied to shared; checked only
  if (w.has("final_logits_bias")) finalLogitsBias_ = backend.upload(w.get("final_logits_bias", Shape{1, V}));
  // A separately added bias (CPU) walks tight rows; the padded stride is for heads that add it themselves.
  logitsStride_ = finalLogitsBias_ && !logitsBiasInHead_ ? static_cast<int>(V) : std::max(static_cast<int>(V), lmHead_->preferredOutputStride());
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
    if (slot < kEncHidden) backend_.dropRecorded();  // recorded decoder passes used the old buffer
  }
  return b->data();
}

void MBartModel::feedForward(const std::unique_ptr<Linear>& fc1, const std::unique_ptr<Linear>& fc2, const Norm& norm,
                             float* h, int M, int ffn, float* normBuf, float* ffnBuf, float* tmp) {
  const int d = cfg_.dModel;
  (void)ffn;
  backend_.layerNorm(h, M, d, norm.gamma->data(), norm.beta->data(), cfg_.layerNormEps, normBuf);
  backend_.linearActivate(*fc1, cfg_.activation, normBuf, d, M, ffnBuf);
  backend_.linearAdd(*fc2, ffnBuf, fc1->outFeatures(), M, h, tmp);
}

void MBartModel::embedTokens(const int* tokens, const int* positions, int M, const Buffer& positionTable,
                             const Norm& embeddingNorm, float* tmp, float* h) {
  const int d = cfg_.dModel;
  const Linear& table = embedding_ ? *embedding_ : *lmHead_;
  const float scale = cfg_.scaleEmbedding ? std::sqrt(static_cast<float>(d)) : 1.0f;
  backend_.embed(table, tokens, positions, M, scale, positionTable.data(), d, tmp);
  backend_.layerNorm(tmp, M, d, embeddingNorm.gamma->data(), embeddingNorm.beta->data(), cfg_.layerNormEps, h);
}

void MBartModel::encode(const std::vector<EncodeItem>& items, const PagedKvLayout& kv, std::vector<float>* encoderOut) {
  const int d = cfg_.dModel;
  const std::size_t D = static_cast<std::size_t>(d);
  std::vector<int> tokens, positions, segStart, segLen, rowSeg, slotBlock, slotIndex;
  int maxLen = 0;
  for (std::size_t s = 0; s < items.size(); ++s) {
    const EncodeItem& it = items[s];
    if (it.length <= 0 || it.length > cfg_.maxPositions) throw std::runtime_error("source length out of range");
    segStart.push_back(static_cast<int>(tokens.size()));
    segLen.push_back(it.length);
    maxLen = std::max(maxLen, it.length);
    for (int i = 0; i < it.length; ++i) {
      if (it.ids[i] < 0 || it.ids[i] >= cfg_.vocabSize) throw std::runtime_error("source token id out of range");
      tokens.push_back(it.ids[i]);
      positions.push_back(i + 2);
      rowSeg.push_back(static_cast<int>(s));
      // Cross-attention K/V of every decoder layer go to the request's cross blocks.
      slotBlock.push_back(it.crossBlocks[i / kv.blockSize]);
      slotIndex.push_back(i % kv.blockSize);
    }
  }
  const int M = static_cast<int>(tokens.size());
  if (M == 0) return;
  StepInputs in;
  const int oTok = in.add(tokens), oPos = in.add(positions), oStart = in.add(segStart), oLen = in.add(segLen),
            oSeg = in.add(rowSeg), oBlock = in.add(slotBlock), oIndex = in.add(slotIndex);
  const int* dev = backend_.uploadInts(in.data().data(), in.data().size());
  SegmentRows seg{dev + oSeg, dev + oStart, dev + oLen, static_cast<int>(items.size()), maxLen};

  const int ffn = cfg_.encoderFfn;
  float* h = scratch(kEncHidden, M * D);
  float* nrm = scratch(kEncNorm, M * D);
  float* qkv = scratch(kEncQkv, M * 3 * D);
  float* att = scratch(kEncAttn, M * D);
  float* tmp = scratch(kEncTmp, M * D);
  float* ffnBuf = scratch(kEncFfn, static_cast<std::size_t>(M) * ffn);
  float* kvBuf = scratch(kEncKv, M * 2 * D);
  embedTokens(dev + oTok, dev + oPos, M, *encPositions_, encEmbNorm_, tmp, h);
  const int heads = cfg_.encoderHeads;
  const float attScale = 1.0f / std::sqrt(static_cast<float>(d / heads));
  for (const auto& L : enc_) {
    backend_.layerNorm(h, M, d, L.selfNorm.gamma->data(), L.selfNorm.beta->data(), cfg_.layerNormEps, nrm);
    L.qkv->forward(nrm, d, M, qkv, 3 * d);
    backend_.segmentAttention(qkv, seg, M, heads, d, attScale, att);
    backend_.linearAdd(*L.out, att, d, M, h, tmp);
    feedForward(L.fc1, L.fc2, L.ffnNorm, h, M, ffn, nrm, ffnBuf, tmp);
  }
  backend_.layerNorm(h, M, d, encFinalNorm_.gamma->data(), encFinalNorm_.beta->data(), cfg_.layerNormEps, nrm);
  if (encoderOut != nullptr) {
    encoderOut->resize(M * D);
    backend_.download(nrm, M * D, encoderOut->data());
  }
  // Cross-attention K/V of every decoder layer, stored once per request.
  for (int l = 0; l < cfg_.decoderLayers; ++l) {
    dec_[static_cast<std::size_t>(l)].crossKv->forward(nrm, d, M, kvBuf, 2 * d);
    backend_.storeKv(kv, l, kvBuf, kvBuf + d, 2 * d, M, dev + oBlock, dev + oIndex);
  }
  backend_.synchronize();  // the uploaded inputs are replaced by the next call
}

DecodePlan MBartModel::planDecode(const std::vector<DecodeSequence>& seqs, int blockSize, int padRows, int spareBlock,
                                  StepInputs& in) const {
  const int stride = (cfg_.maxPositions + blockSize - 1) / blockSize;
  std::vector<int> tokens, positions, slotBlock, slotIndex, rowSeq, selfKeys, crossKeys, lastRows;
  std::vector<int> selfTables, crossTables;
  for (std::size_t si = 0; si < seqs.size(); ++si) {
    const DecodeSequence& s = seqs[si];
    if (s.count <= 0) throw std::runtime_error("decode: sequence with nothing to feed");
    if (s.start + s.count > cfg_.maxPositions) throw std::runtime_error("decode: sequence longer than max positions");
    if (s.sourceLength <= 0 || s.sourceLength > cfg_.maxPositions) throw std::runtime_error("decode: bad source length");
    for (int i = 0; i < s.count; ++i) {
      const int pos = s.start + i;
      if (s.tokens[i] < 0 || s.tokens[i] >= cfg_.vocabSize) throw std::runtime_error("decode: token id out of range");
      tokens.push_back(s.tokens[i]);
      positions.push_back(pos + 2);
      slotBlock.push_back(s.selfBlocks[pos / blockSize]);
      slotIndex.push_back(pos % blockSize);
      rowSeq.push_back(static_cast<int>(si));
      selfKeys.push_back(pos + 1);
      crossKeys.push_back(s.sourceLength);
    }
    lastRows.push_back(static_cast<int>(tokens.size()) - 1);
    const int selfUsed = (s.start + s.count + blockSize - 1) / blockSize;
    const int crossUsed = (s.sourceLength + blockSize - 1) / blockSize;
    for (int b = 0; b < stride; ++b) {
      selfTables.push_back(b < selfUsed ? s.selfBlocks[b] : spareBlock);
      crossTables.push_back(b < crossUsed ? s.crossBlocks[b] : spareBlock);
    }
  }
  const int realRows = static_cast<int>(tokens.size());
  const int realSeqs = static_cast<int>(seqs.size());
  if (padRows > 0) {
    if (realRows != realSeqs || padRows < realSeqs) throw std::logic_error("decode: padding needs one row per sequence");
    for (int r = realRows; r < padRows; ++r) {
      tokens.push_back(cfg_.padId);
      positions.push_back(2);
      slotBlock.push_back(spareBlock);
      slotIndex.push_back(0);
      rowSeq.push_back(r);
      selfKeys.push_back(1);
      crossKeys.push_back(1);
      lastRows.push_back(r);
      for (int b = 0; b < stride; ++b) {
        selfTables.push_back(spareBlock);
        crossTables.push_back(spareBlock);
      }
    }
  }
  DecodePlan p;
  p.M = static_cast<int>(tokens.size());
  p.S = static_cast<int>(lastRows.size());
  p.stride = stride;
  p.tokens = in.add(tokens);
  p.positions = in.add(positions);
  p.slotBlock = in.add(slotBlock);
  p.slotIndex = in.add(slotIndex);
  p.rowSeq = in.add(rowSeq);
  p.selfKeys = in.add(selfKeys);
  p.crossKeys = in.add(crossKeys);
  p.lastRows = in.add(lastRows);
  p.selfTables = in.add(selfTables);
  p.crossTables = in.add(crossTables);
  return p;
}

const float* MBartModel::runDecode(const DecodePlan& p, const int* dev, const PagedKvLayout& kv) {
  const int d = cfg_.dModel;
  const std::size_t D = static_cast<std::size_t>(d);
  const int M = p.M, S = p.S;
  if (M == 0) return nullptr;
  const int ffn = cfg_.decoderFfn;
  float* h = scratch(kHidden, M * D);
  float* nrm = scratch(kNorm, M * D);
  float* qkv = scratch(kQkv, M * 3 * D);
  float* att = scratch(kAttn, M * D);
  float* tmp = scratch(kTmp, M * D);
  float* ffnBuf = scratch(kFfn, static_cast<std::size_t>(M) * ffn);
  const std::size_t V = static_cast<std::size_t>(cfg_.vocabSize);
  float* out = scratch(kLogits, static_cast<std::size_t>(S) * static_cast<std::size_t>(logitsStride_));
  const PagedRows selfRows{dev + p.rowSeq, dev + p.selfKeys, dev + p.selfTables, p.stride};
  const PagedRows crossRows{dev + p.rowSeq, dev + p.crossKeys, dev + p.crossTables, p.stride};
  embedTokens(dev + p.tokens, dev + p.positions, M, *decPositions_, decEmbNorm_, tmp, h);
  const int heads = cfg_.decoderHeads;
  const float attScale = 1.0f / std::sqrt(static_cast<float>(d / heads));
  for (int l = 0; l < cfg_.decoderLayers; ++l) {
    const DecoderLayer& L = dec_[static_cast<std::size_t>(l)];
    backend_.layerNorm(h, M, d, L.selfNorm.gamma->data(), L.selfNorm.beta->data(), cfg_.layerNormEps, nrm);
    L.qkv->forward(nrm, d, M, qkv, 3 * d);
    if (M == S) {  // one new row per sequence: no row reads a key another row writes in this step
      backend_.storeKvAndAttend(kv, l, qkv, 3 * d, M, dev + p.slotBlock, dev + p.slotIndex, selfRows, heads, attScale,
                                att);
    } else {
      backend_.storeKv(kv, l, qkv + d, qkv + 2 * d, 3 * d, M, dev + p.slotBlock, dev + p.slotIndex);
      backend_.pagedAttention(kv, l, qkv, 3 * d, M, selfRows, heads, attScale, att);
    }
    backend_.linearAdd(*L.selfOut, att, d, M, h, tmp);

    backend_.layerNorm(h, M, d, L.crossNorm.gamma->data(), L.crossNorm.beta->data(), cfg_.layerNormEps, nrm);
    L.crossQ->forward(nrm, d, M, qkv, d);
    // Cross K/V live in the decoder-layer slots of the request's cross blocks.
    backend_.pagedAttention(kv, l, qkv, d, M, crossRows, heads, attScale, att);
    backend_.linearAdd(*L.crossOut, att, d, M, h, tmp);

    feedForward(L.fc1, L.fc2, L.ffnNorm, h, M, ffn, nrm, ffnBuf, tmp);
  }
  // Final norm and LM head only for each sequence's last row.
  backend_.gatherRows(h, dev + p.lastRows, S, d, tmp);
  backend_.layerNorm(tmp, S, d, decFinalNorm_.gamma->data(), decFinalNorm_.beta->data(), cfg_.layerNormEps, nrm);
  lmHead_->forward(nrm, d, S, out, logitsStride_);
  if (finalLogitsBias_ && !logitsBiasInHead_) backend_.addRowVector(out, S, V, finalLogitsBias_->data());
  return out;
}

void MBartModel::decode(const std::vector<DecodeSequence>& seqs, const PagedKvLayout& kv, std::vector<float>& logits) {
  StepInputs in;
  const DecodePlan p = planDecode(seqs, kv.blockSize, 0, -1, in);
  logits.resize(static_cast<std::size_t>(p.S) * cfg_.vocabSize);
  if (p.M == 0) return;
  const int* dev = backend_.uploadInts(in.data().data(), in.data().size());
  const float* out = runDecode(p, dev, kv);
  backend_.downloadRows(out, static_cast<std::size_t>(p.S), static_cast<std::size_t>(cfg_.vocabSize),
                        static_cast<std::size_t>(logitsStride_), logits.data());
  backend_.synchronize();
}

}  // namespace glossa
