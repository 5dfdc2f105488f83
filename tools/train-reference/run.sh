#!/usr/bin/env bash
# Glossa reference model, end to end, on the GPU machine:   bash tools/train-reference/run.sh
# Before it, on a machine with the corpora:                 python3 tools/train-reference/pack_data.py
# (writes .carry/reference/*.tsv.xz, 21 MiB, which travels to the GPU machine beside the checkout).
# STAGES picks stages (default: all); TRAIN_SECONDS is this invocation's training budget and TOTAL_SECONDS the
# budget over all invocations (training resumes from $CKPT, on the GPU machine's disk, when run again).
# Results: the checkpoint in $MODEL_DIR, golden fixtures and scores beside it; packed into $OUT when OUT is set.
set -euo pipefail
cd "$(dirname "$0")/../.."
STAGES=${STAGES:-tokenizer,train,export,golden,hfcheck,evaluate}
MODEL_ROOT=${MODEL_ROOT:-/tmp/glossa-model}
MODEL_DIR=$MODEL_ROOT/glossa-mini-50
CKPT=${CKPT:-/tmp/glossa-ckpt}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true TRANSFORMERS_VERBOSITY=error
py() { python3 tools/train-reference/train.py "$@" --model-dir "$MODEL_DIR" --ckpt "$CKPT" \
  --golden-out "$MODEL_ROOT/golden.json" --scores-out "$MODEL_ROOT/scores.json"; }
python3 -c "import torch, transformers, tokenizers, sacrebleu; print('torch', torch.__version__, 'transformers', transformers.__version__, 'tokenizers', tokenizers.__version__, 'sacrebleu', sacrebleu.__version__); print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"
for stage in ${STAGES//,/ }; do
  case $stage in
    tokenizer) py tokenizer ;;
    train) py train --seconds "${TRAIN_SECONDS:-900}" --total-seconds "${TOTAL_SECONDS:-900}" ;;
    export) rm -f "$MODEL_DIR"/*.safetensors "$MODEL_DIR"/*.index.json; py export ;;
    golden) py golden
            python3 tools/train-reference/generate_defaults.py "$MODEL_DIR" "$MODEL_ROOT/golden.json" "$MODEL_ROOT/generate-defaults.json" ;;
    # hfcheck compares with Glossa's ids in test/fixtures/hf-tokenizer/cases.json: after a new tokenizer stage, regenerate
    # them where Node runs (npx tsx test/tools/hf-tokenizer-cases.ts --write MODEL_DIR) before this stage.
    hfcheck) python3 tools/train-reference/hf_tokenizer_check.py "$MODEL_DIR" --json "$MODEL_ROOT/hf-tokenizer-check.json" ;;
    evaluate) py evaluate --seconds "${EVAL_SECONDS:-1800}" --limit "${BEAM_TATOEBA_LIMIT:-0}" ;;
    pack) [ -n "${OUT:-}" ] && tar cf - -C "$MODEL_ROOT" glossa-mini-50 | split -b 15M - "$OUT/model.tar.part-" ;;
    results) [ -n "${OUT:-}" ] && for f in golden.json scores.json generate-defaults.json hf-tokenizer-check.json; do [ -f "$MODEL_ROOT/$f" ] && cp "$MODEL_ROOT/$f" "$OUT/"; done ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
