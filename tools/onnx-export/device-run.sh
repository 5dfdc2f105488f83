#!/usr/bin/env bash
# The GPU machine's side of the ONNX export (one call): unpack the shipped model, export + quantize + validate,
# pack the bundle into <= 15 MiB parts under $OUT. Run from the checkout root with tools/onnx-export/export.py
# (or a copy of it, EXPORT_PY) and the model archive (MODELS_TAR, default .dev/common/models.tar.xz).
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:?}
EXPORT_PY=${EXPORT_PY:-tools/onnx-export/export.py}
MODELS_TAR=${MODELS_TAR:-.dev/common/models.tar.xz}
WORK=$(mktemp -d)
tar xJf "$MODELS_TAR" -C "$WORK" || exit 1
python3 "$EXPORT_PY" --model "$WORK/models/glossa-mini-50" --golden test/fixtures/golden/golden.json --out "$WORK/ox" 2>&1 | tee "$OUT/export.log"
cp "$WORK/ox/validation.json" "$OUT/" 2>/dev/null
cd "$WORK/ox" && ls -la onnx bundle/onnx >> "$OUT/export.log" 2>&1
tar cf - bundle | xz -T0 -6 | split -b 15M -d - "$OUT/bundle.tar.xz."
ls -la "$OUT" >> "$OUT/export.log"
