#!/usr/bin/env bash
# The GPU machine's one script (also `npm run bench:gpu` on any machine with nvcc, a GPU and Python+torch):
#   native/tools/gpu/run-device.sh [STAGE...]      stages: probe build conformance synth check bench hf report golden
#   flores profile sweep (default: everything but golden, flores, profile and sweep). Logs and results go to GPU_OUT (default ./gpu-out); when OUT is set (the device
# tool's folder that comes back), GPU_OUT is /tmp/glossa-gpu-out and the end of the run packs it into
# $OUT/gpu-out.tgz next to $OUT/summary.txt. Needs no Node.js.
#   GOLDEN_MODEL=dir  models/glossa-mini-50 for the golden stage    SYNTH=dir  where the synthetic checkpoint goes
#   BENCH_ARGS="..."  extra glossa_gpu bench flags                  HF_ARGS="..." extra hf_bench.py flags
#   FLORES_CASES=file the cases of bench/gpu-flores.ts prepare (default .dev/flores-gpu/cases.json), FLORES_MODES,
#                     FLORES_HF=0 skips the Hugging Face side
#   BENCH_ENGINES="int8 int4 w8a8"  quantized engines the bench stage measures after fp16 ("" for none)
#   GLOSSA_CUDA_LT=0  GEMMs with a bias without cuBLASLt's epilogue (GEMM + epilogue kernel); the bench stage also
#                     measures fp16 greedy at 32 and 128 that way, side by side (bench-nolt.jsonl)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
if [ -n "${OUT:-}" ]; then out="${GPU_OUT:-/tmp/glossa-gpu-out}"; else out="${GPU_OUT:-$root/gpu-out}"; fi
mkdir -p "$out"
pack() { if [ -n "${OUT:-}" ]; then cp "$out/summary.txt" "$OUT/" 2>/dev/null; tar czf "$OUT/gpu-out.tgz" -C "$out" .; fi; }
trap pack EXIT
synth="${SYNTH:-/tmp/glossa-synthetic-mbart-large-50}"
bin="${GLOSSA_GPU_BIN:-$root/native/build/gpu/glossa_gpu}"
stages="${*:-probe build conformance synth check bench hf report}"
log() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$out/summary.txt"; }
has() { [[ " $stages " == *" $1 "* ]]; }
status=0

if has probe; then
  log "probe"
  { nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit,clocks.max.sm --format=csv; nvcc --version | tail -2;
    python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)';
    ldconfig -p | grep -m3 libcublas; } 2>&1 | tee -a "$out/summary.txt"
fi
if has build; then
  log "build"
  # A carried binary is used when it runs here; else build (16 cores: about a minute).
  if ! { [ -x "$bin" ] && "$bin" probe > "$out/probe.txt" 2>&1; }; then
    bin="$root/native/build/gpu/glossa_gpu"
    ( time "$here/build.sh" "$root/native/build/gpu" ) > "$out/build.txt" 2>&1 || { log "build FAILED"; tail -30 "$out/build.txt"; exit 1; }
    "$bin" probe > "$out/probe.txt" 2>&1
  fi
  tee -a "$out/summary.txt" < "$out/probe.txt"
fi
if has conformance; then
  log "conformance"
  if ! "$bin" conformance > "$out/conformance.txt" 2>&1; then
    status=1
    grep -E "FAIL|conformance:" "$out/conformance.txt" | head -40 | tee -a "$out/summary.txt"
    if [ "${GLOSSA_CUDA_LT:-}" != "0" ]; then
      log "conformance failed: again without cuBLASLt (GLOSSA_CUDA_LT=0), which the rest of the run then uses"
      export GLOSSA_CUDA_LT=0
      GLOSSA_CUDA_LT=0 "$bin" conformance > "$out/conformance-nolt.txt" 2>&1 && status=0
      grep -E "FAIL|conformance:" "$out/conformance-nolt.txt" | head -20 | tee -a "$out/summary.txt"
    fi
  else
    grep -E "FAIL|conformance:" "$out/conformance.txt" | tee -a "$out/summary.txt"
  fi
fi
if has synth || has check || has bench || has profile || has sweep; then
  if [ ! -f "$synth/model.safetensors" ]; then
    log "synthetic mBART-large-50 checkpoint -> $synth"
    "$root/tools/synthetic-mbart/generate.sh" "$synth" > "$out/synth.txt" 2>&1 || { log "synthetic checkpoint FAILED"; cat "$out/synth.txt"; exit 1; }
  fi
fi
if has check; then
  log "engine-check (synthetic mBART-large-50: CUDA vs CPU, graphs, determinism, preemption)"
  "$bin" engine-check "$synth" --n 12 --new-tokens 24 > "$out/engine-check.txt" 2>&1 || status=1
  tee -a "$out/summary.txt" < "$out/engine-check.txt"
fi
if has bench; then
  log "bench (engine)"
  python3 "$here/power.py" "$out/power.csv" & power_pid=$!
  rm -f "$out/bench.jsonl" "$out/tokens.txt"
  "$bin" bench "$synth" --engine fp16 --batches 1,8,32,128 --modes greedy,beam4 --out "$out/bench.jsonl" \
    --sources "$out/sources.txt" --tokens "$out/tokens.txt" ${BENCH_ARGS:-} 2>&1 | tee -a "$out/bench.txt" || status=1
  GLOSSA_CUDA_LT=0 "$bin" bench "$synth" --engine fp16 --batches 32,128 --modes greedy --out "$out/bench-nolt.jsonl" \
    ${BENCH_ARGS:-} 2>&1 | sed 's/^| fp16 /| fp16 (no cuBLASLt) /' | tee -a "$out/bench.txt" || status=1
  for q in ${BENCH_ENGINES-int8 int4 w8a8}; do
    "$bin" bench "$synth" --engine $q --batches 1,32,128 --modes greedy --out "$out/bench.jsonl" ${BENCH_ARGS:-} 2>&1 |
      tee -a "$out/bench.txt" || status=1
  done
  if has hf; then
    log "bench (Hugging Face generate, same checkpoint and inputs)"
    rm -f "$out/hf.jsonl" "$out/hf_tokens.txt"
    python3 "$here/hf_bench.py" --model "$synth" --sources "$out/sources.txt" --out "$out/hf.jsonl" \
      --tokens "$out/hf_tokens.txt" ${HF_ARGS:-} > "$out/hf.txt" 2>&1 || { status=1; tail -20 "$out/hf.txt"; }
  fi
  kill $power_pid 2>/dev/null
fi
if has report; then
  log "report"
  python3 "$here/report.py" "$out/bench.jsonl" "$out/hf.jsonl" "$out/power.csv" | tee "$out/table.md" | tee -a "$out/summary.txt"
  [ -f "$out/hf_tokens.txt" ] && python3 "$here/agree.py" "$out/tokens.txt" fp16 "$out/hf_tokens.txt" hf-default | tee -a "$out/summary.txt"
fi
if has profile; then
  log "profile (ncu kernel times of one short generate run per batch size)"
  ncu_bin="$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)"
  for b in ${PROFILE_BATCHES:-1 32 128}; do
    "$ncu_bin" --clock-control none --profile-from-start off --metrics gpu__time_duration.sum --csv \
      "$bin" profile "$synth" --batch "$b" > "$out/ncu-$b.csv" 2> "$out/ncu-$b.err" || status=1
    grep -h "profiled" "$out/ncu-$b.csv" "$out/ncu-$b.err" | tee -a "$out/summary.txt"
    python3 "$here/ncu_summary.py" "$out/ncu-$b.csv" 2>&1 | tee -a "$out/summary.txt"
  done
fi
if has sweep; then
  log "sweep: streaming kernel vs cuBLAS for the decoder layers (GLOSSA_CUDA_SMALL_LAYER_ROWS)"
  for rows in 0 16 32 64; do
    GLOSSA_CUDA_SMALL_LAYER_ROWS=$rows "$bin" bench "$synth" --engine fp16 --batches 16,32,64,128 --modes greedy --reps 2 2>&1 |
      sed "s/^| fp16 /| fp16 stream<=$rows /" | grep "^| fp16" | tee -a "$out/summary.txt"
  done
fi
if has flores; then
  log "flores (FLORES-200 dev cases: CUDA FP32 / FP16 vs the CPU engine's ids; Hugging Face FP16 on the same ids)"
  cases="${FLORES_CASES:-$root/.dev/flores-gpu/cases.json}"
  "$bin" translate "${GOLDEN_MODEL:-$root/models/glossa-mini-50}" "$cases" --out "$out/flores-gpu.jsonl" \
    --computes f32,f16 --modes "${FLORES_MODES:-greedy}" 2>&1 | tee -a "$out/summary.txt" || status=1
  [ "${FLORES_HF:-1}" = "0" ] || PYTHONUNBUFFERED=1 python3 "$here/hf_translate.py" --model "${GOLDEN_MODEL:-$root/models/glossa-mini-50}" --cases "$cases" \
    --out "$out/flores-hf.jsonl" --modes "${FLORES_MODES:-greedy}" 2>&1 | tee -a "$out/summary.txt" || status=1
fi
if has golden; then
  log "golden (HF goldens through the CUDA engine)"
  "$bin" golden "${GOLDEN_MODEL:-$root/models/glossa-mini-50}" "$root/test/fixtures/golden/golden.json" > "$out/golden.txt" 2>&1 || status=1
  tee -a "$out/summary.txt" < "$out/golden.txt"
fi
log "done (status $status)"
exit $status
