// The device interface the model code calls. The CPU backend implements it with the run-time selected
// KernelTable and the engine's ThreadPool; a CUDA backend can implement the same interface (its Buffers
// live in device memory) without any change to the model code.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "model/tensor_ref.h"

namespace glossa {

// Memory owned by a backend (host memory for the CPU backend).
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual float* data() = 0;
  virtual const float* data() const = 0;
  virtual std::size_t size() const = 0;
};

// y = x W^T + b for a weight W [outFeatures, inFeatures]. Implementations: Float32Linear (now);
// Int8Linear / Int4Linear later, created by the backend from a checkpoint or engine file.
class Linear {
 public:
  virtual ~Linear() = default;
  virtual int inFeatures() const = 0;
  virtual int outFeatures() const = 0;
  virtual const char* precision() const = 0;
  // x: M rows of inFeatures (stride ldx); y: M rows of outFeatures (stride ldy).
  virtual void forward(const float* x, int ldx, int M, float* y, int ldy) const = 0;
  // Row n of W as floats (used for tied input embeddings).
  virtual void weightRow(int n, float* out) const = 0;
};

enum class Activation { Gelu, GeluTanh, Relu };

// One query row of paged attention: its keys/values are the first numKeys slots of `blocks`.
struct AttentionRow {
  const int* blocks;
  int numKeys;
};

// Layout of the KV block storage: block b, layer l, kind (0 = K, 1 = V), slot s holds d floats at
// base + (((b * layers + l) * 2 + kind) * blockSize + s) * d.
struct PagedKvLayout {
  float* base = nullptr;
  int blockSize = 0;
  int layers = 0;
  int d = 0;
  float* at(int block, int layer, int kind, int slot) const {
    return base + ((((static_cast<std::size_t>(block) * layers + layer) * 2 + kind) * blockSize + slot) *
                   static_cast<std::size_t>(d));
  }
  std::size_t blockFloats() const { return static_cast<std::size_t>(layers) * 2 * blockSize * d; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // kernels, e.g. "avx512"
  virtual int threads() const = 0;

  virtual std::unique_ptr<Buffer> allocate(std::size_t floats) = 0;
  virtual std::unique_ptr<Buffer> upload(const TensorRef& t) = 0;
  // Concatenates parts along the output dimension: W = [parts[0]; parts[1]; ...], same for biases
  // (a null bias part means zeros; all null means no bias).
  virtual std::unique_ptr<Linear> createLinear(const std::vector<const TensorRef*>& weightParts,
                                               const std::vector<const TensorRef*>& biasParts) = 0;
  virtual void download(const float* src, std::size_t n, float* hostDst) = 0;
  virtual void copy(const float* src, float* dst, std::size_t n) = 0;

  // out[m] = embedScale * table.row(tokens[m]) + positions[posIds[m]]
  virtual void embed(const Linear& table, const int* tokens, const int* posIds, int M, float embedScale,
                     const float* positions, int d, float* out) = 0;
  virtual void layerNorm(const float* x, int M, int d, const float* gamma, const float* beta, float eps,
                         float* y) = 0;
  virtual void activate(Activation a, float* x, std::size_t n) = 0;
  virtual void addInPlace(float* x, const float* y, std::size_t n) = 0;

  // Dense self-attention within segments of rows (the encoder): qkv rows [q | k | v] of 3*d floats;
  // rows [segStart[i], segStart[i] + segLen[i]) attend to each other. q is scaled inside.
  virtual void segmentAttention(const float* qkv, const int* segStart, const int* segLen, int segments, int heads,
                                int d, float scale, float* out) = 0;
  // Writes K and V rows into the paged store: row m goes to (slotBlock[m], slotIndex[m]).
  virtual void storeKv(const PagedKvLayout& kv, int layer, const float* k, const float* v, int ld, int M,
                       const int* slotBlock, const int* slotIndex) = 0;
  // Paged attention of M query rows (stride ldq) over their own key lists; out has stride d.
  virtual void pagedAttention(const PagedKvLayout& kv, int layer, const float* q, int ldq, int M,
                              const AttentionRow* rows, int heads, float scale, float* out) = 0;
};

}  // namespace glossa
