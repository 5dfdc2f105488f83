#include "core/thread_pool.h"

#include <algorithm>

namespace glossa {

ThreadPool::ThreadPool(int threads) {
  const int n = std::max(1, threads);
  for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::workerLoop(int index) {
  std::size_t seen = 0;
  for (;;) {
    std::pair<std::size_t, std::size_t> range;
    const std::function<void(std::size_t, std::size_t)>* task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      range = ranges_[static_cast<std::size_t>(index)];
      task = task_;
    }
    if (range.first < range.second) {
      try {
        (*task)(range.first, range.second);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pendingWorkers_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::parallelFor(std::size_t n, const std::function<void(std::size_t, std::size_t)>& fn,
                             std::size_t minChunk) {
  if (n == 0) return;
  const std::size_t chunk = std::max<std::size_t>(1, minChunk);
  const std::size_t maxParts = std::max<std::size_t>(1, n / chunk);
  const std::size_t parts = std::min<std::size_t>(static_cast<std::size_t>(size()), maxParts);
  if (parts <= 1 || workers_.empty()) {
    fn(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ranges_.assign(static_cast<std::size_t>(size()), {0, 0});
    for (std::size_t p = 0; p < parts; ++p) ranges_[p] = {n * p / parts, n * (p + 1) / parts};
    task_ = &fn;
    error_ = nullptr;
    pendingWorkers_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  wake_.notify_all();
  std::exception_ptr callerError;
  try {
    fn(ranges_[0].first, ranges_[0].second);
  } catch (...) {
    callerError = std::current_exception();
  }
  std::exception_ptr workerError;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pendingWorkers_ == 0; });
    task_ = nullptr;
    workerError = error_;
    error_ = nullptr;
  }
  if (callerError) std::rethrow_exception(callerError);
  if (workerError) std::rethrow_exception(workerError);
}

}  // namespace glossa
