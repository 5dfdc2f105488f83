// A fixed-size thread pool owned by one engine (no global state).
// parallelFor splits [0, n) into contiguous chunks, one per thread; the caller runs chunk 0.
//
// Hand-off: a decode step makes dozens of parallelFor calls a few microseconds to a few hundred apart, and waking a
// sleeping thread through the kernel costs about as much as a small call's work (perf on a 2-core VM, INT8 engine at
// batch 1: a third of the samples in the scheduler's wake-up path). So workers spin on the generation counter for
// spinMicros after their last task before sleeping on the condition variable, and the caller spins for the workers'
// completion the same way; after the first 5 us each round yields the core, so oversubscribed machines (several
// engines or processes) still run the thread being waited for. The split of the work is unchanged (same ranges,
// same bits).
#pragma once
#include <atomic>
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
  // spinMicros < 0: GLOSSA_POOL_SPIN_US or the default (kDefaultSpinMicros); 0 never spins.
  explicit ThreadPool(int threads, int spinMicros = -1);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  static constexpr int kDefaultSpinMicros = 100;

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
  std::atomic<std::size_t> generation_{0};  // written under mutex_ after task_ and ranges_ (release)
  std::atomic<int> pendingWorkers_{0};
  std::atomic<bool> stopping_{false};
  std::exception_ptr error_;  // under mutex_
  int spinMicros_;
};

}  // namespace glossa
