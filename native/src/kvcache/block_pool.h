// Paged KV cache: one pool of fixed-size blocks shared by all live sequences (refcounted).
// A block holds K and V of blockSize token slots for every decoder layer (see PagedKvLayout).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace glossa {

class BlockPool {
 public:
  BlockPool(Backend& backend, int numBlocks, int blockSize, int layers, int d);

  int blockSize() const { return layout_.blockSize; }
  int totalBlocks() const { return static_cast<int>(refcounts_.size()); }
  int freeBlocks() const { return static_cast<int>(free_.size()); }
  int usedBlocks() const { return totalBlocks() - freeBlocks(); }
  const PagedKvLayout& layout() const { return layout_; }
  // A block outside the refcounted ones (id totalBlocks()): scratch target of padded rows.
  int spareBlock() const { return totalBlocks(); }

  // A fresh block with refcount 1, or -1 when the pool is exhausted.
  int allocate();
  void retain(int block);
  void release(int block);
  int refcount(int block) const;
  // Copies all slots of src into dst (both must be live).
  void copyBlock(int src, int dst);

  // Consistency of the free list with the refcounts; appends problems to errors.
  void checkFreeList(std::vector<std::string>& errors) const;

 private:
  void checkBlock(int block) const;

  Backend& backend_;
  std::unique_ptr<Buffer> storage_;
  PagedKvLayout layout_;
  std::vector<int> refcounts_;
  std::vector<int> free_;  // stack of free block ids
};

// The self-attention blocks of one decoder sequence (one beam), in position order.
class BlockTable {
 public:
  const std::vector<int>& blocks() const { return blocks_; }
  int size() const { return static_cast<int>(blocks_.size()); }

  // Shares all of other's blocks (copy-on-write fork).
  void forkFrom(BlockPool& pool, const BlockTable& other);
  // Blocks needed (upper bound) to make positions [from, to) writable.
  int blocksNeeded(const BlockPool& pool, int from, int to, int sharedBelow = 0) const;
  // Makes positions [from, to) writable: appends blocks and copies shared blocks that will be written, except
  // blocks below position `sharedBelow`, which this sequence fills for siblings that share them (resume).
  // Returns false (nothing half-done that leaks: acquired blocks stay in the table) when the pool runs out.
  bool prepareWrite(BlockPool& pool, int from, int to, int sharedBelow = 0);
  // Shares the first `blocks` blocks of other (other must hold them).
  void shareFirst(BlockPool& pool, const BlockTable& other, int blocks);
  void releaseAll(BlockPool& pool);

 private:
  std::vector<int> blocks_;
};

// Cross-attention K/V of one request: computed once from the encoder output, shared by all its beams.
struct CrossAttentionCache {
  std::vector<int> blocks;
  int sourceLength = 0;
  void releaseAll(BlockPool& pool) {
    for (int b : blocks) pool.release(b);
    blocks.clear();
  }
};

}  // namespace glossa
