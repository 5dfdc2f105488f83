// A fixed-size thread pool owned by one engine (no global state).
// parallelFor splits [0, n) into contiguous chunks, one per thread; the caller runs chunk 0.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace glossa {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) on disjoint contiguous ranges covering [0, n); blocks until all are done.
  // Work is split so that each range has at least minChunk items (fewer threads for small n).
  void parallelFor(std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn,
                   std::size_t minChunk = 1);

 private:
  void workerLoop(int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(std::size_t, std::size_t)>* task_ = nullptr;
  std::vector<std::pair<std::size_t, std::size_t>> ranges_;
  std::size_t generation_ = 0;
  int pendingWorkers_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

}  // namespace glossa
