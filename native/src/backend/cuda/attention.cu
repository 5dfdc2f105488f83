// Attention: the encoder's dense self-attention within segments, and paged attention for the decoder's self- and
// cross-attention over the KV pool (the same block tables as the CPU backend). One warp per (query row, head):
// lanes score one key each (scores in shared memory), then each lane accumulates its dimensions over all keys.
#include "backend/cuda/kernels.cuh"

namespace glossa {
namespace cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxDimsPerLane = 4;  // head size <= 128

// Element 0 of (block, layer, kind 0 = K / 1 = V, slot) in the pool; T is KT or const KT.
template <typename T>
__device__ __forceinline__ T* kvAt(T* base, int blockSize, int layers, int d, int block, int layer, int kind, int slot) {
  return base + ((((static_cast<size_t>(block) * layers + layer) * 2 + kind) * blockSize + slot) * static_cast<size_t>(d));
}

template <typename KT>
__global__ void storeKvKernel(KT* base, int blockSize, int layers, int d, int layer, const float* k, const float* v,
                              int ld, int M, const int* slotBlock, const int* slotIndex) {
  for (int m = blockIdx.y; m < M; m += gridDim.y) {
    const int b = slotBlock[m], s = slotIndex[m];
    KT* kd = kvAt(base, blockSize, layers, d, b, layer, 0, s);
    KT* vd = kvAt(base, blockSize, layers, d, b, layer, 1, s);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < d; i += gridDim.x * blockDim.x) {
      kd[i] = fromF<KT>(k[static_cast<size_t>(m) * ld + i]);
      vd[i] = fromF<KT>(v[static_cast<size_t>(m) * ld + i]);
    }
  }
}

// q . k over hd dimensions (q in shared memory); 16-byte loads of k when the layout allows.
template <typename KT>
__device__ __forceinline__ float dotKey(const float* qs, const KT* kp, int hd, bool vec) {
  float dot = 0.f;
  if (vec) {
    for (int i = 0; i < hd; i += 16 / sizeof(KT)) {
      const uint4 raw = *reinterpret_cast<const uint4*>(kp + i);
      if constexpr (sizeof(KT) == 4) {
        const float* f = reinterpret_cast<const float*>(&raw);
        dot += qs[i] * f[0] + qs[i + 1] * f[1] + qs[i + 2] * f[2] + qs[i + 3] * f[3];
      } else {
        const KT* h = reinterpret_cast<const KT*>(&raw);
#pragma unroll
        for (int j = 0; j < 8; ++j) dot += qs[i + j] * toF<KT>(h[j]);
      }
    }
    return dot;
  }
  for (int i = 0; i < hd; ++i) dot += qs[i] * toF<KT>(kp[i]);
  return dot;
}


// One warp's head output where lane owns dimensions lane + 32 t: out[base + i] = acc * inv (and its 16-bit copy).
__device__ __forceinline__ void storeHeadLanes(const float (&acc)[kMaxDimsPerLane], float inv, int lane, int hd, size_t base,
                                               float* out, HalfOut oh) {
#pragma unroll
  for (int t = 0; t < kMaxDimsPerLane; ++t) {
    const int i = lane + 32 * t;
    if (i < hd) {
      out[base + i] = acc[t] * inv;
      storeHalf(oh, base + i, acc[t] * inv);
    }
  }
}

// Softmax over scores[0, n) of one warp in place (unnormalised exps); returns 1 / sum.
__device__ __forceinline__ float warpSoftmax(float* scores, int n, float mx, int lane) {
  mx = warpMax(mx);
  float sum = 0.f;
  for (int j = lane; j < n; j += 32) {
    const float e = __expf(scores[j] - mx);
    scores[j] = e;
    sum += e;
  }
  sum = warpSum(sum);
  __syncwarp();
  return 1.f / sum;
}

// The new K and V rows a decode step's self-attention stores before attending (k == nullptr: nothing to store).
struct NewKv {
  const float* k = nullptr;
  const float* v = nullptr;
  int ld = 0;
  const int* slotBlock = nullptr;
  const int* slotIndex = nullptr;
};

// Shared memory of one warp: scores[maxKeys], q[128], block ids[blocks].
__host__ __device__ constexpr int warpSmemFloats(int maxKeys, int blocks) { return maxKeys + 128 + blocks; }

// HD: the head size when it is known at compile time (all of a 16-byte key's loads then go out together), else 0.
// The KV pool is read with plain (coherent) loads: with `fresh` set, this warp first writes its row's new key and
// value for head h, and reads them back after __syncwarp like every other key.
template <typename KT, int HD>
__global__ void pagedAttentionKernel(KT* base, int blockSize, int layers, int d, int layer, const float* __restrict__ q,
                                     int ldq, int M, PagedRows rows, int heads, float scale, int maxKeys, int maxBlocks,
                                     float* __restrict__ out, HalfOut oh, NewKv fresh) {
  extern __shared__ float sm[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int item = blockIdx.x * kWarps + warp;
  if (item >= M * heads) return;
  const int m = item / heads, h = item % heads, hd = HD > 0 ? HD : d / heads;
  float* scores = sm + warp * warpSmemFloats(maxKeys, maxBlocks);
  float* qs = scores + maxKeys;
  int* bids = reinterpret_cast<int*>(qs + 128);
  const int* blocks = rows.tables + static_cast<size_t>(rows.rowSeq[m]) * rows.stride;
  const int n = rows.numKeys[m];
  const int nBlocks = (n + blockSize - 1) / blockSize;
  // Independent loads first: the query, the block ids, the new key and value.
  for (int i = lane; i < hd; i += 32) qs[i] = q[static_cast<size_t>(m) * ldq + h * hd + i];
  for (int i = lane; i < nBlocks; i += 32) bids[i] = blocks[i];
  if (fresh.k) {
    const int b = fresh.slotBlock[m], s = fresh.slotIndex[m];
    KT* kd = kvAt(base, blockSize, layers, d, b, layer, 0, s) + h * hd;
    KT* vd = kvAt(base, blockSize, layers, d, b, layer, 1, s) + h * hd;
    for (int i = lane; i < hd; i += 32) {
      kd[i] = fromF<KT>(fresh.k[static_cast<size_t>(m) * fresh.ld + h * hd + i]);
      vd[i] = fromF<KT>(fresh.v[static_cast<size_t>(m) * fresh.ld + h * hd + i]);
    }
  }
  __syncwarp();
  const bool vec = (hd * sizeof(KT)) % 16 == 0 && (d * sizeof(KT)) % 16 == 0;
  float mx = -INFINITY;
  for (int j = lane; j < n; j += 32) {
    const KT* kp = kvAt(base, blockSize, layers, d, bids[j / blockSize], layer, 0, j % blockSize) + h * hd;
    float sc;
    if constexpr (HD > 0) {
      // dotKey's arithmetic with the head size known: the key's HD / E loads are independent of the sums.
      constexpr int E = 16 / sizeof(KT);
      uint4 raw[HD / E];
#pragma unroll
      for (int c = 0; c < HD / E; ++c) raw[c] = *reinterpret_cast<const uint4*>(kp + c * E);
      float dot = 0.f;
#pragma unroll
      for (int c = 0; c < HD / E; ++c) {
        const int i = c * E;
        if constexpr (sizeof(KT) == 4) {
          const float* f = reinterpret_cast<const float*>(&raw[c]);
          dot += qs[i] * f[0] + qs[i + 1] * f[1] + qs[i + 2] * f[2] + qs[i + 3] * f[3];
        } else {
          const KT* e = reinterpret_cast<const KT*>(&raw[c]);
#pragma unroll
          for (int t = 0; t < 8; ++t) dot += qs[i + t] * toF<KT>(e[t]);
        }
      }
      sc = dot * scale;
    } else {
      sc = dotKey<KT>(qs, kp, hd, vec) * scale;
    }
    scores[j] = sc;
    mx = fmaxf(mx, sc);
  }
  __syncwarp();
  const float inv = warpSoftmax(scores, n, mx, lane);
  // Values, 16-byte layout: the warp splits into 32 / chunks groups of `chunks` lanes (a lane owns E consecutive
  // dimensions, E = 16 bytes of KT); group g sums the keys g, g + groups, ... in key order, so a 64-dim fp16 head
  // walks n / 4 keys instead of n, and the groups' partial sums meet through shuffles (fixed order: the result does
  // not depend on the batch). With blockSize a multiple of groups those keys are, block after block, the slots
  // g, g + groups, ... of each block: one loop over keys keeps several blocks' loads in flight.
  constexpr int E = 16 / sizeof(KT);
  const int chunks = hd / E;
  if (vec && chunks <= 32 && (32 % chunks) == 0) {
    const int groups = 32 / chunks, g = lane / chunks, c = lane % chunks;
    float a[E];
#pragma unroll
    for (int j = 0; j < E; ++j) a[j] = 0.f;
    const size_t vOff = static_cast<size_t>(blockSize) * d + h * hd + c * E;  // value slot 0 of a layer's block
    const size_t blockStride = static_cast<size_t>(layers) * 2 * blockSize * d;
    const size_t layerOff = static_cast<size_t>(layer) * 2 * blockSize * d;
    if (blockSize % groups == 0) {
#pragma unroll 8
      for (int j = g; j < n; j += groups) {
        const float p = scores[j];
        const KT* vp = base + bids[j / blockSize] * blockStride + layerOff + vOff + static_cast<size_t>(j % blockSize) * d;
        const uint4 raw = *reinterpret_cast<const uint4*>(vp);
        const KT* e = reinterpret_cast<const KT*>(&raw);
#pragma unroll
        for (int t = 0; t < E; ++t) a[t] += p * toF<KT>(e[t]);
      }
    } else {
      for (int b0 = 0; b0 < n; b0 += blockSize) {
        const KT* vb = base + bids[b0 / blockSize] * blockStride + layerOff + vOff;
        const int cnt = min(blockSize, n - b0);
#pragma unroll 4
        for (int s = g; s < cnt; s += groups) {
          const float p = scores[b0 + s];
          const uint4 raw = *reinterpret_cast<const uint4*>(vb + static_cast<size_t>(s) * d);
          const KT* e = reinterpret_cast<const KT*>(&raw);
#pragma unroll
          for (int t = 0; t < E; ++t) a[t] += p * toF<KT>(e[t]);
        }
      }
    }
    for (int off = chunks; off < 32; off <<= 1) {
#pragma unroll
      for (int j = 0; j < E; ++j) a[j] += __shfl_xor_sync(0xffffffffu, a[j], off);
    }
    if (g == 0) {
      const size_t o = static_cast<size_t>(m) * d + h * hd + c * E;
#pragma unroll
      for (int j = 0; j < E; ++j) {
        out[o + j] = a[j] * inv;
        storeHalf(oh, o + j, a[j] * inv);
      }
    }
    return;
  }
  // Other layouts: the block's slots with independent loads in flight; lane owns dimensions lane + 32 t.
  float acc[kMaxDimsPerLane] = {0.f, 0.f, 0.f, 0.f};
  for (int b0 = 0; b0 < n; b0 += blockSize) {
    const KT* vb = kvAt(base, blockSize, layers, d, bids[b0 / blockSize], layer, 1, 0) + h * hd;
    const int cnt = min(blockSize, n - b0);
#pragma unroll 8
    for (int s = 0; s < cnt; ++s) {
      const float p = scores[b0 + s];
      const KT* vp = vb + static_cast<size_t>(s) * d;
#pragma unroll
      for (int t = 0; t < kMaxDimsPerLane; ++t) {
        const int i = lane + 32 * t;
        if (i < hd) acc[t] += p * toF<KT>(vp[i]);
      }
    }
  }
  storeHeadLanes(acc, inv, lane, hd, static_cast<size_t>(m) * d + h * hd, out, oh);
}

__global__ void segmentAttentionKernel(const float* __restrict__ qkv, SegmentRows seg, int M, int heads, int d,
                                       float scale, int maxLen, float* __restrict__ out, HalfOut oh) {
  extern __shared__ float sm[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int item = blockIdx.x * kWarps + warp;
  if (item >= M * heads) return;
  const int r = item / heads, h = item % heads, hd = d / heads, ld = 3 * d;
  float* scores = sm + warp * (maxLen + 128);
  float* qs = scores + maxLen;
  for (int i = lane; i < hd; i += 32) qs[i] = qkv[static_cast<size_t>(r) * ld + h * hd + i];
  __syncwarp();
  const int s = seg.rowSeg[r];
  const int start = seg.segStart[s], n = seg.segLen[s];
  float mx = -INFINITY;
  const bool vec = hd % 4 == 0 && d % 4 == 0;
  for (int j = lane; j < n; j += 32) {
    const float* kp = qkv + static_cast<size_t>(start + j) * ld + d + h * hd;
    const float sc = dotKey<float>(qs, kp, hd, vec) * scale;
    scores[j] = sc;
    mx = fmaxf(mx, sc);
  }
  __syncwarp();
  const float inv = warpSoftmax(scores, n, mx, lane);
  float acc[kMaxDimsPerLane] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll 8
  for (int j = 0; j < n; ++j) {
    const float* vp = qkv + static_cast<size_t>(start + j) * ld + 2 * d + h * hd;
    const float p = scores[j];
#pragma unroll
    for (int t = 0; t < kMaxDimsPerLane; ++t) {
      const int i = lane + 32 * t;
      if (i < hd) acc[t] += p * vp[i];
    }
  }
  storeHeadLanes(acc, inv, lane, hd, static_cast<size_t>(r) * d + h * hd, out, oh);
}

template <typename F>
void setSmem(F kernel, std::size_t bytes) {
  if (bytes > 48 * 1024) GLOSSA_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

void checkHeads(int d, int heads) {
  if (heads <= 0 || d % heads != 0 || d / heads > 32 * kMaxDimsPerLane)
    throw std::runtime_error("CUDA attention supports head sizes up to 128 (d_model " + std::to_string(d) + ", " +
                             std::to_string(heads) + " heads)");
}

template <typename KT, int HD>
void pagedLaunch(const KvView& kv, int layer, const float* q, int ldq, int M, const PagedRows& rows, int heads,
                 float scale, int maxKeys, float* out, HalfOut oh, const NewKv& fresh, cudaStream_t st) {
  const int maxBlocks = rows.stride;
  const std::size_t smem = static_cast<std::size_t>(kWarps) * warpSmemFloats(maxKeys, maxBlocks) * sizeof(float);
  setSmem(pagedAttentionKernel<KT, HD>, smem);
  pagedAttentionKernel<KT, HD><<<ceilDiv(static_cast<long long>(M) * heads, kWarps), 32 * kWarps, smem, st>>>(
      static_cast<KT*>(kv.base), kv.blockSize, kv.layers, kv.d, layer, q, ldq, M, rows, heads, scale, maxKeys, maxBlocks,
      out, oh, fresh);
  GLOSSA_CUDA_LAUNCHED();
}

template <typename KT>
void pagedTyped(const KvView& kv, int layer, const float* q, int ldq, int M, const PagedRows& rows, int heads,
                float scale, int maxKeys, float* out, HalfOut oh, const NewKv& fresh, cudaStream_t st) {
  if (kv.d / heads == 64 && (kv.d * sizeof(KT)) % 16 == 0)
    return pagedLaunch<KT, 64>(kv, layer, q, ldq, M, rows, heads, scale, maxKeys, out, oh, fresh, st);
  pagedLaunch<KT, 0>(kv, layer, q, ldq, M, rows, heads, scale, maxKeys, out, oh, fresh, st);
}

template <typename KT>
void storeTyped(const KvView& kv, int layer, const float* k, const float* v, int ld, int M, const int* slotBlock,
                const int* slotIndex, cudaStream_t st) {
  storeKvKernel<KT><<<dim3(ceilDiv(kv.d, 256), gridRows(M)), 256, 0, st>>>(static_cast<KT*>(kv.base), kv.blockSize, kv.layers,
                                                                  kv.d, layer, k, v, ld, M, slotBlock, slotIndex);
  GLOSSA_CUDA_LAUNCHED();
}

}  // namespace

void storeKv(const KvView& kv, int layer, const float* k, const float* v, int ld, int M, const int* slotBlock,
             const int* slotIndex, cudaStream_t st) {
  if (M <= 0) return;
  switch (kv.type) {
    case ElemType::F32: return storeTyped<float>(kv, layer, k, v, ld, M, slotBlock, slotIndex, st);
    case ElemType::F16: return storeTyped<__half>(kv, layer, k, v, ld, M, slotBlock, slotIndex, st);
    case ElemType::BF16: return storeTyped<__nv_bfloat16>(kv, layer, k, v, ld, M, slotBlock, slotIndex, st);
  }
}

namespace {
void pagedDispatch(const KvView& kv, int layer, const float* q, int ldq, int M, const PagedRows& rows, int heads,
                   float scale, int maxKeys, float* out, HalfOut oh, const NewKv& fresh, cudaStream_t st) {
  if (M <= 0) return;
  checkHeads(kv.d, heads);
  switch (kv.type) {
    case ElemType::F32: return pagedTyped<float>(kv, layer, q, ldq, M, rows, heads, scale, maxKeys, out, oh, fresh, st);
    case ElemType::F16: return pagedTyped<__half>(kv, layer, q, ldq, M, rows, heads, scale, maxKeys, out, oh, fresh, st);
    case ElemType::BF16:
      return pagedTyped<__nv_bfloat16>(kv, layer, q, ldq, M, rows, heads, scale, maxKeys, out, oh, fresh, st);
  }
}
}  // namespace

void pagedAttention(const KvView& kv, int layer, const float* q, int ldq, int M, const PagedRows& rows, int heads,
                    float scale, int maxKeys, float* out, HalfOut oh, cudaStream_t st) {
  pagedDispatch(kv, layer, q, ldq, M, rows, heads, scale, maxKeys, out, oh, NewKv{}, st);
}

void storeKvAndAttend(const KvView& kv, int layer, const float* qkv, int ld, int M, const int* slotBlock,
                      const int* slotIndex, const PagedRows& rows, int heads, float scale, int maxKeys, float* out,
                      HalfOut oh, cudaStream_t st) {
  const NewKv fresh{qkv + kv.d, qkv + 2 * kv.d, ld, slotBlock, slotIndex};
  pagedDispatch(kv, layer, qkv, ld, M, rows, heads, scale, maxKeys, out, oh, fresh, st);
}

void segmentAttention(const float* qkv, const SegmentRows& seg, int M, int heads, int d, float scale, float* out,
                      HalfOut oh, cudaStream_t st) {
  if (M <= 0) return;
  checkHeads(d, heads);
  const int maxLen = seg.maxLen > 0 ? seg.maxLen : 1;
  const std::size_t smem = static_cast<std::size_t>(kWarps) * (maxLen + 128) * sizeof(float);
  setSmem(segmentAttentionKernel, smem);
  segmentAttentionKernel<<<ceilDiv(static_cast<long long>(M) * heads, kWarps), 32 * kWarps, smem, st>>>(
      qkv, seg, M, heads, d, scale, maxLen, out, oh);
  GLOSSA_CUDA_LAUNCHED();
}

}  // namespace cuda
}  // namespace glossa
