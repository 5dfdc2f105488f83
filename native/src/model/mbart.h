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

// Host-side integer inputs of one call, uploaded once (Backend::uploadInts); ops read them through offsets.
class StepInputs {
 public:
  int add(const int* p, std::size_t n) {
    const int at = static_cast<int>(data_.size());
    data_.insert(data_.end(), p, p + n);
    return at;
  }
  int add(const std::vector<int>& v) { return add(v.data(), v.size()); }
  int fill(std::size_t n, int value) {
    const int at = static_cast<int>(data_.size());
    data_.resize(data_.size() + n, value);
    return at;
  }
  int* at(int offset) { return data_.data() + offset; }
  const std::vector<int>& data() const { return data_; }

 private:
  std::vector<int> data_;
};

// Where a decoder pass's inputs sit in its StepInputs (offsets) and its shapes. Rows beyond the real ones
// (padding to a recorded batch size) feed the pad token, write their K/V into the pool's spare block and
// attend to one key.
struct DecodePlan {
  int M = 0;        // query rows (padded)
  int S = 0;        // sequences = logits rows (padded)
  int stride = 0;   // block-table entries per sequence
  int tokens = 0, positions = 0, slotBlock = 0, slotIndex = 0, rowSeq = 0, selfKeys = 0, crossKeys = 0, lastRows = 0,
      selfTables = 0, crossTables = 0;
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

  // The same in parts (EngineCore::step): planDecode appends the pass's integer inputs (validated) to `in`,
  // padding to padRows rows when every sequence feeds one token (padRows >= sequences; 0: no padding) with
  // spareBlock as the padded rows' KV slot; runDecode enqueues the pass on the uploaded inputs and returns the
  // backend's S x vocab logits. runDecode uses no host data but plan, so it can be recorded and replayed.
  DecodePlan planDecode(const std::vector<DecodeSequence>& seqs, int blockSize, int padRows, int spareBlock,
                        StepInputs& in) const;
  const float* runDecode(const DecodePlan& plan, const int* dev, const PagedKvLayout& kv);
  // Row stride of runDecode's logits (>= vocabSize): the LM head's preferred output stride (a CUDA LM head with
  // rows padded to a multiple of 8 writes its GEMM output in place), vocabSize on the CPU.
  int logitsStride() const { return logitsStride_; }

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
  void embedTokens(const int* tokens, const int* positions, int M, const Buffer& positionTable,
                   const Norm& embeddingNorm, float* tmp, float* h);

  // Reusable scratch buffers (grown on demand, never shrunk) so steps do not re-allocate and page-fault. The
  // encoder has its own, so that encoding long sources never moves the buffers recorded decoder passes use.
  enum Scratch { kHidden, kNorm, kQkv, kAttn, kTmp, kFfn, kLogits, kEncHidden, kEncNorm, kEncQkv, kEncAttn, kEncTmp,
                 kEncFfn, kEncKv, kScratchCount };
  float* scratch(Scratch slot, std::size_t floats);

  ModelConfig cfg_;
  Backend& backend_;
  std::unique_ptr<Buffer> scratch_[kScratchCount];
  std::unique_ptr<Linear> lmHead_;     // tied to model.shared.weight unless untied lm_head.weight
  std::unique_ptr<Linear> embedding_;  // only when lm_head is untied; else lmHead_ serves embeddings
  std::unique_ptr<Buffer> finalLogitsBias_;
  bool logitsBiasInHead_ = false;  // final_logits_bias is the LM head's bias (device backends)
  int logitsStride_ = 0;           // see logitsStride()
  std::unique_ptr<Buffer> encPositions_, decPositions_;
  Norm encEmbNorm_, decEmbNorm_, encFinalNorm_, decFinalNorm_;
  std::vector<EncoderLayer> enc_;
  std::vector<DecoderLayer> dec_;
};

}  // namespace glossa
