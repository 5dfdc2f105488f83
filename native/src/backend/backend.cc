#include "backend/backend.h"

#include <stdexcept>

namespace glossa {

void Backend::copyKvBlock(const PagedKvLayout& kv, int src, int dst) {
  const std::size_t floats = kv.blockBytes() / sizeof(float);
  copy(kv.base + static_cast<std::size_t>(src) * floats, kv.base + static_cast<std::size_t>(dst) * floats, floats);
}

void Backend::addRowVector(float* x, int rows, std::size_t n, const float* v) {
  for (int r = 0; r < rows; ++r) addInPlace(x + static_cast<std::size_t>(r) * n, v, n);
}

void Backend::linearAdd(const Linear& l, const float* x, int ldx, int M, float* h, float* tmp) {
  const int n = l.outFeatures();
  l.forward(x, ldx, M, tmp, n);
  addInPlace(h, tmp, static_cast<std::size_t>(M) * n);
}

void Backend::storeKvAndAttend(const PagedKvLayout& kv, int layer, const float* qkv, int ld, int M,
                               const int* slotBlock, const int* slotIndex, const PagedRows& rows, int heads,
                               float scale, float* out) {
  const int d = kv.d;
  storeKv(kv, layer, qkv + d, qkv + 2 * d, ld, M, slotBlock, slotIndex);
  pagedAttention(kv, layer, qkv, ld, M, rows, heads, scale, out);
}

void Backend::linearActivate(const Linear& l, Activation a, const float* x, int ldx, int M, float* y) {
  const int n = l.outFeatures();
  l.forward(x, ldx, M, y, n);
  activate(a, y, static_cast<std::size_t>(M) * n);
}

void Backend::downloadRows(const float* src, std::size_t rows, std::size_t cols, std::size_t ld, float* hostDst) {
  if (ld == cols) return download(src, rows * cols, hostDst);
  for (std::size_t r = 0; r < rows; ++r) download(src + r * ld, cols, hostDst + r * cols);
}

RowSearchResults Backend::enqueueRowSearch(const float*, int, int, int, int, const int*, int) {
  throw std::logic_error(name() + " backend has no device search");
}

}  // namespace glossa
