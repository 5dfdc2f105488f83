#!/usr/bin/env bash
# Builds and runs the single-thread kernel microbenchmark (bench/native/quant_gemm.cc).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p var/bench-native
S=native/src
g++ -std=c++17 -O3 -pthread -I"$S" -o var/bench-native/quant_gemm bench/native/quant_gemm.cc \
  $S/core/cpu_features.cc $S/kernels/select.cc $S/kernels/generic.cc $S/kernels/avx2.cc $S/kernels/avx512.cc \
  $S/quant/quant_kernels_generic.cc $S/quant/quant_kernels_avx2.cc $S/quant/quant_kernels_avx512.cc
exec var/bench-native/quant_gemm "$@"
