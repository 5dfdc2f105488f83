// glossa_gpu: the native engine on a GPU machine without Node.js (the device has none). Subcommands:
//   probe                         CUDA device, driver/runtime, cuBLAS
//   conformance                   every backend op and Linear precision, CUDA vs the CPU backend (as ggml's
//                                 test-backend-ops), with tolerances; exit 1 on a failure
//   golden DIR GOLDEN.json        HF goldens through the CUDA engine in FP32 mode (and FP16 for the record)
//   engine-check DIR              CUDA FP32 vs CPU tokens on synthetic inputs; graphs on/off, deterministic
//                                 batched == one by one, preemption
//   bench DIR [options]           engine-level throughput table (tok/s, ms/step, TTFT, memory), JSON lines
//   translate DIR CASES.json      token-id cases (bench/gpu-flores.ts) through the CUDA engine per compute mode:
//                                 agreement with the CPU ids, outputs as JSON lines (--out, --computes, --modes)
// Everything goes through EngineCore / Backend exactly as the N-API addon does.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include "backend/registry.h"
#include "checkpoint.h"
#include "core/cpu_features.h"
#include "core/half.h"
#include "core/thread_pool.h"
#include "engine/engine_core.h"
#include "quant/quant_kernels.h"

using namespace glossa;
using tool::Json;

namespace {

double nowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double epochMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::map<std::string, std::string> flags(int argc, char** argv, int from) {
  std::map<std::string, std::string> f;
  for (int i = from; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) continue;
    const auto eq = a.find('=');
    if (eq != std::string::npos) f[a.substr(2, eq - 2)] = a.substr(eq + 1);
    else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) f[a.substr(2)] = argv[++i];
    else f[a.substr(2)] = "1";
  }
  return f;
}

std::vector<int> intList(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ',')) v.push_back(std::stoi(x));
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// In-memory tensors for the op tests.
struct HostTensor {
  std::vector<std::uint8_t> bytes;
  TensorRef ref;
  std::unique_ptr<HostTensor> scale, zero;
};

std::unique_ptr<HostTensor> makeTensor(const std::string& name, DType dt, std::vector<std::int64_t> shape, std::size_t bytes) {
  auto t = std::make_unique<HostTensor>();
  t->bytes.resize(bytes);
  t->ref.name = name;
  t->ref.file = "(memory)";
  t->ref.dtype = dt;
  t->ref.shape = std::move(shape);
  t->ref.data = t->bytes.data();
  t->ref.bytes = bytes;
  return t;
}

std::uint16_t bf16Of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

// A random [out, in] weight of the given storage (Q8/Q8A8: per-row int8 + F32 scales; Q4: g-groups + F16 scales,
// U8 zeros); float weights are ~N(0, 1/sqrt(in)).
std::unique_ptr<HostTensor> randomWeight(std::mt19937& rng, DType dt, int out, int in, int group = 128) {
  std::normal_distribution<float> nd(0.f, 1.f / std::sqrt(static_cast<float>(in)));
  const std::size_t n = static_cast<std::size_t>(out) * in;
  if (dt == DType::F32 || dt == DType::F16 || dt == DType::BF16 || dt == DType::F16H) {
    auto t = makeTensor("w", dt, {out, in}, n * (dt == DType::F32 ? 4 : 2));
    for (std::size_t i = 0; i < n; ++i) {
      const float f = nd(rng);
      if (dt == DType::F32) std::memcpy(t->bytes.data() + 4 * i, &f, 4);
      else {
        const std::uint16_t h = dt == DType::BF16 ? bf16Of(f) : floatToHalfValue(f);
        std::memcpy(t->bytes.data() + 2 * i, &h, 2);
      }
    }
    return t;
  }
  if (dt == DType::Q8 || dt == DType::Q8A8) {
    auto t = makeTensor("w", dt, {out, in}, n);
    std::uniform_int_distribution<int> q(-128, 127);
    for (std::size_t i = 0; i < n; ++i) t->bytes[i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q(rng)));
    t->scale = makeTensor("w_scale", DType::F32, {out}, static_cast<std::size_t>(out) * 4);
    std::uniform_real_distribution<float> s(0.2f, 1.f);
    for (int r = 0; r < out; ++r) {
      const float v = s(rng) / (127.f * std::sqrt(static_cast<float>(in)));
      std::memcpy(t->scale->bytes.data() + 4 * r, &v, 4);
    }
    t->ref.scale = &t->scale->ref;
    return t;
  }
  // Q4
  const int groups = (in + group - 1) / group, k2 = (in + 1) / 2;
  auto t = makeTensor("w", DType::Q4, {out, in}, static_cast<std::size_t>(out) * k2);
  t->ref.groupSize = group;
  std::uniform_int_distribution<int> byte(0, 255), zp(0, 15);
  for (auto& b : t->bytes) b = static_cast<std::uint8_t>(byte(rng));
  if (in % 2) for (int r = 0; r < out; ++r) t->bytes[static_cast<std::size_t>(r) * k2 + k2 - 1] &= 15;
  t->scale = makeTensor("w_scale", DType::F16, {out, groups}, static_cast<std::size_t>(out) * groups * 2);
  t->zero = makeTensor("w_zero", DType::U8, {out, groups}, static_cast<std::size_t>(out) * groups);
  std::uniform_real_distribution<float> s(0.5f, 1.f);
  for (int i = 0; i < out * groups; ++i) {
    const std::uint16_t h = floatToHalfValue(s(rng) / (7.f * std::sqrt(static_cast<float>(in))));
    std::memcpy(t->scale->bytes.data() + 2 * i, &h, 2);
    t->zero->bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(zp(rng));
  }
  t->ref.scale = &t->scale->ref;
  t->ref.zero = &t->zero->ref;
  return t;
}

std::unique_ptr<HostTensor> randomVector(std::mt19937& rng, int n, float mean = 0.f, float std = 1.f) {
  auto t = makeTensor("v", DType::F32, {n}, static_cast<std::size_t>(n) * 4);
  std::normal_distribution<float> nd(mean, std);
  for (int i = 0; i < n; ++i) {
    const float f = nd(rng);
    std::memcpy(t->bytes.data() + 4 * i, &f, 4);
  }
  return t;
}

std::vector<float> randomFloats(std::mt19937& rng, std::size_t n, float std = 1.f) {
  std::normal_distribution<float> nd(0.f, std);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Device <-> host helpers through the Backend interface only.
struct Dev {
  Backend& b;
  std::unique_ptr<Buffer> put(const std::vector<float>& host) {
    auto t = makeTensor("x", DType::F32, {static_cast<std::int64_t>(host.size())}, host.size() * 4);
    t->ref.checkFinite = false;  // test inputs may hold -inf (logits)
    std::memcpy(t->bytes.data(), host.data(), host.size() * 4);
    return b.upload(t->ref);
  }
  std::vector<float> get(const float* p, std::size_t n) {
    std::vector<float> v(n);
    b.download(p, n, v.data());
    b.synchronize();
    return v;
  }
};

double relErr(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    num += (static_cast<double>(a[i]) - ref[i]) * (static_cast<double>(a[i]) - ref[i]);
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

struct Report {
  int failures = 0, checks = 0;
  void check(const std::string& op, const std::string& config, double err, double tol) {
    ++checks;
    const bool ok = err <= tol;
    if (!ok) ++failures;
    std::printf("%-5s %-18s %-44s rel err %.2e (tol %.0e)\n", ok ? "ok" : "FAIL", op.c_str(), config.c_str(), err, tol);
  }
  void exact(const std::string& op, const std::string& config, bool same, const std::string& detail = "") {
    ++checks;
    if (!same) ++failures;
    std::printf("%-5s %-18s %-44s %s\n", same ? "ok" : "FAIL", op.c_str(), config.c_str(), detail.c_str());
  }
};

// ---------------------------------------------------------------------------------------------------------------
int conformance() {
  ThreadPool pool(4);
  const CpuFeatures cpuf = CpuFeatures::detect();
  BackendSpec cpuSpec;
  cpuSpec.hostSearchEmulation = true;
  auto cpu = createBackend(cpuSpec, pool, cpuf);
  Report rep;
  std::random_device seed;
  std::mt19937 rng(seed());
  std::printf("conformance: CUDA backend vs %s backend (fresh random inputs each check)\n", cpu->name().c_str());
  for (const char* compute : {"f32", "f16", "bf16"}) {
    BackendSpec spec;
    spec.device = "cuda";
    spec.compute = compute;
    auto gpu = createBackend(spec, pool, cpuf);
    BackendSpec detSpec = spec;
    detSpec.deterministic = true;
    auto det = createBackend(detSpec, pool, cpuf);
    Dev G{*gpu};
    const std::string cm = compute;
    const double tolOp = cm == "f32" ? 1e-5 : cm == "f16" ? 2e-3 : 1.5e-2;  // ops that store KV in the compute type
    // --- layer norm, activations, adds, gathers (always FP32 math)
    {
      const int M = 7, d = 1024;
      auto x = randomFloats(rng, static_cast<std::size_t>(M) * d, 3.f);
      auto g = randomFloats(rng, d), bb = randomFloats(rng, d);
      auto gx = G.put(x), gg = G.put(g), gb = G.put(bb), gy = gpu->allocate(x.size());
      std::vector<float> ref(x.size());
      cpu->layerNorm(x.data(), M, d, g.data(), bb.data(), 1e-5f, ref.data());
      gpu->layerNorm(gx->data(), M, d, gg->data(), gb->data(), 1e-5f, gy->data());
      rep.check("layerNorm", cm + " M=7 d=1024", relErr(G.get(gy->data(), x.size()), ref), 1e-5);
      for (Activation a : {Activation::Gelu, Activation::GeluTanh, Activation::Relu}) {
        auto v = randomFloats(rng, 5000, 2.f);
        auto gv = G.put(v);
        cpu->activate(a, v.data(), v.size());
        gpu->activate(a, gv->data(), v.size());
        rep.check("activate", cm + (a == Activation::Gelu ? " gelu" : a == Activation::GeluTanh ? " gelu_tanh" : " relu"),
                  relErr(G.get(gv->data(), v.size()), v), 1e-6);
      }
      auto y = randomFloats(rng, x.size());
      auto gy2 = G.put(y), gx2 = G.put(x);
      std::vector<float> sum = x;
      cpu->addInPlace(sum.data(), y.data(), sum.size());
      gpu->addInPlace(gx2->data(), gy2->data(), sum.size());
      rep.check("addInPlace", cm, relErr(G.get(gx2->data(), sum.size()), sum), 0);
      auto gx3 = G.put(x);
      std::vector<float> rv = x;
      cpu->addRowVector(rv.data(), M, d, g.data());
      gpu->addRowVector(gx3->data(), M, d, gg->data());
      rep.check("addRowVector", cm, relErr(G.get(gx3->data(), rv.size()), rv), 0);
      std::vector<int> rows = {3, 0, 6, 6};
      const int* dr = gpu->uploadInts(rows.data(), rows.size());
      auto gout = gpu->allocate(rows.size() * d);
      std::vector<float> gref(rows.size() * d);
      cpu->gatherRows(x.data(), rows.data(), 4, d, gref.data());
      gpu->gatherRows(gx->data(), dr, 4, d, gout->data());
      rep.check("gatherRows", cm, relErr(G.get(gout->data(), gref.size()), gref), 0);
      // More rows than a grid's y dimension holds (65,535), as an encoder step over thousands of sources has.
      std::vector<int> many(70000);
      for (std::size_t i = 0; i < many.size(); ++i) many[i] = static_cast<int>((i * 7) % static_cast<std::size_t>(M));
      const int* dm = gpu->uploadInts(many.data(), many.size());
      auto gmany = gpu->allocate(many.size() * d);
      std::vector<float> mref(many.size() * d);
      cpu->gatherRows(x.data(), many.data(), static_cast<int>(many.size()), d, mref.data());
      gpu->gatherRows(gx->data(), dm, static_cast<int>(many.size()), d, gmany->data());
      rep.check("gatherRows 70000 rows", cm, relErr(G.get(gmany->data(), mref.size()), mref), 0);
    }
    // --- Linears: every storage, both kernel paths (streaming and library), three epilogues
    struct LinCase {
      DType dt;
      int out, in;
    };
    std::vector<LinCase> cases = {{DType::F32, 3072, 1024}, {DType::F16, 1024, 4096}, {DType::BF16, 4096, 1024},
                                  {DType::Q8, 3072, 1024},  {DType::Q8A8, 1024, 4096}, {DType::Q4, 4096, 1024},
                                  {DType::F16, 37, 40},     {DType::Q4, 36, 72},      {DType::Q8, 33, 20}};
    for (const LinCase& lc : cases) {
      if (cm == "bf16" && lc.dt == DType::F16) continue;
      if (cm == "f16" && lc.dt == DType::BF16) continue;
      auto w = randomWeight(rng, lc.dt, lc.out, lc.in, lc.in % 128 == 0 ? 128 : 8);
      auto b = randomVector(rng, lc.out, 0.f, 0.1f);
      auto lCpu = cpu->createLinear({&w->ref}, {&b->ref});
      auto lGpu = gpu->createLinear({&w->ref}, {&b->ref});
      auto lDet = det->createLinear({&w->ref}, {&b->ref});
      const bool floatW = lc.dt == DType::F32 || lc.dt == DType::F16 || lc.dt == DType::BF16;
      const std::string name = std::string(dtypeName(lc.dt)) + " " + std::to_string(lc.out) + "x" + std::to_string(lc.in);
      for (int M : {1, 3, 8, 9, 33, 130}) {
        auto x = randomFloats(rng, static_cast<std::size_t>(M) * lc.in);
        std::vector<float> ref(static_cast<std::size_t>(M) * lc.out);
        lCpu->forward(x.data(), lc.in, M, ref.data(), lc.out);
        auto gx = G.put(x);
        auto gy = gpu->allocate(ref.size());
        lGpu->forward(gx->data(), lc.in, M, gy->data(), lc.out);
        // Library GEMMs round the activations to the compute type (f16/bf16); FP32 weights in FP32 mode only.
        const bool lib = M > 4;
        double tol = 2e-5;
        if (lib && cm == "f16" && lc.dt != DType::Q8A8) tol = 2e-3;
        if (lib && cm == "bf16" && lc.dt != DType::Q8A8) tol = 1e-2;
        if (floatW && lc.dt == DType::F32 && cm != "f32") tol = cm == "f16" ? 2e-3 : 1e-2;  // weights rounded
        rep.check("Linear", cm + " " + name + " M=" + std::to_string(M), relErr(G.get(gy->data(), ref.size()), ref), tol);
        // Rows as wide as the layer's preferred output stride (an LM head writing its padded GEMM rows in place).
        const int wide = lGpu->preferredOutputStride();
        if (wide > lc.out) {
          auto gw = gpu->allocate(static_cast<std::size_t>(M) * wide);
          lGpu->forward(gx->data(), lc.in, M, gw->data(), wide);
          const std::vector<float> all = G.get(gw->data(), static_cast<std::size_t>(M) * wide);
          std::vector<float> tight(ref.size());
          for (int m = 0; m < M; ++m)
            std::copy_n(all.data() + static_cast<std::size_t>(m) * wide, lc.out, tight.data() + static_cast<std::size_t>(m) * lc.out);
          rep.check("Linear, rows of the preferred stride", cm + " " + name + " M=" + std::to_string(M), relErr(tight, ref), tol);
        }
        // Epilogues (Add: residual, Act: GELU) against the CPU composition.
        auto h = randomFloats(rng, ref.size());
        std::vector<float> href = h, tmp(ref.size());
        cpu->linearAdd(*lCpu, x.data(), lc.in, M, href.data(), tmp.data());
        auto gh = G.put(h);
        auto gtmp = gpu->allocate(ref.size());
        gpu->linearAdd(*lGpu, gx->data(), lc.in, M, gh->data(), gtmp->data());
        rep.check("linearAdd", cm + " " + name + " M=" + std::to_string(M), relErr(G.get(gh->data(), ref.size()), href), tol);
        std::vector<float> aref(ref.size());
        cpu->linearActivate(*lCpu, Activation::Gelu, x.data(), lc.in, M, aref.data());
        gpu->linearActivate(*lGpu, Activation::Gelu, gx->data(), lc.in, M, gy->data());
        rep.check("linearActivate", cm + " " + name + " M=" + std::to_string(M), relErr(G.get(gy->data(), ref.size()), aref), tol * 2);
        // Deterministic mode: row 0 of an M-row product is bit-identical to the same row alone.
        if (M > 1) {
          Dev D{*det};
          auto dx = D.put(x);
          auto dy = det->allocate(ref.size()), d1 = det->allocate(lc.out);
          lDet->forward(dx->data(), lc.in, M, dy->data(), lc.out);
          lDet->forward(dx->data() + static_cast<std::size_t>(M - 1) * lc.in, lc.in, 1, d1->data(), lc.out);
          auto all = D.get(dy->data(), ref.size());
          auto one = D.get(d1->data(), lc.out);
          const bool same = std::memcmp(all.data() + static_cast<std::size_t>(M - 1) * lc.out, one.data(), one.size() * 4) == 0;
          rep.exact("batch invariance", cm + " " + name + " M=" + std::to_string(M), same, same ? "last row == alone (bits)" : "rows differ");
        }
      }
      // Embedding rows from the table (tied embeddings).
      if (lc.out >= 64) {
        std::vector<int> toks = {0, 5, lc.out - 1, 17}, pos = {2, 3, 2, 9};
        const int d = lc.in;
        auto positions = randomFloats(rng, static_cast<std::size_t>(16) * d);
        std::vector<float> ref(4 * static_cast<std::size_t>(d));
        cpu->embed(*lCpu, toks.data(), pos.data(), 4, 3.5f, positions.data(), d, ref.data());
        std::vector<int> both = toks;
        both.insert(both.end(), pos.begin(), pos.end());
        const int* di = gpu->uploadInts(both.data(), both.size());
        auto gp = G.put(positions);
        auto go = gpu->allocate(ref.size());
        gpu->embed(*lGpu, di, di + 4, 4, 3.5f, gp->data(), d, go->data());
        const double tol = lc.dt == DType::F32 && cm != "f32" ? (cm == "f16" ? 1e-3 : 8e-3) : 1e-6;
        rep.check("embed", cm + " " + name, relErr(G.get(go->data(), ref.size()), ref), tol);
      }
    }
    // --- 16-bit copies left by layer norm / GELU for the next library GEMM: the same bits as converting
    if (cm != "f32") {
      const int M = 33, d = 1024, ffn = 4096;
      auto w1 = randomWeight(rng, cm == "f16" ? DType::F16 : DType::BF16, ffn, d);
      auto w2 = randomWeight(rng, cm == "f16" ? DType::F16 : DType::BF16, d, ffn);
      auto b1 = randomVector(rng, ffn, 0.f, 0.1f), b2 = randomVector(rng, d, 0.f, 0.1f);
      auto l1 = gpu->createLinear({&w1->ref}, {&b1->ref});
      auto l2 = gpu->createLinear({&w2->ref}, {&b2->ref});
      auto x = randomFloats(rng, static_cast<std::size_t>(M) * d, 2.f), g = randomFloats(rng, d), bb = randomFloats(rng, d);
      auto gx = G.put(x), gg = G.put(g), gb = G.put(bb);
      auto n1 = gpu->allocate(x.size()), n2 = gpu->allocate(x.size()), f1 = gpu->allocate(static_cast<std::size_t>(M) * ffn),
           f2 = gpu->allocate(static_cast<std::size_t>(M) * ffn), tmp = gpu->allocate(x.size());
      auto h1 = G.put(x), h2 = G.put(x);
      gpu->layerNorm(gx->data(), M, d, gg->data(), gb->data(), 1e-5f, n1->data());
      gpu->linearActivate(*l1, Activation::Gelu, n1->data(), d, M, f1->data());
      gpu->linearAdd(*l2, f1->data(), ffn, M, h1->data(), tmp->data());
      gpu->layerNorm(gx->data(), M, d, gg->data(), gb->data(), 1e-5f, n1->data());
      gpu->copy(n1->data(), n2->data(), x.size());  // no copy travels with n2: converted by the GEMM
      gpu->linearActivate(*l1, Activation::Gelu, n2->data(), d, M, f2->data());
      auto f3 = gpu->allocate(static_cast<std::size_t>(M) * ffn);
      gpu->copy(f2->data(), f3->data(), static_cast<std::size_t>(M) * ffn);
      gpu->linearAdd(*l2, f3->data(), ffn, M, h2->data(), tmp->data());
      const auto a = G.get(h1->data(), x.size()), b = G.get(h2->data(), x.size());
      rep.exact("16-bit copies", cm + " LN -> fc1+GELU -> fc2+residual M=33", a == b, a == b ? "same bits as converting" : "differ");
    }
    // --- attention: encoder segments, paged self/cross attention over random block tables
    {
      const int d = 1024, heads = 16;
      std::vector<int> segLen = {5, 17, 32, 1};
      std::vector<int> segStart, rowSeg;
      int M = 0, maxLen = 0;
      for (std::size_t s = 0; s < segLen.size(); ++s) {
        segStart.push_back(M);
        for (int i = 0; i < segLen[s]; ++i) rowSeg.push_back(static_cast<int>(s));
        M += segLen[s];
        maxLen = std::max(maxLen, segLen[s]);
      }
      auto qkv = randomFloats(rng, static_cast<std::size_t>(M) * 3 * d, 1.5f);
      std::vector<int> ints = rowSeg;
      ints.insert(ints.end(), segStart.begin(), segStart.end());
      ints.insert(ints.end(), segLen.begin(), segLen.end());
      SegmentRows cs{ints.data(), ints.data() + M, ints.data() + M + 4, 4, maxLen};
      std::vector<float> ref(static_cast<std::size_t>(M) * d);
      cpu->segmentAttention(qkv.data(), cs, M, heads, d, 0.125f, ref.data());
      const int* di = gpu->uploadInts(ints.data(), ints.size());
      SegmentRows gs{di, di + M, di + M + 4, 4, maxLen};
      auto gq = G.put(qkv);
      auto go = gpu->allocate(ref.size());
      gpu->segmentAttention(gq->data(), gs, M, heads, d, 0.125f, go->data());
      rep.check("segmentAttention", cm + " segments 5,17,32,1", relErr(G.get(go->data(), ref.size()), ref), 1e-5);
    }
    for (const int heads : {16, 8}) {  // head sizes 64 (the compiled-in size) and 128
      const int d = 1024, layers = 3, bs = 16, blocks = 40, layer = 1;
      const std::string hs = " head " + std::to_string(d / heads);
      PagedKvLayout ck, gk;
      ck.blockSize = gk.blockSize = bs;
      ck.layers = gk.layers = layers;
      ck.d = gk.d = d;
      ck.elementBytes = 4;
      gk.elementBytes = gpu->kvElementBytes();
      auto cstore = cpu->allocate(ck.blockFloats() * blocks);
      auto gstore = gpu->allocate(gk.blockBytes() / 4 * blocks);
      ck.base = cstore->data();
      gk.base = gstore->data();
      // Two sequences with shuffled block tables; fill 70 and 33 positions of the layer through storeKv.
      std::vector<int> perm(blocks);
      for (int i = 0; i < blocks; ++i) perm[i] = i;
      std::shuffle(perm.begin(), perm.end(), rng);
      const int stride = 8;
      std::vector<int> tables(2 * stride);
      for (int i = 0; i < 2 * stride; ++i) tables[i] = perm[i];
      const std::vector<int> lens = {70, 33};
      std::vector<int> slotBlock, slotIndex;
      for (int s = 0; s < 2; ++s)
        for (int p = 0; p < lens[s]; ++p) {
          slotBlock.push_back(tables[s * stride + p / bs]);
          slotIndex.push_back(p % bs);
        }
      const int W = static_cast<int>(slotBlock.size());
      auto kv = randomFloats(rng, static_cast<std::size_t>(W) * 2 * d);
      std::vector<int> ints = slotBlock;
      ints.insert(ints.end(), slotIndex.begin(), slotIndex.end());
      cpu->storeKv(ck, layer, kv.data(), kv.data() + d, 2 * d, W, slotBlock.data(), slotIndex.data());
      const int* di = gpu->uploadInts(ints.data(), ints.size());
      auto gkv = G.put(kv);
      gpu->storeKv(gk, layer, gkv->data(), gkv->data() + d, 2 * d, W, di, di + W);
      gpu->synchronize();
      // Query rows: seq 0 at 70 and 12 keys, seq 1 at 33 and 1 key.
      std::vector<int> rowSeq = {0, 0, 1, 1}, numKeys = {70, 12, 33, 1};
      const int M = 4;
      auto q = randomFloats(rng, static_cast<std::size_t>(M) * d, 2.f);
      std::vector<int> pi = rowSeq;
      pi.insert(pi.end(), numKeys.begin(), numKeys.end());
      pi.insert(pi.end(), tables.begin(), tables.end());
      PagedRows cr{pi.data(), pi.data() + M, pi.data() + 2 * M, stride};
      std::vector<float> ref(static_cast<std::size_t>(M) * d);
      cpu->pagedAttention(ck, layer, q.data(), d, M, cr, heads, 0.125f, ref.data());
      const int* dp = gpu->uploadInts(pi.data(), pi.size());
      PagedRows gr{dp, dp + M, dp + 2 * M, stride};
      auto gq = G.put(q);
      auto go = gpu->allocate(ref.size());
      gpu->pagedAttention(gk, layer, gq->data(), d, M, gr, heads, 0.125f, go->data());
      rep.check("pagedAttention", cm + hs + " keys 70,12,33,1 shuffled blocks", relErr(G.get(go->data(), ref.size()), ref), tolOp);
      // Copy-on-write: a copied block reads back the same.
      gpu->copyKvBlock(gk, tables[0], perm[blocks - 1]);
      cpu->copyKvBlock(ck, tables[0], perm[blocks - 1]);
      std::vector<int> t2 = tables;
      t2[0] = perm[blocks - 1];
      std::vector<int> pi2 = rowSeq;
      pi2.insert(pi2.end(), numKeys.begin(), numKeys.end());
      pi2.insert(pi2.end(), t2.begin(), t2.end());
      PagedRows cr2{pi2.data(), pi2.data() + M, pi2.data() + 2 * M, stride};
      std::vector<float> ref2(ref.size());
      cpu->pagedAttention(ck, layer, q.data(), d, M, cr2, heads, 0.125f, ref2.data());
      const int* dp2 = gpu->uploadInts(pi2.data(), pi2.size());
      PagedRows gr2{dp2, dp2 + M, dp2 + 2 * M, stride};
      gpu->pagedAttention(gk, layer, gq->data(), d, M, gr2, heads, 0.125f, go->data());
      rep.check("copyKvBlock", cm + " attention through a copied block", relErr(G.get(go->data(), ref2.size()), ref2), tolOp);
      // A decode step: one new row per sequence (positions 70 and 33) stored and attended in one call, then read
      // back by plain paged attention.
      std::vector<int> di3 = {tables[4], t2[stride + 2], 70 % bs, 33 % bs, 0, 1, 71, 34};
      di3.insert(di3.end(), t2.begin(), t2.end());
      const int M3 = 2;
      auto qkv3 = randomFloats(rng, static_cast<std::size_t>(M3) * 3 * d, 2.f);
      PagedRows cr3{di3.data() + 4, di3.data() + 6, di3.data() + 8, stride};
      std::vector<float> ref3(static_cast<std::size_t>(M3) * d), back(ref3.size());
      cpu->storeKvAndAttend(ck, layer, qkv3.data(), 3 * d, M3, di3.data(), di3.data() + 2, cr3, heads, 0.125f, ref3.data());
      cpu->pagedAttention(ck, layer, q.data(), d, M3, cr3, heads, 0.125f, back.data());
      const int* dp3 = gpu->uploadInts(di3.data(), di3.size());
      PagedRows gr3{dp3 + 4, dp3 + 6, dp3 + 8, stride};
      auto gqkv3 = G.put(qkv3);
      gpu->storeKvAndAttend(gk, layer, gqkv3->data(), 3 * d, M3, dp3, dp3 + 2, gr3, heads, 0.125f, go->data());
      rep.check("storeKvAndAttend", cm + hs + " new keys at 70 and 33", relErr(G.get(go->data(), ref3.size()), ref3), tolOp);
      gpu->pagedAttention(gk, layer, gq->data(), d, M3, gr3, heads, 0.125f, go->data());
      rep.check("storeKvAndAttend", cm + hs + " stored keys read back", relErr(G.get(go->data(), back.size()), back), tolOp);
    }
    // --- device search reductions vs the host emulation
    for (int vocab : {96, 16000, 250054}) {
      for (const auto& [rows, k] : std::vector<std::pair<int, int>>{{5, 1}, {5, 8}, {5, 32}, {130, 1}, {130, 8}}) {
        const int cap = 4;
        auto logits = randomFloats(rng, static_cast<std::size_t>(rows) * vocab, 3.f);
        logits[static_cast<std::size_t>(vocab) + 7] = logits[static_cast<std::size_t>(vocab) + 9] = 30.f;  // a tie
        if (vocab > 100) logits[3 * static_cast<std::size_t>(vocab) + 11] = -INFINITY;
        std::vector<int> spec(static_cast<std::size_t>(rows) * cap, -1);
        spec[0] = 3;
        spec[1] = vocab - 1;
        spec[cap + 0] = 7;
        // One search's results copied out of the backend's buffers: stats, top values, top tokens, specials.
        struct Found {
          std::vector<float> stats, values, specials;
          std::vector<int> tokens;
        };
        auto found = [&](const RowSearchResults& r) {
          return Found{{r.stats, r.stats + rows * 2}, {r.topValue, r.topValue + rows * k}, {r.special, r.special + rows * cap},
                       {r.topToken, r.topToken + rows * k}};
        };
        // The GPU's search over host rows of `ld` floats (ld > vocab: padded LM-head logits).
        auto onGpu = [&](const std::vector<float>& host, int ld) {
          auto dl = G.put(host);
          const int* ds = gpu->uploadInts(spec.data(), spec.size());
          const RowSearchResults r = gpu->enqueueRowSearch(dl->data(), rows, vocab, ld, k, ds, cap);
          gpu->synchronize();
          return found(r);
        };
        const Found c = found(cpu->enqueueRowSearch(logits.data(), rows, vocab, vocab, k, spec.data(), cap));
        const std::string cfg = cm + " vocab " + std::to_string(vocab) + " k " + std::to_string(k) + " rows " + std::to_string(rows);
        const Found g = onGpu(logits, vocab);
        rep.check("search stats", cfg, relErr(g.stats, c.stats), 1e-5);
        rep.exact("search top-k", cfg, g.tokens == c.tokens && g.values == c.values, g.tokens == c.tokens ? "same tokens and values" : "tokens differ");
        rep.exact("search specials", cfg, g.specials == c.specials);
        // The same rows at a wider stride; the padding holds values that must be ignored.
        const int ld = vocab + 6;
        std::vector<float> wideLogits(static_cast<std::size_t>(rows) * ld, 1e30f);
        for (int r = 0; r < rows; ++r)
          std::copy_n(logits.data() + static_cast<std::size_t>(r) * vocab, vocab, wideLogits.data() + static_cast<std::size_t>(r) * ld);
        const Found w = onGpu(wideLogits, ld);
        rep.check("search stats, row stride " + std::to_string(ld), cfg, relErr(w.stats, c.stats), 1e-5);
        rep.exact("search top-k, row stride " + std::to_string(ld), cfg,
                  w.tokens == c.tokens && w.values == c.values && w.specials == c.specials,
                  w.tokens == c.tokens ? "same tokens, values and specials" : "tokens differ");
        if (rows > 5) {  // many rows group chunks per block: the first rows' results equal a 5-row search's, bit for bit
          std::vector<float> head(logits.begin(), logits.begin() + 5 * static_cast<std::ptrdiff_t>(vocab));
          auto dl = G.put(head);
          const int* ds = gpu->uploadInts(spec.data(), 5 * cap);
          const RowSearchResults r = gpu->enqueueRowSearch(dl->data(), 5, vocab, vocab, k, ds, cap);
          gpu->synchronize();
          const bool same = std::equal(r.stats, r.stats + 10, g.stats.begin()) &&
                            std::equal(r.topValue, r.topValue + 5 * k, g.values.begin()) &&
                            std::equal(r.topToken, r.topToken + 5 * k, g.tokens.begin());
          rep.exact("search batch invariance", cfg + " vs rows 5", same);
        }
      }
    }
  }
  std::printf("conformance: %d checks, %d failures\n", rep.checks, rep.failures);
  return rep.failures == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------------------------
struct Run {
  std::vector<GenerateResult> results;
  double totalMs = 0, firstStepMs = 0;
  int steps = 0, maxBatch = 0, preempted = 0, peakBlocks = 0;
};

Run runAll(EngineCore& e, const std::vector<GenerateRequest>& reqs, int budget = 0) {
  Run r;
  r.results.resize(reqs.size());
  for (std::size_t i = 0; i < reqs.size(); ++i) e.add(static_cast<std::int64_t>(i), reqs[i]);
  const double t0 = nowMs();
  std::size_t done = 0;
  while (done < reqs.size()) {
    StepResult s = e.step(budget);
    if (r.steps == 0) r.firstStepMs = nowMs() - t0;
    ++r.steps;
    r.maxBatch = std::max(r.maxBatch, s.batchSize);
    r.preempted += static_cast<int>(s.preempted.size());
    r.peakBlocks = std::max(r.peakBlocks, e.poolStats().usedBlocks);
    for (auto& f : s.failed) throw std::runtime_error("request " + std::to_string(f.first) + " failed: " + f.second);
    for (auto& f : s.finished) {
      r.results[static_cast<std::size_t>(f.first)] = f.second;
      ++done;
    }
  }
  r.totalMs = nowMs() - t0;
  return r;
}

EngineOptions engineOptions(const std::string& device, const std::string& compute, int kvBlocks) {
  EngineOptions o;
  o.threads = 8;
  o.device = device;
  o.compute = compute;
  o.kvBlocks = kvBlocks;
  o.blockSize = 16;
  return o;
}

DecodeOptions decodeOptions(int beams, int maxNew) {
  DecodeOptions d;
  d.beamSize = beams;
  d.maxNewTokens = maxNew;
  d.lengthPenalty = 1.0f;
  d.earlyStopping = true;
  return d;
}

int golden(const std::string& dir, const std::string& goldenPath) {
  const tool::Checkpoint ck = tool::readCheckpoint(dir);
  const Json g = Json::parse(tool::readFile(goldenPath));
  const Json& cases = g["cases"];
  std::vector<GenerateRequest> greedy, beam;
  for (const Json& c : cases.arr) {
    GenerateRequest r;
    for (const Json& v : c["src_ids"].arr) r.srcIds.push_back(v.asInt());
    r.forcedBosId = c["forced_bos_id"].asInt(-1);
    r.options = decodeOptions(1, 64);
    greedy.push_back(r);
    r.options = decodeOptions(4, 64);
    beam.push_back(r);
  }
  int failures = 0;
  for (const char* compute : {"f32", "f16"}) {
    for (const bool graphs : {true, false}) {
      if (std::string(compute) == "f16" && !graphs) continue;
      EngineOptions o = engineOptions("cuda", compute, 2048);
      o.cudaGraphs = graphs;
      EngineCore e(ck.config, ck.tensors, o);
      std::vector<GenerateRequest> all = greedy;
      all.insert(all.end(), beam.begin(), beam.end());
      // One by one, then all 96 batched together.
      int gOne = 0, bOne = 0, gBat = 0, bBat = 0;
      double maxScore = 0;
      for (std::size_t i = 0; i < cases.arr.size(); ++i) {
        const Run a = runAll(e, {greedy[i]});
        const Run b = runAll(e, {beam[i]});
        std::vector<int> gi, bi;
        for (const Json& v : cases[i]["greedy"]["ids"].arr) gi.push_back(v.asInt());
        for (const Json& v : cases[i]["beam4"]["ids"].arr) bi.push_back(v.asInt());
        gOne += a.results[0].ids == gi;
        bOne += b.results[0].ids == bi;
        if (b.results[0].ids == bi)
          maxScore = std::max(maxScore, std::fabs(static_cast<double>(b.results[0].score) - cases[i]["beam4"]["score"].num));
        else
          std::printf("  %s %s beam4 differs: case %s\n", compute, graphs ? "graphs" : "eager", cases[i]["id"].str.c_str());
        if (a.results[0].ids != gi) std::printf("  %s %s greedy differs: case %s\n", compute, graphs ? "graphs" : "eager", cases[i]["id"].str.c_str());
      }
      const Run batched = runAll(e, all);
      for (std::size_t i = 0; i < cases.arr.size(); ++i) {
        std::vector<int> gi, bi;
        for (const Json& v : cases[i]["greedy"]["ids"].arr) gi.push_back(v.asInt());
        for (const Json& v : cases[i]["beam4"]["ids"].arr) bi.push_back(v.asInt());
        gBat += batched.results[i].ids == gi;
        bBat += batched.results[cases.arr.size() + i].ids == bi;
      }
      const int n = static_cast<int>(cases.arr.size());
      std::printf("golden %s %-6s: greedy %d/%d one by one, %d/%d batched; beam4 %d/%d one by one, %d/%d batched; "
                  "max |beam score - HF| %.2e\n",
                  compute, graphs ? "graphs" : "eager", gOne, n, gBat, n, bOne, n, bBat, n, maxScore);
      if (std::string(compute) == "f32" && (gOne != n || bOne != n || gBat != n || bBat != n)) ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}

// Translates token-id cases (the golden file's shape: {"cases": [{id, src_ids, forced_bos_id, <mode>: {ids, score}}]},
// written by bench/gpu-flores.ts from FLORES-200 dev with the CPU engine's outputs) through the CUDA engine in each
// compute mode, all cases of a mode submitted at once (continuous batching, as the server does). Prints agreement
// with the CPU ids per compute mode and writes every output as JSON lines {compute, mode, id, ids, score}.
int translateCases(const std::string& dir, const std::string& casesPath, const std::map<std::string, std::string>& fl) {
  const tool::Checkpoint ck = tool::readCheckpoint(dir);
  const Json g = Json::parse(tool::readFile(casesPath));
  const Json& cases = g["cases"];
  const int maxNew = fl.count("new-tokens") ? std::stoi(fl.at("new-tokens")) : 200;
  const std::string computes = fl.count("computes") ? fl.at("computes") : "f32,f16";
  const std::string modes = fl.count("modes") ? fl.at("modes") : "greedy";
  std::ofstream js(fl.count("out") ? fl.at("out") : "translate.jsonl");
  std::stringstream cs(computes);
  std::string compute;
  while (std::getline(cs, compute, ',')) {
    EngineCore e(ck.config, ck.tensors, engineOptions("cuda", compute, 0));
    for (const std::string mode : {"greedy", "beam4"}) {
      if (modes.find(mode) == std::string::npos) continue;
      std::vector<GenerateRequest> reqs;
      for (const Json& c : cases.arr) {
        GenerateRequest r;
        for (const Json& v : c["src_ids"].arr) r.srcIds.push_back(v.asInt());
        r.forcedBosId = c["forced_bos_id"].asInt(-1);
        r.options = decodeOptions(mode == "beam4" ? 4 : 1, maxNew);
        reqs.push_back(r);
      }
      const Run run = runAll(e, reqs);
      int same = 0, expected = 0;
      for (std::size_t i = 0; i < reqs.size(); ++i) {
        const Json& c = cases.arr[i];
        const GenerateResult& res = run.results[i];
        js << "{\"compute\":\"" << compute << "\",\"mode\":\"" << mode << "\",\"id\":\"" << c["id"].str << "\",\"score\":" << res.score
           << ",\"ids\":[";
        for (std::size_t j = 0; j < res.ids.size(); ++j) js << (j ? "," : "") << res.ids[j];
        js << "]}\n";
        if (c.has(mode)) {
          ++expected;
          std::vector<int> want;
          for (const Json& v : c[mode]["ids"].arr) want.push_back(v.asInt());
          same += res.ids == want;
        }
      }
      std::printf("translate %s %s: %zu cases in %.1f s (%d steps, max batch %d, %d preempted); identical to the CPU ids: %d/%d\n",
                  compute.c_str(), mode.c_str(), reqs.size(), run.totalMs / 1000, run.steps, run.maxBatch, run.preempted, same, expected);
    }
  }
  return 0;
}

// Synthetic sources: [src lang] + random ids + </s>, deterministic per (seed, i).
std::vector<int> syntheticSource(int i, int len, int vocab, int langId) {
  std::mt19937 r(1234567u + static_cast<unsigned>(i) * 7919u);
  std::uniform_int_distribution<int> tok(4, std::min(vocab, 250000) - 1);
  std::vector<int> s = {langId};
  for (int j = 0; j < len - 2; ++j) s.push_back(tok(r));
  s.push_back(2);
  return s;
}

int engineCheck(const std::string& dir, int n, int maxNew) {
  const tool::Checkpoint ck = tool::readCheckpoint(dir);
  const int en = ck.config.vocabSize > 250004 ? 250004 : 4, de = ck.config.vocabSize > 250003 ? 250003 : 5;
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < n; ++i) {
    GenerateRequest r;
    r.srcIds = syntheticSource(i, 8 + (i * 5) % 40, ck.config.vocabSize, en);
    r.forcedBosId = de;
    r.options = decodeOptions(i % 2 ? 4 : 1, maxNew);
    reqs.push_back(r);
  }
  int failures = 0;
  EngineOptions co = engineOptions("cpu", "", 4096);
  co.threads = 16;
  EngineCore cpu(ck.config, ck.tensors, co);
  const Run ref = runAll(cpu, reqs);
  auto compare = [&](const char* what, const Run& r, const Run& base, bool mustMatch) {
    int same = 0;
    double maxScore = 0;
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      same += r.results[i].ids == base.results[i].ids;
      if (r.results[i].ids == base.results[i].ids)
        maxScore = std::max(maxScore, std::fabs(static_cast<double>(r.results[i].score) - base.results[i].score));
    }
    std::printf("engine-check %-40s %d/%d sequences identical, max |score diff| %.2e\n", what, same, n, maxScore);
    if (mustMatch && same != n) ++failures;
  };
  {
    EngineCore g(ck.config, ck.tensors, engineOptions("cuda", "f32", 4096));
    compare("cuda f32 (graphs) vs cpu", runAll(g, reqs), ref, false);
    EngineOptions o = engineOptions("cuda", "f32", 4096);
    o.cudaGraphs = false;
    EngineCore ge(ck.config, ck.tensors, o);
    const Run eager = runAll(ge, reqs);
    compare("cuda f32 eager vs cpu", eager, ref, false);
    EngineCore g2(ck.config, ck.tensors, engineOptions("cuda", "f32", 4096));
    compare("cuda f32 graphs vs eager", runAll(g2, reqs), eager, true);
  }
  {
    EngineOptions o = engineOptions("cuda", "f16", 4096);
    o.deterministic = true;
    EngineCore g(ck.config, ck.tensors, o);
    const Run batched = runAll(g, reqs);
    Run alone;
    for (const auto& r : reqs) alone.results.push_back(runAll(g, {r}).results[0]);
    compare("cuda f16 deterministic: batched vs alone", batched, alone, true);
    EngineOptions small = o;
    small.kvBlocks = 40;
    EngineCore gs(ck.config, ck.tensors, small);
    const Run pre = runAll(gs, reqs, 64);
    std::printf("engine-check preemptions with a 40-block pool: %d\n", pre.preempted);
    compare("cuda f16 deterministic: small pool vs big", pre, batched, true);
    EngineCore f(ck.config, ck.tensors, engineOptions("cuda", "f16", 4096));
    compare("cuda f16 (fast) vs cpu f32", runAll(f, reqs), ref, false);
  }
  return failures == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------------------------
// Quantized variants of a checkpoint for the benchmark: Linear weights of the encoder/decoder layers as Q8 (per-row
// int8) or Q4 (g128 min/max with zero points), embeddings / LM head kept F16, as the calibration pipeline keeps them.
// (Plain round-to-nearest: speed does not depend on the calibration.)
std::vector<TensorEntry> quantizedEntries(const tool::Checkpoint& ck, const std::string& kind, const std::string& path) {
  WeightStore ws(ck.tensors);
  std::ofstream f(path, std::ios::binary);
  std::size_t off = 0;
  auto write = [&](const void* p, std::size_t n) {
    f.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    const std::size_t at = off;
    off += n;
    const std::size_t pad = (16 - off % 16) % 16;
    static const char zeros[16] = {};
    f.write(zeros, static_cast<std::streamsize>(pad));
    off += pad;
    return at;
  };
  std::vector<TensorEntry> out;
  for (const TensorEntry& e : ck.tensors) {
    const bool linear = e.shape.size() == 2 && e.name.find(".layers.") != std::string::npos &&
                        e.name.size() > 7 && e.name.compare(e.name.size() - 7, 7, ".weight") == 0 &&
                        e.name.find("layer_norm") == std::string::npos;
    if (!linear) {
      out.push_back(e);
      continue;
    }
    const TensorRef& t = ws.get(e.name, e.shape);
    const int rows = static_cast<int>(e.shape[0]), in = static_cast<int>(e.shape[1]);
    std::vector<float> row(static_cast<std::size_t>(in));
    if (kind == "int8" || kind == "w8a8") {
      std::vector<std::int8_t> q(static_cast<std::size_t>(rows) * in);
      std::vector<float> s(static_cast<std::size_t>(rows));
      for (int r = 0; r < rows; ++r) {
        t.toFloat(static_cast<std::size_t>(r) * in, static_cast<std::size_t>(in), row.data());
        float amax = 0.f;
        for (float v : row) amax = std::max(amax, std::fabs(v));
        const float sc = amax > 0 ? amax / 127.f : 1.f;
        s[static_cast<std::size_t>(r)] = sc;
        for (int k = 0; k < in; ++k)
          q[static_cast<std::size_t>(r) * in + k] = static_cast<std::int8_t>(std::max(-127.f, std::min(127.f, std::nearbyint(row[k] / sc))));
      }
      const std::size_t qa = write(q.data(), q.size()), sa = write(s.data(), s.size() * 4);
      out.push_back(TensorEntry{e.name, path, qa, q.size(), kind == "int8" ? "Q8" : "Q8A8", e.shape});
      out.push_back(TensorEntry{e.name + "_scale", path, sa, s.size() * 4, "F32", {rows}});
    } else {
      const int g = 128, groups = (in + g - 1) / g, k2 = (in + 1) / 2;
      std::vector<std::uint8_t> q(static_cast<std::size_t>(rows) * k2, 0), z(static_cast<std::size_t>(rows) * groups);
      std::vector<std::uint16_t> s(static_cast<std::size_t>(rows) * groups);
      for (int r = 0; r < rows; ++r) {
        t.toFloat(static_cast<std::size_t>(r) * in, static_cast<std::size_t>(in), row.data());
        for (int gi = 0; gi < groups; ++gi) {
          float lo = 0.f, hi = 0.f;
          for (int k = gi * g; k < std::min(in, (gi + 1) * g); ++k) {
            lo = std::min(lo, row[k]);
            hi = std::max(hi, row[k]);
          }
          float sc = (hi - lo) / 15.f;
          if (sc <= 0) sc = 1e-6f;
          const std::uint16_t sh = floatToHalfValue(sc);
          sc = halfToFloat(sh);
          const float zp = std::max(0.f, std::min(15.f, std::nearbyint(-lo / sc)));
          s[static_cast<std::size_t>(r) * groups + gi] = sh;
          z[static_cast<std::size_t>(r) * groups + gi] = static_cast<std::uint8_t>(zp);
          for (int k = gi * g; k < std::min(in, (gi + 1) * g); ++k) {
            const int qv = static_cast<int>(std::max(0.f, std::min(15.f, std::nearbyint(row[k] / sc) + zp)));
            q[static_cast<std::size_t>(r) * k2 + k / 2] |= static_cast<std::uint8_t>(k % 2 ? qv << 4 : qv);
          }
        }
      }
      const std::size_t qa = write(q.data(), q.size()), sa = write(s.data(), s.size() * 2), za = write(z.data(), z.size());
      out.push_back(TensorEntry{e.name, path, qa, q.size(), "Q4G128", e.shape});
      out.push_back(TensorEntry{e.name + "_scale", path, sa, s.size() * 2, "F16", {rows, groups}});
      out.push_back(TensorEntry{e.name + "_zero", path, za, z.size(), "U8", {rows, groups}});
    }
  }
  f.close();
  return out;
}

int bench(const std::string& dir, const std::map<std::string, std::string>& fl) {
  tool::Checkpoint ck = tool::readCheckpoint(dir);
  // Every sequence generates exactly maxNew tokens (no EOS), as the Hugging Face side of the comparison.
  ck.config.eosId = -1;
  ck.config.forcedEosId = -1;
  ck.config.minLength = 0;
  const std::string engine = fl.count("engine") ? fl.at("engine") : "fp16";
  const std::vector<int> batches = intList(fl.count("batches") ? fl.at("batches") : "1,8,32,128");
  const std::string modes = fl.count("modes") ? fl.at("modes") : "greedy,beam4";
  const int srcLen = fl.count("src-len") ? std::stoi(fl.at("src-len")) : 32;
  const int maxNew = fl.count("new-tokens") ? std::stoi(fl.at("new-tokens")) : 64;
  const int reps = fl.count("reps") ? std::stoi(fl.at("reps")) : 2;
  const std::string compute = fl.count("compute") ? fl.at("compute") : "f16";
  const std::string jsonl = fl.count("out") ? fl.at("out") : "";
  const std::string tokensOut = fl.count("tokens") ? fl.at("tokens") : "";
  std::vector<TensorEntry> tensors = ck.tensors;
  if (engine != "fp16") tensors = quantizedEntries(ck, engine, "/tmp/glossa-bench-" + engine + ".bin");
  EngineOptions o = engineOptions(fl.count("device") ? fl.at("device") : "cuda", compute,
                                  fl.count("kv-blocks") ? std::stoi(fl.at("kv-blocks")) : 0);
  if (o.device == "cpu") o.kvBlocks = 8192;
  if (fl.count("no-graphs")) o.cudaGraphs = false;
  const double loadStart = nowMs();
  EngineCore e(ck.config, tensors, o);
  const double loadMs = nowMs() - loadStart;
  const DeviceMemory mem0 = e.backend().memory();
  std::printf("bench engine %s on %s (%s, %s): load %.1f s, %.0f MiB held after load (KV pool %d blocks)\n",
              engine.c_str(), e.backend().deviceName().c_str(), e.backend().name().c_str(), e.precision(), loadMs / 1000,
              mem0.used / 1048576.0, e.kvBlocks());
  std::ofstream js;
  if (!jsonl.empty()) js.open(jsonl, std::ios::app);
  std::ofstream tk;
  if (!tokensOut.empty()) tk.open(tokensOut, std::ios::app);
  const int en = 250004 < ck.config.vocabSize ? 250004 : 4, de = 250003 < ck.config.vocabSize ? 250003 : 5;
  if (fl.count("sources")) {  // the same inputs for the Hugging Face side
    std::ofstream sf(fl.at("sources"));
    const int most = *std::max_element(batches.begin(), batches.end());
    for (int i = 0; i < most; ++i) {
      const std::vector<int> src = syntheticSource(i, srcLen, ck.config.vocabSize, en);
      for (std::size_t j = 0; j < src.size(); ++j) sf << (j ? " " : "") << src[j];
      sf << "\n";
    }
  }
  std::printf("| engine | mode | batch | tok/s | ms/step | TTFT ms | GPU MiB |\n|---|---|---|---|---|---|---|\n");
  for (const std::string mode : {"greedy", "beam4"}) {
    if (modes.find(mode) == std::string::npos) continue;
    for (int B : batches) {
      std::vector<GenerateRequest> reqs;
      for (int i = 0; i < B; ++i) {
        GenerateRequest r;
        r.srcIds = syntheticSource(i, srcLen, ck.config.vocabSize, en);
        r.forcedBosId = de;
        r.options = decodeOptions(mode == "greedy" ? 1 : 4, maxNew);
        reqs.push_back(r);
      }
      runAll(e, reqs);  // warm-up: records the step graphs of this batch size
      double best = 1e30, bestFirst = 0;
      int steps = 0;
      Run last;
      const double t0 = epochMs();
      for (int rep = 0; rep < reps; ++rep) {
        last = runAll(e, reqs);
        if (last.totalMs < best) {
          best = last.totalMs;
          bestFirst = last.firstStepMs;
          steps = last.steps;
        }
      }
      const double t1 = epochMs();
      long long tokens = 0;
      for (const auto& r : last.results) tokens += static_cast<long long>(r.ids.size()) - 1;
      const double tokps = tokens / (best / 1000.0);
      const double msStep = steps > 1 ? (best - bestFirst) / (steps - 1) : best;
      // Memory this run needs: what the engine holds minus the KV pool, plus the KV blocks the run used at its peak.
      const DeviceMemory mem = e.backend().memory();
      const double blockBytes = 2.0 * ck.config.decoderLayers * 16 * ck.config.dModel * e.backend().kvElementBytes();
      const double gpuMiB = (mem.used - (e.kvBlocks() + 1) * blockBytes + last.peakBlocks * blockBytes) / 1048576.0;
      std::printf("| %s | %s | %d | %.0f | %.3f | %.2f | %.0f |\n", engine.c_str(), mode.c_str(), B, tokps, msStep,
                  bestFirst, gpuMiB);
      std::fflush(stdout);
      if (js)
        js << "{\"engine\":\"" << engine << "\",\"mode\":\"" << mode << "\",\"batch\":" << B << ",\"tokens_per_s\":" << tokps
           << ",\"ms_per_step\":" << msStep << ",\"ttft_ms\":" << bestFirst << ",\"gpu_mib\":" << gpuMiB
           << ",\"engine_mib\":" << mem.used / 1048576.0 << ",\"peak_kv_blocks\":" << last.peakBlocks << ",\"tokens\":" << tokens << ",\"reps\":" << reps
           << ",\"t0_ms\":" << static_cast<long long>(t0) << ",\"t1_ms\":" << static_cast<long long>(t1)
           << ",\"compute\":\"" << compute << "\",\"src_len\":" << srcLen << ",\"new_tokens\":" << maxNew << "}\n";
      if (tk)
        for (int i = 0; i < B; ++i) {
          tk << engine << " " << mode << " " << B << " " << i;
          for (int t : last.results[static_cast<std::size_t>(i)].ids) tk << " " << t;
          tk << "\n";
        }
    }
  }
  return 0;
}

// One generate run of `batch` synthetic sources between cudaProfilerStart/Stop (for ncu --profile-from-start off),
// after a warm-up run that records the step graphs; prints the wall time of the profiled run's steps.
int profileRun(const std::string& dir, const std::map<std::string, std::string>& fl) {
  tool::Checkpoint ck = tool::readCheckpoint(dir);
  ck.config.eosId = -1;
  ck.config.forcedEosId = -1;
  const int B = fl.count("batch") ? std::stoi(fl.at("batch")) : 1;
  const int beams = fl.count("beams") ? std::stoi(fl.at("beams")) : 1;
  const int maxNew = fl.count("new-tokens") ? std::stoi(fl.at("new-tokens")) : 3;
  EngineCore e(ck.config, ck.tensors, engineOptions("cuda", fl.count("compute") ? fl.at("compute") : "f16", 20000));
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < B; ++i) {
    GenerateRequest r;
    r.srcIds = syntheticSource(i, 32, ck.config.vocabSize, 250004 < ck.config.vocabSize ? 250004 : 4);
    r.forcedBosId = 250003 < ck.config.vocabSize ? 250003 : 5;
    r.options = decodeOptions(beams, maxNew);
    reqs.push_back(r);
  }
  runAll(e, reqs);
  cudaProfilerStart();
  const Run r = runAll(e, reqs);
  cudaProfilerStop();
  std::printf("profiled batch %d beams %d: %d steps, %.3f ms (first step %.3f ms)\n", B, beams, r.steps, r.totalMs, r.firstStepMs);
  return 0;
}

int probe() {
  int rt = 0, drv = 0;
  cudaRuntimeGetVersion(&rt);
  cudaDriverGetVersion(&drv);
  std::printf("CUDA runtime %d, driver %d\n", rt, drv);
  const std::string why = cudaUnavailableReason();
  if (!why.empty()) {
    std::printf("CUDA not usable: %s\n", why.c_str());
    return 1;
  }
  ThreadPool pool(1);
  BackendSpec s;
  s.device = "cuda";
  auto b = createBackend(s, pool, CpuFeatures::detect());
  const DeviceMemory m = b->memory();
  std::printf("device %s (%s): %.0f MiB total, %.0f MiB free; backend %s\n", b->device().c_str(), b->deviceName().c_str(),
              m.total / 1048576.0, m.free / 1048576.0, b->name().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines reach a log file even if the process dies
  if (argc < 2) {
    std::fprintf(stderr, "usage: glossa_gpu probe|conformance|golden DIR GOLDEN|engine-check DIR|bench DIR [--engine fp16|int8|int4|w8a8] ...|translate DIR CASES.json [--out F]\n");
    return 2;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "probe") return probe();
    if (cmd == "conformance") return conformance();
    if (cmd == "golden" && argc >= 4) return golden(argv[2], argv[3]);
    if (cmd == "engine-check" && argc >= 3) {
      auto f = flags(argc, argv, 3);
      return engineCheck(argv[2], f.count("n") ? std::stoi(f["n"]) : 12, f.count("new-tokens") ? std::stoi(f["new-tokens"]) : 24);
    }
    if (cmd == "bench" && argc >= 3) return bench(argv[2], flags(argc, argv, 3));
    if (cmd == "profile" && argc >= 3) return profileRun(argv[2], flags(argc, argv, 3));
    if (cmd == "translate" && argc >= 4) return translateCases(argv[2], argv[3], flags(argc, argv, 4));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "glossa_gpu %s: %s\n", cmd.c_str(), e.what());
    return 1;
  }
  std::fprintf(stderr, "glossa_gpu: unknown command %s\n", cmd.c_str());
  return 2;
}
