#!/bin/sh
# Build-time CUDA detection for binding.gyp (and tools/gpu): `cuda.sh enabled` prints 1 when nvcc is found and
# GLOSSA_NATIVE_CUDA is not "off" (the CUDA backend is then compiled into the addon), else 0; `cuda.sh home` prints
# the CUDA toolkit folder; `cuda.sh archs` prints nvcc's -gencode flags (GLOSSA_NATIVE_CUDA_ARCHS, default "90a":
# H100/H200). GLOSSA_NATIVE_* variables are part of the install step's build fingerprint (native/build.mjs).
mode="$1"
nvcc_path=$(command -v nvcc 2>/dev/null)
home="${CUDA_HOME:-}"
if [ -z "$home" ]; then
  for d in /usr/local/cuda "$(dirname "$(dirname "$(readlink -f "$nvcc_path" 2>/dev/null || echo /x/x)")")"; do
    if [ -f "$d/include/cuda_runtime.h" ]; then home="$d"; break; fi
  done
fi
case "$mode" in
  enabled)
    if [ "${GLOSSA_NATIVE_CUDA:-auto}" != "off" ] && [ -n "$nvcc_path" ] && [ -n "$home" ] && [ -f "$home/lib64/libcudart_static.a" ]; then
      echo 1
    else
      echo 0
    fi ;;
  home) echo "${home:-/usr/local/cuda}" ;;
  archs)
    for a in ${GLOSSA_NATIVE_CUDA_ARCHS:-90a}; do printf -- '-gencode=arch=compute_%s,code=sm_%s ' "$a" "$a"; done; echo ;;
  *) echo "usage: cuda.sh enabled|home|archs" >&2; exit 2 ;;
esac
