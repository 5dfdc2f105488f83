#include "quant/quantized_linear.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/kernel_table.h"

namespace glossa {
namespace {

constexpr int kW = kPanelWidth;

struct Rows {
  int in = 0, out = 0;
  std::vector<float> bias;  // empty: none
};

Rows checkParts(const std::vector<const TensorRef*>& w, const std::vector<const TensorRef*>& b) {
  if (w.empty()) throw std::runtime_error("Linear without weights");
  Rows r;
  r.in = static_cast<int>(w[0]->shape.at(1));
  bool anyBias = false;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (w[i]->shape.size() != 2 || w[i]->shape[1] != r.in)
      throw std::runtime_error(w[i]->describe() + ": unexpected shape for a linear layer");
    if (w[i]->dtype != w[0]->dtype || w[i]->groupSize != w[0]->groupSize)
      throw std::runtime_error(w[i]->describe() + ": fused parts must share one precision (" +
                               std::string(dtypeName(w[0]->dtype)) + " vs " + dtypeName(w[i]->dtype) + ")");
    r.out += static_cast<int>(w[i]->shape[0]);
    if (i < b.size() && b[i] != nullptr) anyBias = true;
  }
  if (anyBias) {
    r.bias.assign(static_cast<std::size_t>(r.out), 0.f);
    int n0 = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      const int rows = static_cast<int>(w[i]->shape[0]);
      if (i < b.size() && b[i] != nullptr) {
        if (b[i]->elements() != rows) throw std::runtime_error(b[i]->describe() + ": bias size does not match weight");
        b[i]->toFloat(0, static_cast<std::size_t>(rows), r.bias.data() + n0);
      }
      n0 += rows;
    }
  }
  return r;
}

// Calls fn(part, rowInPart, globalRow) for every output row.
template <typename Fn>
void forRows(const std::vector<const TensorRef*>& w, Fn fn) {
  int n0 = 0;
  for (const TensorRef* t : w) {
    const int rows = static_cast<int>(t->shape[0]);
    for (int r = 0; r < rows; ++r) fn(*t, r, n0 + r);
    n0 += rows;
  }
}

class QuantLinearBase : public Linear {
 public:
  QuantLinearBase(const QuantKernelTable& k, ThreadPool& pool, Rows rows)
      : kernels_(k), pool_(pool), in_(rows.in), out_(rows.out), panels_((rows.out + kW - 1) / kW), bias_(std::move(rows.bias)) {}
  int inFeatures() const override { return in_; }
  int outFeatures() const override { return out_; }

 protected:
  template <typename Fn>
  void forPanels(Fn fn) const {
    pool_.parallelFor(static_cast<std::size_t>(panels_), [&](std::size_t b, std::size_t e) {
      fn(static_cast<int>(b), static_cast<int>(e));
    }, 4);
  }
  const float* bias() const { return bias_.empty() ? nullptr : bias_.data(); }
  // Per-token int8 activations (quantizeRows), rows split over the pool when there are many.
  void quantizeActivations(const float* x, int ldx, int M, int K, int Kp, std::int8_t* xq, float* xs) const {
    if (M < 16) {
      kernels_.quantizeRows(x, ldx, M, K, Kp, xq, xs);
      return;
    }
    pool_.parallelFor(static_cast<std::size_t>(M), [&](std::size_t b, std::size_t e) {
      kernels_.quantizeRows(x + b * static_cast<std::size_t>(ldx), ldx, static_cast<int>(e - b), K, Kp,
                            xq + b * static_cast<std::size_t>(Kp), xs + b);
    }, 8);
  }

  const QuantKernelTable& kernels_;
  ThreadPool& pool_;
  int in_, out_, panels_;
  std::vector<float> bias_;
};

class Half16Linear : public QuantLinearBase {
 public:
  Half16Linear(const QuantKernelTable& k, ThreadPool& pool, const std::vector<const TensorRef*>& w,
               const std::vector<const TensorRef*>& b)
      : QuantLinearBase(k, pool, checkParts(w, b)) {
    packed_.assign(static_cast<std::size_t>(panels_) * in_ * kW, 0);
    forRows(w, [&](const TensorRef& t, int r, int n) {
      t.requireFinite(static_cast<std::size_t>(r) * in_, static_cast<std::size_t>(in_));  // kept F16: no conversion
      const std::uint8_t* src = t.data + static_cast<std::size_t>(r) * in_ * 2;
      std::uint16_t* dst = packed_.data() + static_cast<std::size_t>(n / kW) * in_ * kW + n % kW;
      for (int k = 0; k < in_; ++k) std::memcpy(dst + static_cast<std::size_t>(k) * kW, src + 2 * k, 2);
    });
  }
  const char* precision() const override { return "f16"; }
  void forward(const float* x, int ldx, int M, float* y, int ldy) const override {
    if (M <= 0) return;
    forPanels([&](int p0, int p1) { kernels_.gemmF16(x, ldx, M, in_, packed_.data(), bias(), y, ldy, out_, p0, p1); });
  }
  void weightRow(int n, float* outRow) const override {
    if (n < 0 || n >= out_) throw std::runtime_error("weight row out of range");
    const std::uint16_t* p = packed_.data() + static_cast<std::size_t>(n / kW) * in_ * kW + n % kW;
    for (int k = 0; k < in_; ++k) outRow[k] = halfToFloat(p[static_cast<std::size_t>(k) * kW]);
  }

 private:
  std::vector<std::uint16_t> packed_;
};

class Int8Linear : public QuantLinearBase {
 public:
  Int8Linear(const QuantKernelTable& k, ThreadPool& pool, const std::vector<const TensorRef*>& w,
             const std::vector<const TensorRef*>& b, bool quantizeActivations)
      : QuantLinearBase(k, pool, checkParts(w, b)), a8_(quantizeActivations) {
    kp_ = (in_ + 3) / 4 * 4;
    scale_.assign(static_cast<std::size_t>(panels_) * kW, 0.f);
    colSum_.assign(static_cast<std::size_t>(panels_) * kW, 0);
    packed_.assign(static_cast<std::size_t>(panels_) * (a8_ ? kp_ : in_) * kW, 0);
    forRows(w, [&](const TensorRef& t, int r, int n) {
      const std::int8_t* src = reinterpret_cast<const std::int8_t*>(t.data) + static_cast<std::size_t>(r) * in_;
      t.scale->toFloat(static_cast<std::size_t>(r), 1, &scale_[static_cast<std::size_t>(n)]);
      std::int32_t sum = 0;
      for (int kk = 0; kk < in_; ++kk) {
        const std::int8_t v = src[kk] < -127 ? static_cast<std::int8_t>(-127) : src[kk];
        sum += v;
        if (a8_)
          packed_[((static_cast<std::size_t>(n / kW) * (kp_ / 4) + kk / 4) * kW + n % kW) * 4 + kk % 4] = v;
        else
          packed_[(static_cast<std::size_t>(n / kW) * in_ + kk) * kW + n % kW] = v;
      }
      colSum_[static_cast<std::size_t>(n)] = sum;
    });
  }
  const char* precision() const override { return a8_ ? "int8-w8a8" : "int8-w8a16"; }

  void forward(const float* x, int ldx, int M, float* y, int ldy) const override {
    if (M <= 0) return;
    if (!a8_) {
      forPanels([&](int p0, int p1) {
        kernels_.gemmQ8(x, ldx, M, in_, packed_.data(), scale_.data(), bias(), y, ldy, out_, p0, p1);
      });
      return;
    }
    std::vector<std::int8_t> xq(static_cast<std::size_t>(M) * kp_);
    std::vector<float> xs(static_cast<std::size_t>(M));
    quantizeActivations(x, ldx, M, in_, kp_, xq.data(), xs.data());
    forPanels([&](int p0, int p1) {
      kernels_.gemmQ8A8(xq.data(), xs.data(), M, kp_, packed_.data(), colSum_.data(), scale_.data(), bias(), y, ldy,
                        out_, p0, p1);
    });
  }

  void weightRow(int n, float* outRow) const override {
    if (n < 0 || n >= out_) throw std::runtime_error("weight row out of range");
    const float s = scale_[static_cast<std::size_t>(n)];
    for (int k = 0; k < in_; ++k) {
      const std::int8_t v = a8_ ? packed_[((static_cast<std::size_t>(n / kW) * (kp_ / 4) + k / 4) * kW + n % kW) * 4 + k % 4]
                                : packed_[(static_cast<std::size_t>(n / kW) * in_ + k) * kW + n % kW];
      outRow[k] = static_cast<float>(v) * s;
    }
  }

 private:
  bool a8_;
  int kp_ = 0;
  std::vector<std::int8_t> packed_;
  std::vector<float> scale_;
  std::vector<std::int32_t> colSum_;
};

class Int4Linear : public QuantLinearBase {
 public:
  Int4Linear(const QuantKernelTable& k, ThreadPool& pool, const std::vector<const TensorRef*>& w,
             const std::vector<const TensorRef*>& b)
      : QuantLinearBase(k, pool, checkParts(w, b)), a8_(w[0]->dtype == DType::Q4A8) {
    g_ = w[0]->groupSize;
    if (a8_ && g_ % 8 != 0) throw std::runtime_error(w[0]->describe() + ": W4A8 needs a group size that is a multiple of 8");
    groups_ = (in_ + g_ - 1) / g_;
    k2_ = (in_ + 1) / 2;
    kp8_ = (in_ + 7) / 8 * 8;
    if (a8_) {
      packed_.assign(static_cast<std::size_t>(panels_) * (kp8_ / 2) * kW, 0);
      zerosI_.assign(static_cast<std::size_t>(panels_) * groups_ * kW, 0);
    } else {
      packed_.assign(static_cast<std::size_t>(panels_) * k2_ * kW, 0);
      zeros_.assign(static_cast<std::size_t>(panels_) * groups_ * kW, 0.f);
    }
    scales_.assign(static_cast<std::size_t>(panels_) * groups_ * kW, 0.f);
    std::vector<float> s(static_cast<std::size_t>(groups_)), z(static_cast<std::size_t>(groups_));
    forRows(w, [&](const TensorRef& t, int r, int n) {
      const std::uint8_t* src = t.data + static_cast<std::size_t>(r) * k2_;
      const std::size_t p = static_cast<std::size_t>(n / kW);
      const int j = n % kW;
      if (a8_) {
        auto code = [&](int kk) -> std::uint8_t { return kk >= in_ ? 0 : (kk % 2 ? src[kk / 2] >> 4 : src[kk / 2] & 15); };
        for (int k8 = 0; k8 < kp8_ / 8; ++k8)
          for (int tt = 0; tt < 4; ++tt)
            packed_[((p * (kp8_ / 8) + k8) * kW + j) * 4 + tt] =
                static_cast<std::uint8_t>(code(8 * k8 + tt) | code(8 * k8 + 4 + tt) << 4);
      } else {
        for (int kk = 0; kk < k2_; ++kk) packed_[(p * k2_ + kk) * kW + j] = src[kk];
      }
      t.scale->toFloat(static_cast<std::size_t>(r) * groups_, static_cast<std::size_t>(groups_), s.data());
      t.zero->toFloat(static_cast<std::size_t>(r) * groups_, static_cast<std::size_t>(groups_), z.data());
      for (int g = 0; g < groups_; ++g) {
        if (z[static_cast<std::size_t>(g)] > 15.f) throw std::runtime_error(t.zero->describe() + ": zero point above 15");
        scales_[(p * groups_ + g) * kW + j] = s[static_cast<std::size_t>(g)];
        if (a8_)
          zerosI_[(p * groups_ + g) * kW + j] = static_cast<std::int32_t>(z[static_cast<std::size_t>(g)]);
        else
          zeros_[(p * groups_ + g) * kW + j] = z[static_cast<std::size_t>(g)];
      }
    });
  }
  const char* precision() const override { return a8_ ? "int4-a8" : "int4"; }

  void forward(const float* x, int ldx, int M, float* y, int ldy) const override {
    if (M <= 0) return;
    if (a8_) {
      std::vector<std::int8_t> xq(static_cast<std::size_t>(M) * kp8_);
      std::vector<float> xs(static_cast<std::size_t>(M));
      quantizeActivations(x, ldx, M, in_, kp8_, xq.data(), xs.data());
      std::vector<std::int32_t> gsum(static_cast<std::size_t>(M) * groups_);
      for (int m = 0; m < M; ++m) {
        const std::int8_t* r = xq.data() + static_cast<std::size_t>(m) * kp8_;
        for (int g = 0; g < groups_; ++g) {
          std::int32_t sum = 0;
          const int e = std::min(in_, (g + 1) * g_);
          for (int k = g * g_; k < e; ++k) sum += r[k];
          gsum[static_cast<std::size_t>(m) * groups_ + g] = sum;
        }
      }
      forPanels([&](int p0, int p1) {
        kernels_.gemmQ4A8(xq.data(), xs.data(), gsum.data(), M, kp8_, g_, groups_, packed_.data(), scales_.data(),
                          zerosI_.data(), bias(), y, ldy, out_, p0, p1);
      });
      return;
    }
    std::vector<float> gsum(static_cast<std::size_t>(M) * groups_);
    for (int m = 0; m < M; ++m) {
      const float* r = x + static_cast<std::size_t>(m) * ldx;
      for (int g = 0; g < groups_; ++g) {
        float s = 0.f;
        for (int k = g * g_; k < std::min(in_, (g + 1) * g_); ++k) s += r[k];
        gsum[static_cast<std::size_t>(m) * groups_ + g] = s;
      }
    }
    forPanels([&](int p0, int p1) {
      kernels_.gemmQ4(x, ldx, M, in_, g_, groups_, packed_.data(), scales_.data(), zeros_.data(), gsum.data(), bias(), y,
                      ldy, out_, p0, p1);
    });
  }

  void weightRow(int n, float* outRow) const override {
    if (n < 0 || n >= out_) throw std::runtime_error("weight row out of range");
    const std::size_t p = static_cast<std::size_t>(n / kW);
    const int j = n % kW;
    for (int k = 0; k < in_; ++k) {
      int q;
      if (a8_) {
        const int k8 = k / 8, r8 = k % 8;
        const std::uint8_t byte = packed_[((p * (kp8_ / 8) + k8) * kW + j) * 4 + r8 % 4];
        q = r8 < 4 ? byte & 15 : byte >> 4;
      } else {
        const std::uint8_t byte = packed_[(p * k2_ + k / 2) * kW + j];
        q = k % 2 ? byte >> 4 : byte & 15;
      }
      const std::size_t gi = (p * groups_ + k / g_) * kW + j;
      const float z = a8_ ? static_cast<float>(zerosI_[gi]) : zeros_[gi];
      outRow[k] = (static_cast<float>(q) - z) * scales_[gi];
    }
  }

 private:
  bool a8_;
  int g_ = 128, groups_ = 1, k2_ = 0, kp8_ = 0;
  std::vector<std::uint8_t> packed_;
  std::vector<float> scales_, zeros_;
  std::vector<std::int32_t> zerosI_;
};

}  // namespace

bool isQuantizedLinearDType(DType t) {
  return t == DType::F16H || t == DType::Q8 || t == DType::Q8A8 || t == DType::Q4 || t == DType::Q4A8;
}

std::unique_ptr<Linear> createQuantizedLinear(const QuantKernelTable& kernels, ThreadPool& pool,
                                              const std::vector<const TensorRef*>& w,
                                              const std::vector<const TensorRef*>& b) {
  if (w.empty()) throw std::runtime_error("Linear without weights");
  switch (w[0]->dtype) {
    case DType::F16H: return std::make_unique<Half16Linear>(kernels, pool, w, b);
    case DType::Q8: return std::make_unique<Int8Linear>(kernels, pool, w, b, false);
    case DType::Q8A8: return std::make_unique<Int8Linear>(kernels, pool, w, b, true);
    case DType::Q4:
    case DType::Q4A8: return std::make_unique<Int4Linear>(kernels, pool, w, b);
    default: throw std::runtime_error(w[0]->describe() + ": not a quantized dtype");
  }
}

}  // namespace glossa
