#include "kvcache/block_pool.h"

#include <stdexcept>

namespace glossa {

BlockPool::BlockPool(Backend& backend, int numBlocks, int blockSize, int layers, int d) : backend_(backend) {
  if (numBlocks <= 0 || blockSize <= 0) throw std::runtime_error("KV pool needs at least one block of one slot");
  layout_.blockSize = blockSize;
  layout_.layers = layers;
  layout_.d = d;
  layout_.elementBytes = backend.kvElementBytes();
  // One spare block past the last id: padded rows of recorded decode passes write there; never handed out.
  const std::size_t floatsPerBlock = (layout_.blockBytes() + sizeof(float) - 1) / sizeof(float);
  storage_ = backend.allocate(floatsPerBlock * (static_cast<std::size_t>(numBlocks) + 1));
  layout_.base = storage_->data();
  refcounts_.assign(static_cast<std::size_t>(numBlocks), 0);
  free_.reserve(static_cast<std::size_t>(numBlocks));
  for (int b = numBlocks - 1; b >= 0; --b) free_.push_back(b);
}

void BlockPool::checkBlock(int block) const {
  if (block < 0 || block >= totalBlocks()) throw std::runtime_error("KV block id out of range");
}

int BlockPool::allocate() {
  if (free_.empty()) return -1;
  const int b = free_.back();
  free_.pop_back();
  refcounts_[static_cast<std::size_t>(b)] = 1;
  return b;
}

void BlockPool::retain(int block) {
  checkBlock(block);
  if (refcounts_[static_cast<std::size_t>(block)] <= 0) throw std::runtime_error("retain of a free KV block");
  ++refcounts_[static_cast<std::size_t>(block)];
}

void BlockPool::release(int block) {
  checkBlock(block);
  int& rc = refcounts_[static_cast<std::size_t>(block)];
  if (rc <= 0) throw std::runtime_error("release of a free KV block");
  if (--rc == 0) free_.push_back(block);
}

int BlockPool::refcount(int block) const {
  checkBlock(block);
  return refcounts_[static_cast<std::size_t>(block)];
}

void BlockPool::copyBlock(int src, int dst) {
  checkBlock(src);
  checkBlock(dst);
  backend_.copyKvBlock(layout_, src, dst);
}

void BlockPool::checkFreeList(std::vector<std::string>& errors) const {
  std::vector<int> seen(refcounts_.size(), 0);
  for (int b : free_) {
    if (b < 0 || b >= totalBlocks()) {
      errors.push_back("free list holds invalid block " + std::to_string(b));
      continue;
    }
    if (seen[static_cast<std::size_t>(b)]++) errors.push_back("block " + std::to_string(b) + " is twice in the free list");
    if (refcounts_[static_cast<std::size_t>(b)] != 0)
      errors.push_back("block " + std::to_string(b) + " is free but has refcount " +
                       std::to_string(refcounts_[static_cast<std::size_t>(b)]));
  }
  for (std::size_t b = 0; b < refcounts_.size(); ++b)
    if (refcounts_[b] == 0 && !seen[b]) errors.push_back("block " + std::to_string(b) + " is lost (refcount 0, not free)");
}

void BlockTable::forkFrom(BlockPool& pool, const BlockTable& other) {
  releaseAll(pool);
  blocks_ = other.blocks_;
  for (int b : blocks_) pool.retain(b);
}

int BlockTable::blocksNeeded(const BlockPool& pool, int from, int to, int sharedBelow) const {
  if (to <= from) return 0;
  const int bs = pool.blockSize();
  int need = 0;
  for (int idx = from / bs; idx <= (to - 1) / bs; ++idx) {
    if (idx >= size()) ++need;
    else if (idx * bs >= sharedBelow && pool.refcount(blocks_[static_cast<std::size_t>(idx)]) > 1) ++need;
  }
  return need;
}

void BlockTable::shareFirst(BlockPool& pool, const BlockTable& other, int blocks) {
  releaseAll(pool);
  if (blocks > other.size()) throw std::runtime_error("sharing more blocks than the table holds");
  blocks_.assign(other.blocks_.begin(), other.blocks_.begin() + blocks);
  for (int b : blocks_) pool.retain(b);
}

bool BlockTable::prepareWrite(BlockPool& pool, int from, int to, int sharedBelow) {
  if (to <= from) return true;
  const int bs = pool.blockSize();
  for (int idx = from / bs; idx <= (to - 1) / bs; ++idx) {
    if (idx > size()) throw std::runtime_error("block table has a hole");
    if (idx == size()) {
      const int b = pool.allocate();
      if (b < 0) return false;
      blocks_.push_back(b);
    } else {
      const int old = blocks_[static_cast<std::size_t>(idx)];
      if (idx * bs >= sharedBelow && pool.refcount(old) > 1) {  // copy-on-write
        const int b = pool.allocate();
        if (b < 0) return false;
        pool.copyBlock(old, b);
        pool.release(old);
        blocks_[static_cast<std::size_t>(idx)] = b;
      }
    }
  }
  return true;
}

void BlockTable::releaseAll(BlockPool& pool) {
  for (int b : blocks_) pool.release(b);
  blocks_.clear();
}

}  // namespace glossa
