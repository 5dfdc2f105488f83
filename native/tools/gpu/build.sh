#!/usr/bin/env bash
# Builds glossa_gpu (the native engine + CUDA backend + this tool, no Node.js) into OUT_DIR (default build/gpu):
#   native/tools/gpu/build.sh [OUT_DIR]
# Needs g++ (C++17) and nvcc; GLOSSA_NATIVE_CUDA_ARCHS picks the GPU targets (default 90a). An object is rebuilt when
# its source or any header (native/src, tools/gpu) is newer than it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
native="$(cd "$here/../.." && pwd)"
home="$(sh "$native/cuda.sh" home)"
if [ "${1:-}" = "--one" ]; then  # --one SRC OBJ: compile one file
  src="$2" obj="$3" newest_header="$4"
  if [ -f "$obj" ] && [ "$obj" -nt "$native/$src" ] && [ "$obj" -nt "$newest_header" ]; then exit 0; fi
  case "$src" in
    *.cu) "$home/bin/nvcc" -std=c++17 -O3 $(sh "$native/cuda.sh" archs) -Xcompiler -fPIC -DGLOSSA_WITH_CUDA \
            -I"$native/src" -c "$native/$src" -o "$obj" ;;
    *) g++ -std=c++17 -O3 -fexceptions -pthread -Wall -Wno-unused-parameter -DGLOSSA_WITH_CUDA -I"$native/src" \
         -I"$here" -I"$home/include" -c "$native/$src" -o "$obj" ;;
  esac
  exit 0
fi
out="${1:-$native/build/gpu}"
mkdir -p "$out/obj"
# Engine sources except the N-API binding (addon.cc, quant_binding.cc), the CUDA backend, the tool.
srcs=$(cd "$native" && { find src -name '*.cc' ! -path 'src/binding/*' ! -name 'quant_binding.cc'; \
  find src/backend/cuda -name '*.cu'; echo tools/gpu/glossa_gpu.cc; echo tools/gpu/checkpoint.cc; } | sort)
objs=()
for s in $srcs; do objs+=("$out/obj/$(echo "$s" | tr '/' '_').o"); done
newest_header=$(find "$native/src" "$here" \( -name '*.h' -o -name '*.cuh' \) -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
for s in $srcs; do echo "$s $out/obj/$(echo "$s" | tr '/' '_').o $newest_header"; done |
  xargs -P "${JOBS:-$(nproc)}" -n 3 "$here/build.sh" --one
g++ -o "$out/glossa_gpu" "${objs[@]}" "$home/lib64/libcudart_static.a" -ldl -lrt -pthread
echo "built $out/glossa_gpu"
