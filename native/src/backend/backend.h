// The device interface the model code calls. Two implementations: CpuBackend (backend/cpu_backend.*, the
// run-time selected KernelTable and the engine's ThreadPool) and CudaBackend (backend/cuda/, compiled where nvcc
// is present). Model code never reads a Buffer: its pointers may be device pointers. Every per-step integer input
// (tokens, positions, slot mapping, block tables, search inputs) is packed into one host array and uploaded once
// per call (`uploadInts`); ops take pointers into the uploaded copy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/tensor_ref.h"

namespace glossa {

// Memory owned by a backend (host memory for the CPU backend, device memory for CUDA).
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual float* data() = 0;
  virtual const float* data() const = 0;
  virtual std::size_t size() const = 0;
};

// y = x W^T + b for a weight W [outFeatures, inFeatures]. Implementations: the CPU's Float32Linear and the
// quantized Linears (quant/), the CUDA backend's own (backend/cuda/linear.cu), each created by its backend.
class Linear {
 public:
  virtual ~Linear() = default;
  virtual int inFeatures() const = 0;
  virtual int outFeatures() const = 0;
  virtual const char* precision() const = 0;
  // x: M rows of inFeatures (stride ldx); y: M rows of outFeatures (stride ldy).
  virtual void forward(const float* x, int ldx, int M, float* y, int ldy) const = 0;
  // Row n of W as floats in host memory (used for tied input embeddings on the CPU).
  virtual void weightRow(int n, float* out) const = 0;
  // The row stride (>= outFeatures) this Linear writes fastest with when the caller lets it choose: a device Linear
  // whose rows are padded for aligned library GEMMs can then write its output in place (no copy to a tight layout).
  virtual int preferredOutputStride() const { return outFeatures(); }
};

enum class Activation { Gelu, GeluTanh, Relu };

// Layout of the KV block storage: block b, layer l, kind (0 = K, 1 = V), slot s holds d elements at element
// index (((b * layers + l) * 2 + kind) * blockSize + s) * d from base. Elements are floats on the CPU; a backend
// may store them narrower (elementBytes 2: fp16/bf16 on CUDA), then `at` must not be used.
struct PagedKvLayout {
  float* base = nullptr;
  int blockSize = 0;
  int layers = 0;
  int d = 0;
  int elementBytes = 4;
  float* at(int block, int layer, int kind, int slot) const {
    return base + ((((static_cast<std::size_t>(block) * layers + layer) * 2 + kind) * blockSize + slot) *
                   static_cast<std::size_t>(d));
  }
  std::size_t blockFloats() const { return static_cast<std::size_t>(layers) * 2 * blockSize * d; }  // elements
  std::size_t blockBytes() const { return blockFloats() * static_cast<std::size_t>(elementBytes); }
};

// Query rows of paged attention (all pointers into the step's uploaded inputs): row m belongs to sequence
// rowSeq[m], attends to the first numKeys[m] slots of that sequence's blocks tables[rowSeq[m] * stride + i].
struct PagedRows {
  const int* rowSeq = nullptr;
  const int* numKeys = nullptr;
  const int* tables = nullptr;
  int stride = 0;
};

// Encoder rows grouped in contiguous segments (one per source); pointers into the uploaded inputs.
struct SegmentRows {
  const int* rowSeg = nullptr;    // [M] segment of each row
  const int* segStart = nullptr;  // [segments]
  const int* segLen = nullptr;    // [segments]
  int segments = 0;
  int maxLen = 0;                 // longest segment (host value, sizes launches)
};

// Per-row reductions of a logits matrix used by the device search path (see EngineCore::step): row statistics,
// the k best raw values and the raw values at listed token ids; valid in host memory after synchronize().
struct RowSearchResults {
  const float* stats = nullptr;    // [rows][2]: max, sum exp(x - max)
  const float* topValue = nullptr; // [rows][k] best first (ties: lower token first)
  const int* topToken = nullptr;   // [rows][k]
  const float* special = nullptr;  // [rows][cap] logits[r][specialIds[r * cap + j]] (0 where the id is < 0)
};

struct DeviceMemory {
  std::size_t total = 0, free = 0, used = 0;  // bytes (used: allocated by this engine)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;    // kernels, e.g. "avx512" or "cuda-f16"
  virtual std::string device() const = 0;  // "cpu" or "cuda:0"
  virtual std::string deviceName() const { return device(); }
  virtual int threads() const = 0;
  virtual DeviceMemory memory() const { return {}; }

  virtual std::unique_ptr<Buffer> allocate(std::size_t floats) = 0;
  virtual std::unique_ptr<Buffer> upload(const TensorRef& t) = 0;
  // Concatenates parts along the output dimension: W = [parts[0]; parts[1]; ...], same for biases
  // (a null bias part means zeros; all null means no bias).
  virtual std::unique_ptr<Linear> createLinear(const std::vector<const TensorRef*>& weightParts,
                                               const std::vector<const TensorRef*>& biasParts) = 0;
  virtual void download(const float* src, std::size_t n, float* hostDst) = 0;
  // rows x cols floats whose rows start ld apart (ld >= cols) into a dense host matrix: one download when the rows
  // are contiguous, else one per row.
  void downloadRows(const float* src, std::size_t rows, std::size_t cols, std::size_t ld, float* hostDst);
  virtual void copy(const float* src, float* dst, std::size_t n) = 0;
  // Copies n ints (host) to the backend and returns where they are; valid until the next call. The CPU returns
  // `host` itself (the caller keeps it alive), so this is the one upload of a step's integer inputs.
  virtual const int* uploadInts(const int* host, std::size_t n) = 0;
  // Bytes of one KV element (the KV pool is allocated with blockBytes() per block).
  virtual int kvElementBytes() const { return 4; }
  virtual void copyKvBlock(const PagedKvLayout& kv, int src, int dst);

  // out[m] = embedScale * table.row(tokens[m]) + positions[posIds[m]]
  virtual void embed(const Linear& table, const int* tokens, const int* posIds, int M, float embedScale,
                     const float* positions, int d, float* out) = 0;
  virtual void layerNorm(const float* x, int M, int d, const float* gamma, const float* beta, float eps,
                         float* y) = 0;
  virtual void activate(Activation a, float* x, std::size_t n) = 0;
  virtual void addInPlace(float* x, const float* y, std::size_t n) = 0;
  // x[r] += v for each of `rows` rows of n floats.
  virtual void addRowVector(float* x, int rows, std::size_t n, const float* v);
  // dst[i] = src[rows[i]] (rows of d floats), i < n.
  virtual void gatherRows(const float* src, const int* rows, int n, int d, float* dst) = 0;
  // Fused forms a backend may implement in one pass; the defaults compose the ops above (same bits).
  // h += x W^T + b (tmp: M x outFeatures scratch).
  virtual void linearAdd(const Linear& l, const float* x, int ldx, int M, float* h, float* tmp);
  // y = act(x W^T + b), y has stride outFeatures.
  virtual void linearActivate(const Linear& l, Activation a, const float* x, int ldx, int M, float* y);

  // Dense self-attention within segments of rows (the encoder): qkv rows [q | k | v] of 3*d floats;
  // rows of one segment attend to each other. q is scaled inside.
  virtual void segmentAttention(const float* qkv, const SegmentRows& seg, int M, int heads, int d, float scale,
                                float* out) = 0;
  // Writes K and V rows into the paged store: row m goes to (slotBlock[m], slotIndex[m]).
  virtual void storeKv(const PagedKvLayout& kv, int layer, const float* k, const float* v, int ld, int M,
                       const int* slotBlock, const int* slotIndex) = 0;
  // Paged attention of M query rows (stride ldq) over their own key lists; out has stride d.
  virtual void pagedAttention(const PagedKvLayout& kv, int layer, const float* q, int ldq, int M,
                              const PagedRows& rows, int heads, float scale, float* out) = 0;
  // A decode step's self-attention when every row is the only new row of its sequence (so no row reads a key that
  // another row of the call writes): qkv rows [q | k | v] (stride ld); stores row m's K and V at (slotBlock[m],
  // slotIndex[m]), then pagedAttention of q. A backend may do both in one pass; the default makes the two calls
  // (same bits).
  virtual void storeKvAndAttend(const PagedKvLayout& kv, int layer, const float* qkv, int ld, int M,
                                const int* slotBlock, const int* slotIndex, const PagedRows& rows, int heads,
                                float scale, float* out);

  // Device search (backends whose logits live on a device): enqueue per-row reductions whose results are read
  // after synchronize(). Backends that return false get their logits downloaded and searched on the host.
  virtual bool searchOnDevice() const { return false; }
  // logits: rows of `vocab` values, row r at logits + r * ld (ld >= vocab).
  virtual RowSearchResults enqueueRowSearch(const float* logits, int rows, int vocab, int ld, int k,
                                            const int* specialIds, int cap);

  // Runs fn, which enqueues work with the same shapes and pointers whenever `key` is the same (a decode step at
  // a bucketed batch size). A backend may record it once and replay it (CUDA graphs). Default: calls fn.
  virtual void replay(std::uint64_t key, const std::function<void()>& fn) { fn(); }
  // Forgets recorded work (buffers it used were reallocated).
  virtual void dropRecorded() {}
  // Waits for enqueued work (results of enqueueRowSearch, downloads) to be complete.
  virtual void synchronize() {}
  // Called at the start of every engine call from whichever thread runs it.
  virtual void bindThread() {}
  // Whether replay() records work (then decode steps pad their rows to bucketed sizes).
  virtual bool recordsSteps() const { return false; }
};

// Which backend an engine runs on (EngineOptions): "cpu", "cuda" or "cuda:N".
struct BackendSpec {
  std::string device = "cpu";
  std::string kernels;        // CPU kernel set ("" = best available)
  std::string compute = "";   // CUDA: "f16" (default), "bf16" or "f32" (exact mode: FP32 GEMMs, no TF32)
  bool deterministic = false; // CUDA: batch-invariant kernels only (no cuBLAS for weight GEMMs)
  bool cudaGraphs = true;     // CUDA: record decode steps as graphs at bucketed batch sizes
  bool hostSearchEmulation = false;  // CPU: run the device-search path on the host (tests)
};

}  // namespace glossa
