#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GLOSSA_CPU_RELAX() _mm_pause()
#else
#define GLOSSA_CPU_RELAX() ((void)0)
#endif

namespace glossa {
namespace {

int spinFromEnv() {
  const char* v = std::getenv("GLOSSA_POOL_SPIN_US");
  if (v == nullptr || *v == '\0') return ThreadPool::kDefaultSpinMicros;
  const int us = std::atoi(v);
  return us < 0 ? 0 : us;
}

// Waits for done() for up to spinMicros without sleeping; returns done(). The first few microseconds are a pure
// spin; after that every round yields the core (sched_yield), so that when the machine has more runnable threads
// than cores (several engines or processes) the thread being waited for gets to run: a pure spin there made two
// 2-thread processes on 2 cores 2-4x slower than sleeping at once.
template <typename Done>
bool spinUntil(int spinMicros, Done done) {
  if (done()) return true;
  if (spinMicros <= 0) return false;
  const auto start = std::chrono::steady_clock::now();
  const auto pureUntil = start + std::chrono::microseconds(std::min(spinMicros, 5));
  const auto deadline = start + std::chrono::microseconds(spinMicros);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      GLOSSA_CPU_RELAX();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return done();
    if (now >= pureUntil) std::this_thread::yield();
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads, int spinMicros) : spinMicros_(spinMicros < 0 ? spinFromEnv() : spinMicros) {
  const int n = std::max(1, threads);
  for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::workerLoop(int index) {
  std::size_t seen = 0;
  for (;;) {
    const auto ready = [&] { return stopping_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; };
    if (!spinUntil(spinMicros_, ready)) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, ready);
    }
    if (stopping_.load(std::memory_order_acquire)) return;
    // generation_ was stored (release) after task_ and ranges_ were written: they are visible here.
    seen = generation_.load(std::memory_order_acquire);
    const std::pair<std::size_t, std::size_t> range = ranges_[static_cast<std::size_t>(index)];
    const std::function<void(std::size_t, std::size_t)>* task = task_;
    if (range.first < range.second) {
      try {
        (*task)(range.first, range.second);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    if (pendingWorkers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // a caller that stopped spinning waits under the mutex
      done_.notify_one();
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
    pendingWorkers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  std::exception_ptr callerError;
  try {
    fn(ranges_[0].first, ranges_[0].second);
  } catch (...) {
    callerError = std::current_exception();
  }
  const auto finished = [&] { return pendingWorkers_.load(std::memory_order_acquire) == 0; };
  std::exception_ptr workerError;
  spinUntil(spinMicros_, finished);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, finished);
    task_ = nullptr;
    workerError = error_;
    error_ = nullptr;
  }
  if (callerError) std::rethrow_exception(callerError);
  if (workerError) std::rethrow_exception(workerError);
}

}  // namespace glossa
