#include "backend/cpu_backend.h"

#include "quant/quantized_linear.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

namespace glossa {
namespace {

// 64-byte aligned host buffer.
class HostBuffer : public Buffer {
 public:
  explicit HostBuffer(std::size_t floats) : size_(floats) {
    const std::size_t bytes = ((floats * sizeof(float) + 63) / 64) * 64;
    data_ = static_cast<float*>(std::aligned_alloc(64, bytes == 0 ? 64 : bytes));
    if (data_ == nullptr) throw std::bad_alloc();
  }
  ~HostBuffer() override { std::free(data_); }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  float* data() override { return data_; }
  const float* data() const override { return data_; }
  std::size_t size() const override { return size_; }

 private:
  float* data_ = nullptr;
  std::size_t size_;
};

// FP32 weights packed in kPanelWidth-column panels for the GEMM kernels.
class Float32Linear : public Linear {
 public:
  Float32Linear(CpuBackend& backend, const std::vector<const TensorRef*>& weightParts,
                const std::vector<const TensorRef*>& biasParts)
      : backend_(backend) {
    if (weightParts.empty()) throw std::runtime_error("Linear without weights");
    in_ = static_cast<int>(weightParts[0]->shape.at(1));
    out_ = 0;
    bool anyBias = false;
    for (std::size_t i = 0; i < weightParts.size(); ++i) {
      const TensorRef* w = weightParts[i];
      if (w->shape.size() != 2 || w->shape[1] != in_)
        throw std::runtime_error(w->describe() + ": unexpected shape for a linear layer");
      out_ += static_cast<int>(w->shape[0]);
      if (i < biasParts.size() && biasParts[i] != nullptr) anyBias = true;
    }
    panels_ = (out_ + kPanelWidth - 1) / kPanelWidth;
    packed_ = std::make_unique<HostBuffer>(static_cast<std::size_t>(panels_) * in_ * kPanelWidth);
    std::memset(packed_->data(), 0, packed_->size() * sizeof(float));
    if (anyBias) bias_.assign(static_cast<std::size_t>(out_), 0.f);
    std::vector<float> row(static_cast<std::size_t>(in_));
    int n0 = 0;
    float* dst = packed_->data();
    for (std::size_t i = 0; i < weightParts.size(); ++i) {
      const TensorRef* w = weightParts[i];
      const int rows = static_cast<int>(w->shape[0]);
      for (int r = 0; r < rows; ++r) {
        w->toFloat(static_cast<std::size_t>(r) * in_, static_cast<std::size_t>(in_), row.data());
        const int n = n0 + r;
        float* panel = dst + static_cast<std::size_t>(n / kPanelWidth) * in_ * kPanelWidth + n % kPanelWidth;
        for (int k = 0; k < in_; ++k) panel[static_cast<std::size_t>(k) * kPanelWidth] = row[static_cast<std::size_t>(k)];
      }
      if (i < biasParts.size() && biasParts[i] != nullptr) {
        const TensorRef* b = biasParts[i];
        if (b->elements() != rows) throw std::runtime_error(b->describe() + ": bias size does not match weight");
        b->toFloat(0, static_cast<std::size_t>(rows), bias_.data() + n0);
      }
      n0 += rows;
    }
  }

  int inFeatures() const override { return in_; }
  int outFeatures() const override { return out_; }
  const char* precision() const override { return "f32"; }

  void forward(const float* x, int ldx, int M, float* y, int ldy) const override {
    if (M <= 0) return;
    const KernelTable& kt = backend_.kernels();
    const float* packed = packed_->data();
    const float* bias = bias_.empty() ? nullptr : bias_.data();
    const int pairs = (panels_ + 1) / 2;  // panel pairs keep the AVX-512 kernel on its 2-panel path
    const int in = in_, out = out_, panels = panels_;
    backend_.pool().parallelFor(
        static_cast<std::size_t>(pairs),
        [&](std::size_t b, std::size_t e) {
          const int p0 = static_cast<int>(b) * 2;
          const int p1 = static_cast<int>(e) * 2 < panels ? static_cast<int>(e) * 2 : panels;
          kt.gemmPanels(x, ldx, M, in, packed, bias, y, ldy, out, p0, p1);
        },
        4);
  }

  void weightRow(int n, float* outRow) const override {
    if (n < 0 || n >= out_) throw std::runtime_error("weight row out of range");
    const float* panel = packed_->data() + static_cast<std::size_t>(n / kPanelWidth) * in_ * kPanelWidth + n % kPanelWidth;
    for (int k = 0; k < in_; ++k) outRow[k] = panel[static_cast<std::size_t>(k) * kPanelWidth];
  }

 private:
  CpuBackend& backend_;
  int in_ = 0, out_ = 0, panels_ = 0;
  std::unique_ptr<HostBuffer> packed_;
  std::vector<float> bias_;
};

}  // namespace

CpuBackend::CpuBackend(const KernelTable& kernels, ThreadPool& pool, bool hostSearchEmulation)
    : kernels_(kernels), pool_(pool), hostSearchEmulation_(hostSearchEmulation) {}

std::unique_ptr<Buffer> CpuBackend::allocate(std::size_t floats) { return std::make_unique<HostBuffer>(floats); }

std::unique_ptr<Buffer> CpuBackend::upload(const TensorRef& t) {
  auto b = std::make_unique<HostBuffer>(static_cast<std::size_t>(t.elements()));
  t.toFloat(0, b->size(), b->data());
  return b;
}

std::unique_ptr<Linear> CpuBackend::createLinear(const std::vector<const TensorRef*>& weightParts,
                                                 const std::vector<const TensorRef*>& biasParts) {
  // Engine files (calibration pipeline): int8 / int4 / kept-F16 weights get the quantized Linears.
  if (!weightParts.empty() && isQuantizedLinearDType(weightParts[0]->dtype))
    return createQuantizedLinear(selectQuantKernels(CpuFeatures::detect(), kernels_.name), pool_, weightParts,
                                 biasParts);
  return std::make_unique<Float32Linear>(*this, weightParts, biasParts);
}

void CpuBackend::download(const float* src, std::size_t n, float* hostDst) { std::memcpy(hostDst, src, n * sizeof(float)); }
void CpuBackend::copy(const float* src, float* dst, std::size_t n) { std::memcpy(dst, src, n * sizeof(float)); }

void CpuBackend::embed(const Linear& table, const int* tokens, const int* posIds, int M, float embedScale,
                       const float* positions, int d, float* out) {
  for (int m = 0; m < M; ++m) {
    float* o = out + static_cast<std::size_t>(m) * d;
    table.weightRow(tokens[m], o);
    const float* p = positions + static_cast<std::size_t>(posIds[m]) * d;
    for (int i = 0; i < d; ++i) o[i] = o[i] * embedScale + p[i];
  }
}

void CpuBackend::layerNorm(const float* x, int M, int d, const float* gamma, const float* beta, float eps, float* y) {
  pool_.parallelFor(static_cast<std::size_t>(M), [&](std::size_t b, std::size_t e) {
    for (std::size_t m = b; m < e; ++m) {
      const float* r = x + m * d;
      float* o = y + m * d;
      double sum = 0;
      for (int i = 0; i < d; ++i) sum += r[i];
      const double mean = sum / d;
      double var = 0;
      for (int i = 0; i < d; ++i) {
        const double c = r[i] - mean;
        var += c * c;
      }
      var /= d;
      const float rstd = static_cast<float>(1.0 / std::sqrt(var + eps));
      const float meanF = static_cast<float>(mean);
      for (int i = 0; i < d; ++i) o[i] = (r[i] - meanF) * rstd * gamma[i] + beta[i];
    }
  }, 8);
}

void CpuBackend::activate(Activation a, float* x, std::size_t n) {
  pool_.parallelFor(n, [&](std::size_t b, std::size_t e) {
    switch (a) {
      case Activation::Gelu:
        kernels_.gelu(x + b, e - b);
        break;
      case Activation::GeluTanh:
        for (std::size_t i = b; i < e; ++i) {
          const float v = x[i];
          x[i] = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        }
        break;
      case Activation::Relu:
        for (std::size_t i = b; i < e; ++i) x[i] = x[i] > 0.f ? x[i] : 0.f;
        break;
    }
  }, 4096);
}

void CpuBackend::addInPlace(float* x, const float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] += y[i];
}

void CpuBackend::gatherRows(const float* src, const int* rows, int n, int d, float* dst) {
  for (int i = 0; i < n; ++i)
    std::memcpy(dst + static_cast<std::size_t>(i) * d, src + static_cast<std::size_t>(rows[i]) * d, sizeof(float) * d);
}

namespace {

// softmax(scores[0..n)) in place; fixed order.
void softmaxInPlace(const KernelTable& kt, float* s, int n) {
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = s[i] > mx ? s[i] : mx;
  const float sum = kt.expInPlace(s, n, mx);
  const float inv = 1.0f / sum;
  for (int i = 0; i < n; ++i) s[i] *= inv;
}

}  // namespace

void CpuBackend::segmentAttention(const float* qkv, const SegmentRows& seg, int M, int heads, int d, float scale,
                                  float* out) {
  const int hd = d / heads;
  const int ld = 3 * d;
  // Work items: (row, head) pairs over all segments.
  const std::size_t items = static_cast<std::size_t>(M) * heads;
  pool_.parallelFor(items, [&](std::size_t b, std::size_t e) {
    std::vector<float> scores;
    std::vector<const float*> keyRows, valueRows;
    for (std::size_t it = b; it < e; ++it) {
      const int r = static_cast<int>(it / heads);
      const int h = static_cast<int>(it % heads);
      const int s = seg.rowSeg[r];
      const int start = seg.segStart[s];
      const int n = seg.segLen[s];
      const float* q = qkv + static_cast<std::size_t>(r) * ld + h * hd;
      scores.resize(static_cast<std::size_t>(n));
      keyRows.resize(static_cast<std::size_t>(n));
      for (int j = 0; j < n; ++j) keyRows[j] = qkv + static_cast<std::size_t>(start + j) * ld + d + h * hd;
      kernels_.scaledDots(q, keyRows.data(), n, hd, scale, scores.data());
      softmaxInPlace(kernels_, scores.data(), n);
      valueRows.resize(static_cast<std::size_t>(n));
      for (int j = 0; j < n; ++j) valueRows[j] = qkv + static_cast<std::size_t>(start + j) * ld + 2 * d + h * hd;
      kernels_.weightedSum(scores.data(), valueRows.data(), n, out + static_cast<std::size_t>(r) * d + h * hd, hd);
    }
  }, 4);
}

void CpuBackend::storeKv(const PagedKvLayout& kv, int layer, const float* k, const float* v, int ld, int M,
                         const int* slotBlock, const int* slotIndex) {
  for (int m = 0; m < M; ++m) {
    std::memcpy(kv.at(slotBlock[m], layer, 0, slotIndex[m]), k + static_cast<std::size_t>(m) * ld,
                sizeof(float) * kv.d);
    std::memcpy(kv.at(slotBlock[m], layer, 1, slotIndex[m]), v + static_cast<std::size_t>(m) * ld,
                sizeof(float) * kv.d);
  }
}

void CpuBackend::pagedAttention(const PagedKvLayout& kv, int layer, const float* q, int ldq, int M,
                                const PagedRows& rows, int heads, float scale, float* out) {
  const int d = kv.d;
  const int hd = d / heads;
  const int bs = kv.blockSize;
  const std::size_t items = static_cast<std::size_t>(M) * heads;
  pool_.parallelFor(items, [&](std::size_t b, std::size_t e) {
    std::vector<float> scores;
    std::vector<const float*> keyRows, valueRows;
    for (std::size_t it = b; it < e; ++it) {
      const int m = static_cast<int>(it / heads);
      const int h = static_cast<int>(it % heads);
      const int* blocks = rows.tables + static_cast<std::size_t>(rows.rowSeq[m]) * rows.stride;
      const int numKeys = rows.numKeys[m];
      const float* qh = q + static_cast<std::size_t>(m) * ldq + h * hd;
      scores.resize(static_cast<std::size_t>(numKeys));
      keyRows.resize(static_cast<std::size_t>(numKeys));
      for (int j = 0; j < numKeys; ++j) keyRows[j] = kv.at(blocks[j / bs], layer, 0, j % bs) + h * hd;
      kernels_.scaledDots(qh, keyRows.data(), numKeys, hd, scale, scores.data());
      softmaxInPlace(kernels_, scores.data(), numKeys);
      valueRows.resize(static_cast<std::size_t>(numKeys));
      for (int j = 0; j < numKeys; ++j) valueRows[j] = kv.at(blocks[j / bs], layer, 1, j % bs) + h * hd;
      kernels_.weightedSum(scores.data(), valueRows.data(), numKeys, out + static_cast<std::size_t>(m) * d + h * hd, hd);
    }
  }, 4);
}

RowSearchResults CpuBackend::enqueueRowSearch(const float* logits, int rows, int vocab, int ld, int k,
                                              const int* specialIds, int cap) {
  stats_.assign(static_cast<std::size_t>(rows) * 2, 0.f);
  topValue_.assign(static_cast<std::size_t>(rows) * k, -INFINITY);
  topToken_.assign(static_cast<std::size_t>(rows) * k, -1);
  special_.assign(static_cast<std::size_t>(rows) * cap, 0.f);
  pool_.parallelFor(static_cast<std::size_t>(rows), [&](std::size_t b, std::size_t e) {
    for (std::size_t r = b; r < e; ++r) {
      const float* x = logits + r * static_cast<std::size_t>(ld);
      float mx = -INFINITY;
      for (int t = 0; t < vocab; ++t) mx = x[t] > mx ? x[t] : mx;
      stats_[2 * r] = mx;
      stats_[2 * r + 1] = mx == -INFINITY ? 0.f : kernels_.sumExp(x, vocab, mx);
      float* tv = topValue_.data() + r * k;
      int* tt = topToken_.data() + r * k;
      for (int t = 0; t < vocab; ++t) {
        const float v = x[t];
        if (!(v > tv[k - 1])) continue;  // ties keep the lower token already held
        int i = k - 1;
        while (i > 0 && v > tv[i - 1]) {
          tv[i] = tv[i - 1];
          tt[i] = tt[i - 1];
          --i;
        }
        tv[i] = v;
        tt[i] = t;
      }
      for (int j = 0; j < cap; ++j) {
        const int id = specialIds[r * cap + j];
        special_[r * cap + j] = id >= 0 && id < vocab ? x[id] : 0.f;
      }
    }
  });
  return RowSearchResults{stats_.data(), topValue_.data(), topToken_.data(), special_.data()};
}

}  // namespace glossa
