// MBartForConditionalGeneration forward pass (pre-norm encoder/decoder, learned positions with offset 2),
// written against the Backend interface only.
#pragma once
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "model/config.h"
#include "model/weight_store.h"

namespace glossa {

struct EncodeItem {
  const int* ids = nullptr;
  int length = 0;
  const int* crossBlocks = nullptr;  // where this item's cross-attention K/V go (ceil(length / blockSize))
};

// One decoder sequence in a step: it feeds `count` tokens at positions [start, start + count)
// and gets logits for its last one.
struct DecodeSequence {
  const int* tokens = nullptr;       // the tokens to feed
  int start = 0;                     // position of tokens[0] (= tokens already in its self-attention cache)
  int count = 0;
  const int* selfBlocks = nullptr;   // covers positions [0, start + count)
  const int* crossBlocks = nullptr;
  int sourceLength = 0;
};

class MBartModel {
 public:
  MBartModel(const ModelConfig& cfg, const WeightStore& weights, Backend& backend);

  const ModelConfig& config() const { return cfg_; }
  const char* precision() const { return lmHead_->precision(); }

  // Runs the encoder over a batch of sources (no padding) and stores each one's cross-attention K/V
  // for every decoder layer in its blocks. encoderOut (optional, host) receives the final hidden states.
  void encode(const std::vector<EncodeItem>& items, const PagedKvLayout& kv, std::vector<float>* encoderOut = nullptr);

  // Advances the decoder over all sequences; logits (host) gets one row of vocabSize per sequence.
  void decode(const std::vector<DecodeSequence>& seqs, const PagedKvLayout& kv, std::vector<float>& logits);

 private:
  struct Norm {
    std::unique_ptr<Buffer> gamma, beta;
  };
  struct EncoderLayer {
    Norm selfNorm, ffnNorm;
    std::unique_ptr<Linear> qkv, out, fc1, fc2;
  };
  struct DecoderLayer {
    Norm selfNorm, crossNorm, ffnNorm;
    std::unique_ptr<Linear> qkv, selfOut, crossQ, crossKv, crossOut, fc1, fc2;
  };

  Norm loadNorm(const WeightStore& w, const std::string& prefix);
  std::unique_ptr<Linear> loadLinear(const WeightStore& w, const std::vector<std::string>& prefixes, int out, int in);
  void feedForward(const std::unique_ptr<Linear>& fc1, const std::unique_ptr<Linear>& fc2, const Norm& norm, float* h,
                   int M, int ffn, float* normBuf, float* ffnBuf, float* tmp);

  // Token embeddings (scaled) + learned positions, then layernorm_embedding: the first step of both stacks.
  void embedTokens(const std::vector<int>& tokens, const std::vector<int>& positions, const Buffer& positionTable,
                   const Norm& embeddingNorm, float* tmp, float* h);

  // Reusable scratch buffers (grown on demand, never shrunk) so steps do not re-allocate and page-fault.
  enum Scratch { kHidden, kNorm, kQkv, kAttn, kTmp, kFfn, kKv, kLogits, kScratchCount };
  float* scratch(Scratch slot, std::size_t floats);

  ModelConfig cfg_;
  Backend& backend_;
  std::unique_ptr<Buffer> scratch_[kScratchCount];
  std::unique_ptr<Linear> lmHead_;     // tied to model.shared.weight unless untied lm_head.weight
  std::unique_ptr<Linear> embedding_;  // only when lm_head is untied; else lmHead_ serves embeddings
  std::unique_ptr<Buffer> finalLogitsBias_;
  std::unique_ptr<Buffer> encPositions_, decPositions_;
  Norm encEmbNorm_, decEmbNorm_, encFinalNorm_, decFinalNorm_;
  std::vector<EncoderLayer> enc_;
  std::vector<DecoderLayer> dec_;
};

}  // namespace glossa
