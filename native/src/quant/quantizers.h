// Weight quantizers used by the calibration pipeline (and their dequantized views for error searches).
#pragma once
#include <cstdint>
#include <vector>

namespace glossa {

// Per-row symmetric int8: scale[r] = max|W[r]| / 127 (1 when the row is zero), q in [-127, 127].
void quantizeInt8Rows(const float* w, int rows, int cols, std::int8_t* q, float* scale);
void dequantizeInt8Rows(const std::int8_t* q, const float* scale, int rows, int cols, float* out);

// Per-token symmetric int8 fake quantization of activations (what W8A8 does at run time).
void fakeQuantizeActivationRow(const float* x, int n, float* out);

// Asymmetric 4-bit with zero point, groups of groupSize along the row (the last group may be short).
// clip (optional, rows x groups): the group's values are clamped to [-clip, clip] before min/max.
// Scales are rounded to F16 (as stored in engine files). q: rows x ceil(cols/2) bytes, low nibble first.
struct Int4Rows {
  int rows = 0, cols = 0, groupSize = 0, groups = 0;
  std::vector<std::uint8_t> packed;
  std::vector<std::uint16_t> scaleF16;  // rows x groups
  std::vector<std::uint8_t> zero;       // rows x groups
};
Int4Rows quantizeInt4Rows(const float* w, int rows, int cols, int groupSize, const float* clip = nullptr);
void dequantizeInt4Rows(const Int4Rows& q, float* out);
// Quantize-dequantize one group of n values (clip <= 0: none).
void fakeQuantizeInt4Group(const float* w, int n, float clip, float* out);

}  // namespace glossa
