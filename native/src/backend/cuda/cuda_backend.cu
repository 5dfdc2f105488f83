// CudaBackend: the glue of the CUDA backend. One device, one stream, one cuBLAS handle; device buffers from
// cudaMalloc; the step's integer inputs go through one pinned staging buffer; decode passes recorded as CUDA graphs
// per key (bucketed batch size) and replayed; per-row search reductions come back through pinned memory.
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "backend/cuda/cuda_api.h"
#include "backend/cuda/cublas_dyn.h"
#include "backend/cuda/kernels.cuh"
#include "backend/cuda/linear.h"

namespace glossa {
namespace cuda {
namespace {

class DeviceBuffer : public Buffer {
 public:
  DeviceBuffer(ScratchSource& owner, std::size_t floats) : owner_(owner), size_(floats) {
    data_ = static_cast<float*>(owner_.allocBytes((floats == 0 ? 1 : floats) * sizeof(float)));
  }
  ~DeviceBuffer() override { owner_.freeBytes(data_, (size_ == 0 ? 1 : size_) * sizeof(float)); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  float* data() override { return data_; }
  const float* data() const override { return data_; }
  std::size_t size() const override { return size_; }

 private:
  ScratchSource& owner_;
  float* data_ = nullptr;
  std::size_t size_;
};

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

class CudaBackend : public Backend, public ScratchSource {
 public:
  CudaBackend(const BackendSpec& spec, int ordinal) : ordinal_(ordinal), spec_(spec) {
    GLOSSA_CUDA(cudaSetDevice(ordinal_));
    GLOSSA_CUDA(cudaGetDeviceProperties(&props_, ordinal_));
    if (props_.major < 7) throw std::runtime_error(std::string(props_.name) + " is too old (compute capability 7.0+ needed)");
    if (spec.compute.empty() || spec.compute == "f16") compute_ = ElemType::F16;
    else if (spec.compute == "bf16") compute_ = ElemType::BF16;
    else if (spec.compute == "f32") compute_ = ElemType::F32;
    else throw std::invalid_argument("compute \"" + spec.compute + "\": expected f16, bf16 or f32");
    GLOSSA_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    workspaceBytes_ = 32u << 20;
    workspace_ = allocBytes(workspaceBytes_);
    cublas_ = std::make_unique<Cublas>(stream_, workspace_, workspaceBytes_);
    ctx_.stream = stream_;
    ctx_.cublas = cublas_.get();
    ctx_.scratch = this;
    ctx_.compute = compute_;
    ctx_.deterministic = spec.deterministic;
    // Streaming kernel up to 4 rows, cuBLAS above (measured on an H200: at 8 and 16 rows cuBLAS's step was 1.6 ms,
    // the streaming kernel's 2.3 and 3.2 ms).
    ctx_.gemvMaxRows = envInt("GLOSSA_CUDA_STREAM_ROWS", 4);
    ctx_.quantGemvMaxRows = envInt("GLOSSA_CUDA_QUANT_STREAM_ROWS", 4);
    ctx_.smallLayerRows = envInt("GLOSSA_CUDA_SMALL_LAYER_ROWS", 0);
    ctx_.smallLayerWeights = static_cast<long long>(envInt("GLOSSA_CUDA_SMALL_LAYER_MWEIGHTS", 8)) << 20;
    // A decode step's KV store inside its self-attention kernel (GLOSSA_CUDA_FUSE_KV=0: two kernels, for A/B runs).
    fuseKvStore_ = envInt("GLOSSA_CUDA_FUSE_KV", 1) != 0;
  }

  ~CudaBackend() override {
    cudaSetDevice(ordinal_);
    cudaStreamSynchronize(stream_);
    dropRecorded();
    for (auto& s : scratch_)
      if (s.ptr) cudaFree(s.ptr);
    for (auto& s : shadows_)
      if (s.buf) cudaFree(s.buf);
    if (intsDev_) cudaFree(intsDev_);
    if (intsHost_) cudaFreeHost(intsHost_);
    if (searchHost_) cudaFreeHost(searchHost_);
    if (searchDev_) cudaFree(searchDev_);
    if (partial_) cudaFree(partial_);
    cublas_.reset();
    if (workspace_) freeBytes(workspace_, workspaceBytes_);
    cudaStreamDestroy(stream_);
  }

  std::string name() const override {
    return std::string("cuda-") + (compute_ == ElemType::F32 ? "f32" : compute_ == ElemType::F16 ? "f16" : "bf16") +
           (spec_.deterministic ? "-deterministic" : "");
  }
  std::string device() const override { return "cuda:" + std::to_string(ordinal_); }
  std::string deviceName() const override { return props_.name; }
  int threads() const override { return 1; }
  DeviceMemory memory() const override {
    DeviceMemory m;
    cudaSetDevice(ordinal_);
    std::size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) == cudaSuccess) {
      m.free = fr;
      m.total = tot;
    }
    m.used = used_;
    return m;
  }

  // ScratchSource
  void* allocBytes(std::size_t bytes) override {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes == 0 ? 1 : bytes);
    if (e != cudaSuccess)
      throw std::runtime_error("out of device memory: " + std::to_string(bytes >> 20) + " MiB more wanted (" +
                               std::to_string(used_ >> 20) + " MiB held by this engine): " + cudaGetErrorString(e));
    used_ += bytes;
    return p;
  }
  void freeBytes(void* p, std::size_t bytes) override {
    if (p == nullptr) return;
    cudaFree(p);
    used_ -= bytes;
  }
  // 16-bit copies of float outputs (layer norm, attention, GELU), read by the next library GEMM instead of a
  // conversion pass. A copy is valid until something writes its source floats (touched) or a step starts.
  const void* shadowFor(const float* x, int ldx, int M, int K, ElemType t) override {
    if (t != compute_) return nullptr;
    for (const Shadow& s : shadows_)
      if (s.valid && s.src == x && s.M == M && s.K == K && ldx == K) return s.buf;
    return nullptr;
  }
  void touched(const float* p, std::size_t n) override {
    for (Shadow& s : shadows_)
      if (s.valid && p < s.src + static_cast<std::size_t>(s.M) * s.K && s.src < p + n) s.valid = false;
  }
  // Claims a copy slot for the output [src, M x K) of the op about to run; empty when no library GEMM will want it.
  HalfOut produce(int slot, const float* src, int M, int K) {
    touched(src, static_cast<std::size_t>(M) * K);
    if (compute_ == ElemType::F32 || M <= ctx_.gemvMaxRows || spec_.deterministic) return {};
    Shadow& s = shadows_[slot];
    const std::size_t bytes = static_cast<std::size_t>(M) * K * 2;
    if (s.bytes < bytes) {
      if (s.buf) {
        GLOSSA_CUDA(cudaStreamSynchronize(stream_));
        freeBytes(s.buf, s.bytes);
      }
      s.bytes = bytes + bytes / 4 + 256;
      s.buf = allocBytes(s.bytes);
      ++generation_;
    }
    s.src = src;
    s.M = M;
    s.K = K;
    s.valid = true;
    HalfOut h;
    if (compute_ == ElemType::F16) h.f16 = static_cast<__half*>(s.buf);
    else h.bf16 = static_cast<__nv_bfloat16*>(s.buf);
    return h;
  }
  void forgetShadows() {
    for (Shadow& s : shadows_) s.valid = false;
  }

  void* scratch(Slot slot, std::size_t bytes) override {
    Scratch& s = scratch_[slot];
    if (s.bytes < bytes) {
      if (s.ptr) {
        GLOSSA_CUDA(cudaStreamSynchronize(stream_));
        freeBytes(s.ptr, s.bytes);
        s.ptr = nullptr;
      }
      s.bytes = bytes + bytes / 4 + 256;
      s.ptr = allocBytes(s.bytes);
      ++generation_;
    }
    return s.ptr;
  }

  std::unique_ptr<Buffer> allocate(std::size_t floats) override { return std::make_unique<DeviceBuffer>(*this, floats); }

  std::unique_ptr<Buffer> upload(const TensorRef& t) override {
    std::vector<float> host(static_cast<std::size_t>(t.elements()));
    t.toFloat(0, host.size(), host.data());
    auto b = std::make_unique<DeviceBuffer>(*this, host.size());
    copyToDevice(b->data(), host.data(), host.size() * sizeof(float), stream_);
    return b;
  }

  std::unique_ptr<Linear> createLinear(const std::vector<const TensorRef*>& weightParts,
                                       const std::vector<const TensorRef*>& biasParts) override {
    return CudaLinear::create(ctx_, weightParts, biasParts);
  }

  void download(const float* src, std::size_t n, float* hostDst) override {
    GLOSSA_CUDA(cudaMemcpyAsync(hostDst, src, n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
  }
  void copy(const float* src, float* dst, std::size_t n) override {
    touched(dst, n);
    GLOSSA_CUDA(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream_));
  }
  const int* uploadInts(const int* host, std::size_t n) override {
    if (n > intsCapacity_) {
      GLOSSA_CUDA(cudaStreamSynchronize(stream_));
      if (intsDev_) {
        cudaFree(intsDev_);
        used_ -= intsCapacity_ * sizeof(int);
      }
      if (intsHost_) cudaFreeHost(intsHost_);
      intsCapacity_ = n + n / 2 + 4096;
      intsDev_ = static_cast<int*>(allocBytes(intsCapacity_ * sizeof(int)));
      GLOSSA_CUDA(cudaMallocHost(&intsHost_, intsCapacity_ * sizeof(int)));
      ++generation_;
    }
    // The previous call's copy has finished: every engine call ends with synchronize().
    std::memcpy(intsHost_, host, n * sizeof(int));
    GLOSSA_CUDA(cudaMemcpyAsync(intsDev_, intsHost_, n * sizeof(int), cudaMemcpyHostToDevice, stream_));
    return intsDev_;
  }
  int kvElementBytes() const override { return compute_ == ElemType::F32 ? 4 : 2; }
  void copyKvBlock(const PagedKvLayout& kv, int src, int dst) override {
    const std::size_t bytes = kv.blockBytes();
    auto* base = reinterpret_cast<char*>(kv.base);
    GLOSSA_CUDA(cudaMemcpyAsync(base + static_cast<std::size_t>(dst) * bytes, base + static_cast<std::size_t>(src) * bytes,
                                bytes, cudaMemcpyDeviceToDevice, stream_));
  }

  void embed(const Linear& table, const int* tokens, const int* posIds, int M, float embedScale, const float* positions,
             int d, float* out) override {
    const auto* t = dynamic_cast<const CudaLinear*>(&table);
    if (t == nullptr || t->inFeatures() != d) throw std::logic_error("CUDA embed needs the backend's own Linear");
    touched(out, static_cast<std::size_t>(M) * d);
    t->embed(tokens, posIds, M, embedScale, positions, out);
  }
  void layerNorm(const float* x, int M, int d, const float* gamma, const float* beta, float eps, float* y) override {
    cuda::layerNorm(x, M, d, gamma, beta, eps, y, produce(0, y, M, d), stream_);
  }
  void activate(Activation a, float* x, std::size_t n) override {
    touched(x, n);
    cuda::activate(a, x, n, stream_);
  }
  void addInPlace(float* x, const float* y, std::size_t n) override {
    touched(x, n);
    cuda::addInPlace(x, y, n, stream_);
  }
  void addRowVector(float* x, int rows, std::size_t n, const float* v) override {
    touched(x, rows * n);
    cuda::addRowVector(x, rows, n, v, stream_);
  }
  void gatherRows(const float* src, const int* rows, int n, int d, float* dst) override {
    touched(dst, static_cast<std::size_t>(n) * d);
    cuda::gatherRows(src, rows, n, d, dst, stream_);
  }
  void linearAdd(const Linear& l, const float* x, int ldx, int M, float* h, float* tmp) override {
    own(l).run(x, ldx, M, h, l.outFeatures(), Epilogue::Add, Activation::Gelu, tmp);
  }
  void linearActivate(const Linear& l, Activation a, const float* x, int ldx, int M, float* y) override {
    const CudaLinear& c = own(l);
    const HalfOut yh = c.writesHalfCopy(M) ? produce(2, y, M, l.outFeatures()) : HalfOut{};
    c.run(x, ldx, M, y, l.outFeatures(), Epilogue::Act, a, nullptr, yh);
    if (yh.f16 || yh.bf16) shadows_[2].valid = true;  // run() touched y before writing it and its copy
  }
  void segmentAttention(const float* qkv, const SegmentRows& seg, int M, int heads, int d, float scale,
                        float* out) override {
    cuda::segmentAttention(qkv, seg, M, heads, d, scale, out, produce(1, out, M, d), stream_);
  }
  void storeKv(const PagedKvLayout& kv, int layer, const float* k, const float* v, int ld, int M, const int* slotBlock,
               const int* slotIndex) override {
    cuda::storeKv(view(kv), layer, k, v, ld, M, slotBlock, slotIndex, stream_);
  }
  void pagedAttention(const PagedKvLayout& kv, int layer, const float* q, int ldq, int M, const PagedRows& rows,
                      int heads, float scale, float* out) override {
    cuda::pagedAttention(view(kv), layer, q, ldq, M, rows, heads, scale, rows.stride * kv.blockSize, out,
                         produce(1, out, M, kv.d), stream_);
  }

  void storeKvAndAttend(const PagedKvLayout& kv, int layer, const float* qkv, int ld, int M, const int* slotBlock,
                        const int* slotIndex, const PagedRows& rows, int heads, float scale, float* out) override {
    if (!fuseKvStore_) return Backend::storeKvAndAttend(kv, layer, qkv, ld, M, slotBlock, slotIndex, rows, heads, scale, out);
    cuda::storeKvAndAttend(view(kv), layer, qkv, ld, M, slotBlock, slotIndex, rows, heads, scale,
                           rows.stride * kv.blockSize, out, produce(1, out, M, kv.d), stream_);
  }

  bool searchOnDevice() const override { return true; }
  RowSearchResults enqueueRowSearch(const float* logits, int rows, int vocab, int ld, int k, const int* specialIds,
                                    int cap) override {
    const std::size_t partialFloats = rowSearchPartialFloats(rows, vocab, k);
    if (partialFloats > partialFloats_) {
      GLOSSA_CUDA(cudaStreamSynchronize(stream_));
      if (partial_) freeBytes(partial_, partialFloats_ * 4);
      partialFloats_ = partialFloats + partialFloats / 2;
      partial_ = static_cast<float*>(allocBytes(partialFloats_ * 4));
      ++generation_;
    }
    const std::size_t outFloats = static_cast<std::size_t>(rows) * (2 + 2 * k + cap);
    if (outFloats > searchFloats_) {
      GLOSSA_CUDA(cudaStreamSynchronize(stream_));
      if (searchDev_) freeBytes(searchDev_, searchFloats_ * 4);
      if (searchHost_) cudaFreeHost(searchHost_);
      searchFloats_ = outFloats + outFloats / 2 + 1024;
      searchDev_ = static_cast<float*>(allocBytes(searchFloats_ * 4));
      GLOSSA_CUDA(cudaMallocHost(&searchHost_, searchFloats_ * 4));
      ++generation_;
    }
    rowSearch(logits, rows, vocab, ld, k, specialIds, cap, partial_, partialFloats_, searchDev_, stream_);
    GLOSSA_CUDA(cudaMemcpyAsync(searchHost_, searchDev_, outFloats * 4, cudaMemcpyDeviceToHost, stream_));
    RowSearchResults r;
    r.stats = searchHost_;
    r.topValue = searchHost_ + static_cast<std::size_t>(rows) * 2;
    r.topToken = reinterpret_cast<const int*>(r.topValue + static_cast<std::size_t>(rows) * k);
    r.special = reinterpret_cast<const float*>(r.topToken + static_cast<std::size_t>(rows) * k);
    return r;
  }

  bool recordsSteps() const override { return spec_.cudaGraphs; }
  void replay(std::uint64_t key, const std::function<void()>& fn) override {
    forgetShadows();  // the recorded work must not depend on copies left by earlier calls
    if (!spec_.cudaGraphs) return fn();
    auto it = graphs_.find(key);
    if (it != graphs_.end() && it->second.generation == generation_) {
      GLOSSA_CUDA(cudaGraphLaunch(it->second.exec, stream_));
      return;
    }
    // Run it once for real (growing every buffer it needs), then record the same work and keep the graph.
    fn();
    forgetShadows();
    const std::uint64_t before = generation_;
    cudaGraph_t graph = nullptr;
    GLOSSA_CUDA(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    try {
      fn();
    } catch (...) {
      cudaStreamEndCapture(stream_, &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    GLOSSA_CUDA(cudaStreamEndCapture(stream_, &graph));
    if (generation_ != before) {  // something grew while recording: the graph may hold stale pointers
      cudaGraphDestroy(graph);
      return;
    }
    cudaGraphExec_t exec = nullptr;
    const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    GLOSSA_CUDA(e);
    if (it != graphs_.end()) {
      cudaGraphExecDestroy(it->second.exec);
      graphs_.erase(it);
    }
    graphs_[key] = Recorded{exec, generation_};
    forgetShadows();
  }
  void dropRecorded() override {
    for (auto& g : graphs_) cudaGraphExecDestroy(g.second.exec);
    graphs_.clear();
    ++generation_;
  }
  void synchronize() override { GLOSSA_CUDA(cudaStreamSynchronize(stream_)); }
  void bindThread() override { GLOSSA_CUDA(cudaSetDevice(ordinal_)); }

 private:
  struct Scratch {
    void* ptr = nullptr;
    std::size_t bytes = 0;
  };
  struct Recorded {
    cudaGraphExec_t exec;
    std::uint64_t generation;
  };
  struct Shadow {
    const float* src = nullptr;
    int M = 0, K = 0;
    void* buf = nullptr;
    std::size_t bytes = 0;
    bool valid = false;
  };

  const CudaLinear& own(const Linear& l) const {
    const auto* c = dynamic_cast<const CudaLinear*>(&l);
    if (c == nullptr) throw std::logic_error("the CUDA backend got a Linear of another backend");
    return *c;
  }
  KvView view(const PagedKvLayout& kv) const {
    return KvView{kv.base, kv.blockSize, kv.layers, kv.d, compute_ == ElemType::F32 ? ElemType::F32 : compute_};
  }

  int ordinal_;
  BackendSpec spec_;
  cudaDeviceProp props_{};
  ElemType compute_ = ElemType::F16;
  bool fuseKvStore_ = true;
  cudaStream_t stream_ = nullptr;
  void* workspace_ = nullptr;
  std::size_t workspaceBytes_ = 0;
  std::unique_ptr<Cublas> cublas_;
  LinearContext ctx_;
  std::size_t used_ = 0;
  Scratch scratch_[ScratchSource::kCount];
  int* intsDev_ = nullptr;
  int* intsHost_ = nullptr;
  std::size_t intsCapacity_ = 0;
  float* partial_ = nullptr;
  std::size_t partialFloats_ = 0;
  float* searchDev_ = nullptr;
  float* searchHost_ = nullptr;
  std::size_t searchFloats_ = 0;
  std::map<std::uint64_t, Recorded> graphs_;
  Shadow shadows_[3];  // 0: layer norm output, 1: attention output, 2: activation (fc1) output
  std::uint64_t generation_ = 0;
};

}  // namespace
}  // namespace cuda

std::string cudaProbe(int ordinal) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) return std::string("no CUDA device visible (") + cudaGetErrorString(e) + ")";
  if (count == 0) return "no CUDA device visible";
  if (ordinal < 0 || ordinal >= count)
    return "CUDA device " + std::to_string(ordinal) + " does not exist (" + std::to_string(count) + " visible)";
  const std::string blas = cuda::Cublas::probe();
  if (!blas.empty()) return blas;
  return "";
}

std::unique_ptr<Backend> createCudaBackend(const BackendSpec& spec, int ordinal) {
  return std::make_unique<cuda::CudaBackend>(spec, ordinal);
}

}  // namespace glossa
