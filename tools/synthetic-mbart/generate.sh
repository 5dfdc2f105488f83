#!/usr/bin/env bash
# Writes the synthetic facebook/mbart-large-50-many-to-many-mmt checkpoint (see README.md) into OUT_DIR
# (default: var/synthetic-mbart-large-50 under the repository root), compiling the generator on first use.
# Needs bash, a C++17 compiler (g++ or c++) and sha256sum; no Node.js, Python or network.
#   tools/synthetic-mbart/generate.sh [OUT_DIR] [--small] [--check]
# --check verifies the sha256 of every written file against SHA256SUMS (exit 1 on a difference).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out=""
small=""
check=""
for a in "$@"; do
  case "$a" in
    --small) small="--small" ;;
    --check) check=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    -*) echo "unknown option $a" >&2; exit 2 ;;
    *) out="$a" ;;
  esac
done
if [ -z "$out" ]; then
  if [ -n "$small" ]; then out="$root/var/synthetic-mbart-small"; else out="$root/var/synthetic-mbart-large-50"; fi
fi
mkdir -p "$out"
cxx="${CXX:-$(command -v g++ || command -v c++ || true)}"
[ -n "$cxx" ] || { echo "no C++ compiler (g++ or c++) found" >&2; exit 1; }
bin_dir="${SYNTHETIC_MBART_BIN_DIR:-$root/var/tools}"
mkdir -p "$bin_dir"
bin="$bin_dir/synthetic_mbart"
if [ ! -x "$bin" ] || [ "$here/synthetic_mbart.cc" -nt "$bin" ]; then
  # -ffp-contract=off: nothing in the generator is floating point, but keep it that way under any compiler.
  "$cxx" -O2 -std=c++17 -ffp-contract=off -o "$bin.tmp.$$" "$here/synthetic_mbart.cc"
  mv -f "$bin.tmp.$$" "$bin"
fi
start=$(date +%s.%N)
"$bin" "$out" $small
end=$(date +%s.%N)
echo "written in $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s: $out"
if [ -n "$check" ]; then
  variant=$([ -n "$small" ] && echo small || echo large-50)
  fail=0
  while read -r sum name v; do
    [ "$v" = "$variant" ] || continue
    got=$(sha256sum "$out/$name" | cut -d' ' -f1)
    if [ "$got" = "$sum" ]; then echo "ok       $name $got"; else echo "MISMATCH $name $got (expected $sum)"; fail=1; fi
  done < <(grep -v '^#' "$here/SHA256SUMS")
  exit $fail
fi
