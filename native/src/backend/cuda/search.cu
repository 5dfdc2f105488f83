// Device side of the search: per-row statistics of the raw logits (max, sum exp(x - max)), the k best raw values
// with their token ids (ties: lower id first), and the raw values of the tokens the logits processors change.
// The host (EngineCore + decode/search.cc) turns these into exactly the candidates HF's search would pick, so only
// a few numbers per row cross PCIe instead of the whole vocabulary.
// Two passes: groups of chunks of a row in parallel (grid = groups x rows), then one block per row merges them.
#include <algorithm>
#include <climits>

#include "backend/cuda/kernels.cuh"

namespace glossa {
namespace cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kMaxChunks = 128;

__device__ __forceinline__ bool better(float v1, int t1, float v2, int t2) {
  return v1 > v2 || (v1 == v2 && t1 < t2);
}

// Combines (max, sum exp(x - max)) pairs.
__device__ __forceinline__ void combine(float& m, float& s, float m2, float s2) {
  if (m2 == -INFINITY) return;
  if (m == -INFINITY) {
    m = m2;
    s = s2;
    return;
  }
  if (m2 > m) {
    s = s * expf(m - m2) + s2;
    m = m2;
  } else {
    s += s2 * expf(m2 - m);
  }
}

// The best K entries over `lists` sorted lists of K entries each (list t read by thread t); block of kThreads.
template <int K>
__device__ void mergeLists(const float* lv, const int* lt, int lists, float* ov, int* ot) {
  __shared__ float wv[kThreads / 32];
  __shared__ int wt[kThreads / 32], ww[kThreads / 32];
  __shared__ int winner;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  int pos = 0;
  for (int r = 0; r < K; ++r) {
    float v = -INFINITY;
    int tok = INT_MAX, who = tid;
    if (tid < lists && pos < K) {
      const int t = lt[tid * K + pos];
      if (t >= 0) {
        v = lv[tid * K + pos];
        tok = t;
      }
    }
    for (int o = 16; o > 0; o >>= 1) {
      const float v2 = __shfl_xor_sync(0xffffffffu, v, o);
      const int t2 = __shfl_xor_sync(0xffffffffu, tok, o);
      const int w2 = __shfl_xor_sync(0xffffffffu, who, o);
      if (better(v2, t2, v, tok) || (v2 == v && t2 == tok && w2 < who)) {
        v = v2;
        tok = t2;
        who = w2;
      }
    }
    if (lane == 0) {
      wv[warp] = v;
      wt[warp] = tok;
      ww[warp] = who;
    }
    __syncthreads();
    if (tid == 0) {
      float bv = wv[0];
      int bt = wt[0], bw = ww[0];
      for (int w = 1; w < kThreads / 32; ++w)
        if (better(wv[w], wt[w], bv, bt)) {
          bv = wv[w];
          bt = wt[w];
          bw = ww[w];
        }
      const bool empty = bt == INT_MAX;
      ov[r] = empty ? -INFINITY : bv;
      ot[r] = empty ? -1 : bt;
      winner = empty ? -1 : bw;
    }
    __syncthreads();
    if (tid == winner) ++pos;
  }
}

// One block reads `group` consecutive chunks of a row. Each chunk's statistics are reduced and written as soon as
// the chunk is done (thread t reads the same elements of a chunk, and the block combines them in the same order,
// whatever the group size), so they do not depend on how chunks are grouped; the k best entries are kept per thread
// across the group and merged once per block. The top k of a row under (value desc, id asc) is the same however the
// row is split, so the final results do not depend on the grouping either (which follows the number of rows).
template <int K>
__global__ void partialKernel(const float* __restrict__ logits, int vocab, int ld, int chunk, int chunks, int group,
                              float* __restrict__ stats, float* __restrict__ lists) {
  __shared__ float sv[kThreads * K];
  __shared__ int stok[kThreads * K];
  __shared__ float sm[kThreads / 32], ss[kThreads / 32];
  const int row = blockIdx.y, tid = threadIdx.x;
  const int groups = (chunks + group - 1) / group;
  const float* x = logits + static_cast<size_t>(row) * ld;
  float tv[K];
  int tt[K];
#pragma unroll
  for (int j = 0; j < K; ++j) {
    tv[j] = -INFINITY;
    tt[j] = INT_MAX;
  }
  float m, s;
  auto take = [&](float v, int i) {
    if (v == -INFINITY || v != v) return;
    if (v > m) {
      s = (m == -INFINITY ? 0.f : s * expf(m - v)) + 1.f;
      m = v;
    } else {
      s += expf(v - m);
    }
    if (v > tv[K - 1]) {
      float cv = v;
      int ct = i;
#pragma unroll
      for (int j = 0; j < K; ++j)
        if (better(cv, ct, tv[j], tt[j])) {
          const float xv = tv[j];
          const int xt = tt[j];
          tv[j] = cv;
          tt[j] = ct;
          cv = xv;
          ct = xt;
        }
    }
  };
  const int cEnd = min(chunks, (blockIdx.x + 1) * group);
  for (int c = blockIdx.x * group; c < cEnd; ++c) {
    const int begin = c * chunk, end = min(vocab, begin + chunk);
    m = -INFINITY;
    s = 0.f;
    if ((reinterpret_cast<uintptr_t>(x + begin) & 15) == 0) {
      // 16-byte loads, two in flight per thread: memory-level parallelism for a loop whose body depends on (m, s).
      int i = begin + 4 * tid;
      for (; i + 4 * kThreads + 3 < end; i += 8 * kThreads) {
        const float4 a = *reinterpret_cast<const float4*>(x + i);
        const float4 b = *reinterpret_cast<const float4*>(x + i + 4 * kThreads);
        take(a.x, i), take(a.y, i + 1), take(a.z, i + 2), take(a.w, i + 3);
        const int ib = i + 4 * kThreads;
        take(b.x, ib), take(b.y, ib + 1), take(b.z, ib + 2), take(b.w, ib + 3);
      }
      for (; i < end; i += 4 * kThreads)
        for (int j = 0; j < 4 && i + j < end; ++j) take(x[i + j], i + j);
    } else {
      for (int i = begin + tid; i < end; i += kThreads) take(x[i], i);
    }
    // The chunk's statistics: a fixed combination order (deterministic).
    for (int o = 16; o > 0; o >>= 1) {
      const float m2 = __shfl_xor_sync(0xffffffffu, m, o);
      const float s2 = __shfl_xor_sync(0xffffffffu, s, o);
      combine(m, s, m2, s2);
    }
    if (tid % 32 == 0) {
      sm[tid / 32] = m;
      ss[tid / 32] = s;
    }
    __syncthreads();
    if (tid == 0) {
      float bm = sm[0], bs = ss[0];
      for (int w = 1; w < kThreads / 32; ++w) combine(bm, bs, sm[w], ss[w]);
      float* st = stats + (static_cast<size_t>(row) * chunks + c) * 2;
      st[0] = bm;
      st[1] = bs;
    }
    __syncthreads();  // sm / ss are reused by the next chunk
  }
#pragma unroll
  for (int j = 0; j < K; ++j) {
    sv[tid * K + j] = tv[j];
    stok[tid * K + j] = tt[j] == INT_MAX ? -1 : tt[j];
  }
  __syncthreads();
  float* out = lists + (static_cast<size_t>(row) * groups + blockIdx.x) * (2 * K);
  mergeLists<K>(sv, stok, kThreads, out, reinterpret_cast<int*>(out + K));
}

template <int K>
__global__ void finalKernel(const float* __restrict__ logits, int rows, int vocab, int ld, int chunks, int groups,
                            const float* __restrict__ stats, const float* __restrict__ lists,
                            const int* __restrict__ specialIds, int cap, float* __restrict__ out) {
  __shared__ float lv[kMaxChunks * K];
  __shared__ int lt[kMaxChunks * K];
  const int row = blockIdx.x, tid = threadIdx.x;
  const float* p = lists + static_cast<size_t>(row) * groups * (2 * K);
  for (int i = tid; i < groups * K; i += kThreads) {
    const int c = i / K, j = i % K;
    lv[i] = p[c * (2 * K) + j];
    lt[i] = reinterpret_cast<const int*>(p + c * (2 * K) + K)[j];
  }
  if (tid == 0) {
    const float* st = stats + static_cast<size_t>(row) * chunks * 2;
    float m = -INFINITY, s = 0.f;
    for (int c = 0; c < chunks; ++c) combine(m, s, st[2 * c], st[2 * c + 1]);
    out[row * 2] = m;
    out[row * 2 + 1] = s;
  }
  __syncthreads();
  float* values = out + static_cast<size_t>(rows) * 2;
  int* tokens = reinterpret_cast<int*>(values + static_cast<size_t>(rows) * K);
  mergeLists<K>(lv, lt, groups, values + static_cast<size_t>(row) * K, tokens + static_cast<size_t>(row) * K);
  if (cap > 0) {
    float* special = reinterpret_cast<float*>(tokens + static_cast<size_t>(rows) * K);
    for (int j = tid; j < cap; j += kThreads) {
      const int id = specialIds[row * cap + j];
      special[row * cap + j] = id >= 0 && id < vocab ? logits[static_cast<size_t>(row) * ld + id] : 0.f;
    }
  }
}

int chunkSize(int vocab) {
  const int perChunk = (vocab + kMaxChunks - 1) / kMaxChunks;
  const int rounded = (perChunk + kThreads - 1) / kThreads * kThreads;
  return rounded < 1024 ? 1024 : rounded;
}

// How the partial pass splits its work: `chunks` chunks per row (a function of the vocabulary only: the statistics'
// combination order), `group` consecutive chunks per block so that a large batch launches about kTargetBlocks
// blocks instead of rows x chunks (each block ends with a k-round merge: at 128 rows of a 250k vocabulary, 15,744
// blocks of 16 elements per thread spent more time merging than reading).
struct Split {
  int chunk, chunks, group, groups;
};
constexpr int kTargetBlocks = 1024;
Split split(int rows, int vocab) {
  Split p;
  p.chunk = chunkSize(vocab);
  p.chunks = (vocab + p.chunk - 1) / p.chunk;
  const long long total = static_cast<long long>(rows) * p.chunks;
  p.group = static_cast<int>(std::min<long long>(p.chunks, std::max<long long>(1, total / kTargetBlocks)));
  p.groups = (p.chunks + p.group - 1) / p.group;
  return p;
}

template <int K>
void run(const float* logits, int rows, int vocab, int ld, const int* specialIds, int cap, float* partial, float* out,
         cudaStream_t st) {
  const Split p = split(rows, vocab);
  // One block row per decoding row: the scheduler's batch (at most a few thousand rows) is far below the limit.
  if (rows > kMaxGridRows) throw std::invalid_argument("device search over " + std::to_string(rows) + " rows (at most 65535)");
  float* stats = partial;
  float* lists = partial + static_cast<size_t>(rows) * p.chunks * 2;
  partialKernel<K><<<dim3(p.groups, rows), kThreads, 0, st>>>(logits, vocab, ld, p.chunk, p.chunks, p.group, stats, lists);
  GLOSSA_CUDA_LAUNCHED();
  finalKernel<K><<<rows, kThreads, 0, st>>>(logits, rows, vocab, ld, p.chunks, p.groups, stats, lists, specialIds, cap, out);
  GLOSSA_CUDA_LAUNCHED();
}

}  // namespace

std::size_t rowSearchPartialFloats(int rows, int vocab, int k) {
  const Split p = split(rows, vocab);
  return static_cast<std::size_t>(rows) * (static_cast<std::size_t>(p.chunks) * 2 + static_cast<std::size_t>(p.groups) * 2 * k);
}

void rowSearch(const float* logits, int rows, int vocab, int ld, int k, const int* specialIds, int cap, float* partial,
               std::size_t partialFloats, float* out, cudaStream_t st) {
  if (rows <= 0) return;
  if (ld < vocab) throw std::logic_error("row search: row stride below the vocabulary size");
  if (partialFloats < rowSearchPartialFloats(rows, vocab, k)) throw std::logic_error("row search: partial buffer too small");
  switch (k) {
    case 1: return run<1>(logits, rows, vocab, ld, specialIds, cap, partial, out, st);
    case 2: return run<2>(logits, rows, vocab, ld, specialIds, cap, partial, out, st);
    case 4: return run<4>(logits, rows, vocab, ld, specialIds, cap, partial, out, st);
    case 8: return run<8>(logits, rows, vocab, ld, specialIds, cap, partial, out, st);
    case 16: return run<16>(logits, rows, vocab, ld, specialIds, cap, partial, out, st);
    case 32: return run<32>(logits, rows, vocab, ld, specialIds, cap, partial, out, st);
    default: throw std::logic_error("row search: k must be a power of two <= 32");
  }
}

}  // namespace cuda
}  // namespace glossa
