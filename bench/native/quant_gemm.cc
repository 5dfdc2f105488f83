// Per-kernel microbenchmark of the quantized / half / float GEMM kernels, single thread, one call of the
// table function per measurement; prints the best of several repetitions (robust to time-slicing on a
// shared machine) in microseconds and GMAC/s, for every kernel set this CPU runs.
//   bash bench/native/run.sh            (builds into var/bench-native/ and runs)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"
#include "quant/quant_kernels.h"

using namespace glossa;

template <typename Fn>
double bestMicros(Fn fn, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  return best;
}

// --check: every quantized kernel of every table this CPU runs must give the generic table's bits.
int check(const CpuFeatures& cpu) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  const int kW = kPanelWidth;
  int bad = 0;
  for (const int M : {1, 2, 3, 5, 9}) {
    for (const int K : {72, 200, 512}) {
     for (const int N : {37, 80}) {  // 3 panels (a partial one), 5 panels (multi-panel tiles and a remainder)
      const int P = (N + kW - 1) / kW, G = K == 200 ? 40 : 64, groups = (K + G - 1) / G;
      const int Kp4 = (K + 3) / 4 * 4, Kp8 = (K + 7) / 8 * 8;
      std::vector<float> x(static_cast<std::size_t>(M) * K), bias(N);
      for (auto& v : x) v = U(rng) * (U(rng) > 0.9f ? 8.f : 1.f);
      for (auto& v : bias) v = U(rng);
      std::vector<std::uint16_t> wh(static_cast<std::size_t>(P) * K * kW);
      for (auto& v : wh) v = floatToHalfValue(U(rng) * 0.1f);
      std::vector<std::int8_t> w8(static_cast<std::size_t>(P) * Kp4 * kW);
      for (auto& v : w8) v = static_cast<std::int8_t>(static_cast<int>(U(rng) * 127));
      std::vector<float> scale(static_cast<std::size_t>(P) * kW);
      for (auto& v : scale) v = 0.001f + 0.01f * std::fabs(U(rng));
      std::vector<std::int32_t> colSum(scale.size(), 0);
      for (int p = 0; p < P; ++p)
        for (int j = 0; j < kW; ++j)
          for (int k = 0; k < Kp4; ++k) colSum[p * kW + j] += w8[((static_cast<std::size_t>(p) * (Kp4 / 4) + k / 4) * kW + j) * 4 + k % 4];
      std::vector<std::uint8_t> w4(static_cast<std::size_t>(P) * ((K + 1) / 2) * kW), w48(static_cast<std::size_t>(P) * (Kp8 / 2) * kW);
      for (auto& v : w4) v = static_cast<std::uint8_t>(rng());
      for (auto& v : w48) v = static_cast<std::uint8_t>(rng());
      std::vector<float> s4(static_cast<std::size_t>(P) * groups * kW), z4(s4.size()), gsum(static_cast<std::size_t>(M) * groups);
      std::vector<std::int32_t> z48(s4.size());
      for (std::size_t i = 0; i < s4.size(); ++i) {
        s4[i] = 0.001f + 0.01f * std::fabs(U(rng));
        z48[i] = static_cast<std::int32_t>(rng() % 16);
        z4[i] = static_cast<float>(z48[i]);
      }
      for (int m = 0; m < M; ++m)
        for (int g = 0; g < groups; ++g) {
          float t = 0;
          for (int k = g * G; k < std::min(K, (g + 1) * G); ++k) t += x[static_cast<std::size_t>(m) * K + k];
          gsum[static_cast<std::size_t>(m) * groups + g] = t;
        }
      auto runAll = [&](const QuantKernelTable& qt) {
        std::vector<std::vector<float>> ys;
        std::vector<float> y(static_cast<std::size_t>(M) * N);
        std::vector<std::int8_t> xq(static_cast<std::size_t>(M) * Kp8);
        std::vector<float> xs(M);
        std::vector<std::int32_t> gs8(static_cast<std::size_t>(M) * groups);
        qt.gemmF16(x.data(), K, M, K, wh.data(), bias.data(), y.data(), N, N, 0, P);
        ys.push_back(y);
        qt.gemmQ8(x.data(), K, M, K, w8.data(), scale.data(), bias.data(), y.data(), N, N, 0, P);  // first K*16 codes
        ys.push_back(y);
        qt.quantizeRows(x.data(), K, M, K, Kp4, xq.data(), xs.data());
        qt.gemmQ8A8(xq.data(), xs.data(), M, Kp4, w8.data(), colSum.data(), scale.data(), bias.data(), y.data(), N, N, 0, P);
        ys.push_back(y);
        qt.gemmQ4(x.data(), K, M, K, G, groups, w4.data(), s4.data(), z4.data(), gsum.data(), bias.data(), y.data(), N, N, 0, P);
        ys.push_back(y);
        qt.quantizeRows(x.data(), K, M, K, Kp8, xq.data(), xs.data());
        for (int m = 0; m < M; ++m)
          for (int g = 0; g < groups; ++g) {
            std::int32_t t = 0;
            for (int k = g * G; k < std::min(K, (g + 1) * G); ++k) t += xq[static_cast<std::size_t>(m) * Kp8 + k];
            gs8[static_cast<std::size_t>(m) * groups + g] = t;
          }
        qt.gemmQ4A8(xq.data(), xs.data(), gs8.data(), M, Kp8, G, groups, w48.data(), s4.data(), z48.data(), bias.data(), y.data(), N, N, 0, P);
        ys.push_back(y);
        return ys;
      };
      const auto ref = runAll(genericQuantKernels());
      const char* names[] = {"f16", "w8a16", "w8a8", "w4a16", "w4a8"};
      for (const char* set : {"avx2", "avx512"}) {
        const KernelTable& kt = selectKernels(cpu, set);
        if (std::strcmp(kt.name, set) != 0) continue;
        const auto got = runAll(selectQuantKernels(cpu, set));
        for (std::size_t i = 0; i < ref.size(); ++i)
          if (std::memcmp(got[i].data(), ref[i].data(), ref[i].size() * 4) != 0) {
            ++bad;
            std::size_t at = 0;
            while (got[i][at] == ref[i][at]) ++at;
            std::printf("MISMATCH %s %s M=%d K=%d N=%d G=%d: y[%zu] %.9g vs generic %.9g\n", set, names[i], M, K, N, G, at,
                        got[i][at], ref[i][at]);
          }
      }
     }
    }
  }
  // dot / axpy / exp / GELU of the float tables
  for (const int n : {1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 200, 16000}) {
    std::vector<float> a(n), b(n), y0(n);
    for (int i = 0; i < n; ++i) {
      a[i] = U(rng) * 12.f;
      b[i] = U(rng);
      y0[i] = U(rng);
    }
    if (n > 5) a[3] = -INFINITY, a[4] = -100.f;
    const KernelTable& g = genericKernels();
    std::vector<float> ex(a), gl(a), ax(y0);
    const float gDot = g.dot(a.data() + (n > 5 ? 5 : 0), b.data(), n > 5 ? n - 5 : n), gSum = g.sumExp(a.data(), n, 3.f);
    const float gIn = g.expInPlace(ex.data(), n, 3.f);
    g.gelu(gl.data(), static_cast<std::size_t>(n));
    g.axpy(0.37f, b.data(), ax.data(), n);
    // weightedSum over 5 rows == zero + 5 axpys, in every table.
    std::vector<std::vector<float>> wrows(5, std::vector<float>(static_cast<std::size_t>(n)));
    std::vector<const float*> wptr;
    const float wts[5] = {0.31f, -1.7f, 2.5e-3f, 0.9f, 1e-7f};
    for (auto& r : wrows) {
      for (float& v : r) v = U(rng);
      wptr.push_back(r.data());
    }
    std::vector<float> ws(static_cast<std::size_t>(n)), wsAxpy(static_cast<std::size_t>(n), 0.f);
    g.weightedSum(wts, wptr.data(), 5, ws.data(), n);
    for (int j = 0; j < 5; ++j) g.axpy(wts[j], wptr[static_cast<std::size_t>(j)], wsAxpy.data(), n);
    // scaledDots over the same 5 rows == dot(q, row) * scale, in every table.
    float sd[5], sdRef[5];
    g.scaledDots(b.data(), wptr.data(), 5, n, 0.125f, sd);
    for (int j = 0; j < 5; ++j) sdRef[j] = g.dot(b.data(), wptr[static_cast<std::size_t>(j)], n) * 0.125f;
    if (std::memcmp(sd, sdRef, sizeof sd) != 0) {
      std::printf("MISMATCH generic scaledDots vs dot * scale n=%d\n", n);
      ++bad;
    }
    if (std::memcmp(ws.data(), wsAxpy.data(), 4 * static_cast<std::size_t>(n)) != 0) {
      std::printf("MISMATCH generic weightedSum vs zero + axpy n=%d\n", n);
      ++bad;
    }
    for (const char* set : {"avx2", "avx512"}) {
      const KernelTable& kt = selectKernels(cpu, set);
      if (std::strcmp(kt.name, set) != 0) continue;
      std::vector<float> ex2(a), gl2(a), ax2(y0);
      const float d2 = kt.dot(a.data() + (n > 5 ? 5 : 0), b.data(), n > 5 ? n - 5 : n), s2 = kt.sumExp(a.data(), n, 3.f);
      const float i2 = kt.expInPlace(ex2.data(), n, 3.f);
      kt.gelu(gl2.data(), static_cast<std::size_t>(n));
      kt.axpy(0.37f, b.data(), ax2.data(), n);
      std::vector<float> ws2(static_cast<std::size_t>(n));
      kt.weightedSum(wts, wptr.data(), 5, ws2.data(), n);
      float sd2[5];
      kt.scaledDots(b.data(), wptr.data(), 5, n, 0.125f, sd2);
      const bool ok = std::memcmp(sd2, sd, sizeof sd) == 0 && std::memcmp(ws2.data(), ws.data(), 4 * static_cast<std::size_t>(n)) == 0 && std::memcmp(&d2, &gDot, 4) == 0 && std::memcmp(&s2, &gSum, 4) == 0 && std::memcmp(&i2, &gIn, 4) == 0 &&
                      std::memcmp(ex2.data(), ex.data(), 4 * n) == 0 && std::memcmp(gl2.data(), gl.data(), 4 * n) == 0 &&
                      std::memcmp(ax2.data(), ax.data(), 4 * n) == 0;
      if (!ok) {
        ++bad;
        std::printf("MISMATCH %s float kernels n=%d: dot %d sumExp %d expInPlace %d/%d gelu %d axpy %d\n", set, n, d2 == gDot, s2 == gSum, i2 == gIn,
                    std::memcmp(ex2.data(), ex.data(), 4 * n) == 0, std::memcmp(gl2.data(), gl.data(), 4 * n) == 0, std::memcmp(ax2.data(), ax.data(), 4 * n) == 0);
      }
    }
  }
  std::printf("%s\n", bad ? "kernel check FAILED" : "kernel check: every table gives the generic bits");
  return bad ? 1 : 0;
}

int main(int argc, char** argv) {
  const CpuFeatures cpu = CpuFeatures::detect();
  if (argc > 1 && std::strcmp(argv[1], "--check") == 0) return check(cpu);
  const int reps = argc > 1 ? std::atoi(argv[1]) : 30;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  struct Shape { int M, K, N; };
  const Shape shapes[] = {{1, 512, 2048}, {1, 512, 16000}, {8, 512, 2048}, {32, 512, 2048}, {32, 2048, 512}, {32, 512, 16000}};
  const int kW = kPanelWidth;
  for (const char* set : {"avx512", "avx2", "generic"}) {
    const KernelTable& kt = selectKernels(cpu, set);
    if (std::strcmp(kt.name, set) != 0) continue;
    const QuantKernelTable& qt = selectQuantKernels(cpu, set);
    std::printf("kernel set %s (quant %s)\n", kt.name, qt.name);
    std::printf("%-8s %5s %5s %6s %10s %8s\n", "kernel", "M", "K", "N", "best us", "GMAC/s");
    for (const Shape& s : shapes) {
      if (std::strcmp(set, "avx512") != 0 && s.M * s.N > 8 * 2048) continue;
      const int M = s.M, K = s.K, N = s.N, P = (N + kW - 1) / kW;
      std::vector<float> x(static_cast<std::size_t>(M) * K), y(static_cast<std::size_t>(M) * N), bias(N);
      for (auto& v : x) v = U(rng);
      for (auto& v : bias) v = U(rng);
      std::vector<float> wf(static_cast<std::size_t>(P) * K * kW);
      for (auto& v : wf) v = U(rng) * 0.05f;
      std::vector<std::uint16_t> wh(wf.size());
      for (std::size_t i = 0; i < wf.size(); ++i) wh[i] = floatToHalfValue(wf[i]);
      const int Kp4 = (K + 3) / 4 * 4;
      std::vector<std::int8_t> w8(static_cast<std::size_t>(P) * Kp4 * kW);
      for (auto& v : w8) v = static_cast<std::int8_t>(static_cast<int>(U(rng) * 127));
      std::vector<float> scale(static_cast<std::size_t>(P) * kW, 0.01f);
      std::vector<std::int32_t> colSum(static_cast<std::size_t>(P) * kW, 0);
      std::vector<std::int8_t> xq(static_cast<std::size_t>(M) * Kp4);
      std::vector<float> xs(M);
      const int G = 128, groups = (K + G - 1) / G;
      std::vector<std::uint8_t> w4(static_cast<std::size_t>(P) * ((K + 1) / 2) * kW);
      for (auto& v : w4) v = static_cast<std::uint8_t>(rng());
      std::vector<float> s4(static_cast<std::size_t>(P) * groups * kW, 0.01f), z4(s4.size(), 8.f), gsum(static_cast<std::size_t>(M) * groups, 1.f);
      const double macs = static_cast<double>(M) * K * N;
      auto row = [&](const char* name, double us) { std::printf("%-8s %5d %5d %6d %10.1f %8.1f\n", name, M, K, N, us, macs / us / 1e3); };
      row("f32", bestMicros([&] { kt.gemmPanels(x.data(), K, M, K, wf.data(), bias.data(), y.data(), N, N, 0, P); }, reps));
      row("f16", bestMicros([&] { qt.gemmF16(x.data(), K, M, K, wh.data(), bias.data(), y.data(), N, N, 0, P); }, reps));
      row("w8a16", bestMicros([&] { qt.gemmQ8(x.data(), K, M, K, w8.data(), scale.data(), bias.data(), y.data(), N, N, 0, P); }, reps));
      row("w8a8", bestMicros([&] {
        qt.quantizeRows(x.data(), K, M, K, Kp4, xq.data(), xs.data());
        qt.gemmQ8A8(xq.data(), xs.data(), M, Kp4, w8.data(), colSum.data(), scale.data(), bias.data(), y.data(), N, N, 0, P);
      }, reps));
      {
        const int Kp8 = (K + 7) / 8 * 8;
        std::vector<std::int8_t> xq8(static_cast<std::size_t>(M) * Kp8);
        std::vector<std::int32_t> z8(s4.size(), 8), gs8(static_cast<std::size_t>(M) * groups);
        std::vector<std::uint8_t> w48(static_cast<std::size_t>(P) * (Kp8 / 2) * kW);
        for (auto& v : w48) v = static_cast<std::uint8_t>(rng());
        row("w4a8", bestMicros([&] {
          qt.quantizeRows(x.data(), K, M, K, Kp8, xq8.data(), xs.data());
          for (int m = 0; m < M; ++m)
            for (int g = 0; g < groups; ++g) {
              std::int32_t t = 0;
              for (int k = g * G; k < std::min(K, (g + 1) * G); ++k) t += xq8[static_cast<std::size_t>(m) * Kp8 + k];
              gs8[static_cast<std::size_t>(m) * groups + g] = t;
            }
          qt.gemmQ4A8(xq8.data(), xs.data(), gs8.data(), M, Kp8, G, groups, w48.data(), s4.data(), z8.data(), bias.data(), y.data(), N, N, 0, P);
        }, reps));
      }
      row("w4a16", bestMicros([&] {
        qt.gemmQ4(x.data(), K, M, K, G, groups, w4.data(), s4.data(), z4.data(), gsum.data(), bias.data(), y.data(), N, N, 0, P);
      }, reps));
    }
  }
  return 0;
}
