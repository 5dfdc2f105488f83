#include "quant/quantizers.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "quant/quant_kernels.h"

namespace glossa {

void quantizeInt8Rows(const float* w, int rows, int cols, std::int8_t* q, float* scale) {
  for (int r = 0; r < rows; ++r) {
    const float* row = w + static_cast<std::size_t>(r) * cols;
    float amax = 0.f;
    for (int k = 0; k < cols; ++k) amax = std::max(amax, std::fabs(row[k]));
    const float s = amax > 0.f ? amax / 127.f : 1.f;
    scale[r] = s;
    for (int k = 0; k < cols; ++k) {
      const float v = std::nearbyint(row[k] / s);
      q[static_cast<std::size_t>(r) * cols + k] = static_cast<std::int8_t>(std::max(-127.f, std::min(127.f, v)));
    }
  }
}

void dequantizeInt8Rows(const std::int8_t* q, const float* scale, int rows, int cols, float* out) {
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < cols; ++k)
      out[static_cast<std::size_t>(r) * cols + k] = static_cast<float>(q[static_cast<std::size_t>(r) * cols + k]) * scale[r];
}

void fakeQuantizeActivationRow(const float* x, int n, float* out) {
  float amax = 0.f;
  for (int k = 0; k < n; ++k) amax = std::max(amax, std::fabs(x[k]));
  const float s = amax > 0.f ? amax / 127.f : 1.f;
  const float inv = 1.f / s;
  for (int k = 0; k < n; ++k) {
    const float v = std::nearbyint(x[k] * inv);
    out[k] = std::max(-127.f, std::min(127.f, v)) * s;
  }
}

namespace {

struct GroupParams {
  float scale;
  int zero;
  std::uint16_t scaleBits;
};

GroupParams int4Params(const float* w, int n, float clip) {
  float mx = -INFINITY, mn = INFINITY;
  for (int i = 0; i < n; ++i) {
    float v = w[i];
    if (clip > 0.f) v = std::max(-clip, std::min(clip, v));
    mx = std::max(mx, v);
    mn = std::min(mn, v);
  }
  // The grid always contains 0 (so the zero point lies in [0, 15] and same-sign groups keep their range).
  mx = std::max(mx, 0.f);
  mn = std::min(mn, 0.f);
  float s = (mx - mn) / 15.f;
  if (!(s >= 1e-5f)) s = 1e-5f;
  const std::uint16_t bits = floatToHalfValue(s);
  s = halfToFloat(bits);
  const int z = static_cast<int>(std::max(0.f, std::min(15.f, std::nearbyint(-mn / s))));
  return {s, z, bits};
}

inline int int4Code(float v, float clip, const GroupParams& p) {
  if (clip > 0.f) v = std::max(-clip, std::min(clip, v));
  return static_cast<int>(std::max(0.f, std::min(15.f, std::nearbyint(v / p.scale) + static_cast<float>(p.zero))));
}

}  // namespace

void fakeQuantizeInt4Group(const float* w, int n, float clip, float* out) {
  const GroupParams p = int4Params(w, n, clip);
  for (int i = 0; i < n; ++i) out[i] = static_cast<float>(int4Code(w[i], clip, p) - p.zero) * p.scale;
}

Int4Rows quantizeInt4Rows(const float* w, int rows, int cols, int groupSize, const float* clip) {
  if (rows <= 0 || cols <= 0 || groupSize <= 0 || groupSize % 2 != 0)
    throw std::invalid_argument("quantizeInt4Rows: rows, cols must be positive and groupSize a positive even number");
  Int4Rows q;
  q.rows = rows;
  q.cols = cols;
  q.groupSize = groupSize;
  q.groups = (cols + groupSize - 1) / groupSize;
  const int bytesPerRow = (cols + 1) / 2;
  q.packed.assign(static_cast<std::size_t>(rows) * bytesPerRow, 0);
  q.scaleF16.assign(static_cast<std::size_t>(rows) * q.groups, 0);
  q.zero.assign(static_cast<std::size_t>(rows) * q.groups, 0);
  for (int r = 0; r < rows; ++r) {
    const float* row = w + static_cast<std::size_t>(r) * cols;
    std::uint8_t* dst = q.packed.data() + static_cast<std::size_t>(r) * bytesPerRow;
    for (int g = 0; g < q.groups; ++g) {
      const int kb = g * groupSize, ke = std::min(cols, kb + groupSize);
      const float c = clip ? clip[static_cast<std::size_t>(r) * q.groups + g] : 0.f;
      const GroupParams p = int4Params(row + kb, ke - kb, c);
      q.scaleF16[static_cast<std::size_t>(r) * q.groups + g] = p.scaleBits;
      q.zero[static_cast<std::size_t>(r) * q.groups + g] = static_cast<std::uint8_t>(p.zero);
      for (int k = kb; k < ke; ++k) {
        const int code = int4Code(row[k], c, p);
        dst[k / 2] = static_cast<std::uint8_t>(dst[k / 2] | (k % 2 ? code << 4 : code));
      }
    }
  }
  return q;
}

void dequantizeInt4Rows(const Int4Rows& q, float* out) {
  const int bytesPerRow = (q.cols + 1) / 2;
  for (int r = 0; r < q.rows; ++r)
    for (int k = 0; k < q.cols; ++k) {
      const std::uint8_t b = q.packed[static_cast<std::size_t>(r) * bytesPerRow + k / 2];
      const int code = k % 2 ? b >> 4 : b & 15;
      const std::size_t gi = static_cast<std::size_t>(r) * q.groups + k / q.groupSize;
      out[static_cast<std::size_t>(r) * q.cols + k] =
          static_cast<float>(code - q.zero[gi]) * halfToFloat(q.scaleF16[gi]);
    }
}

}  // namespace glossa
