#!/usr/bin/env python3
"""Hugging Face `generate()` with the model's own generation_config.json and nothing else (issue 9 item 7).

    python3 tools/train-reference/generate_defaults.py MODEL_DIR GOLDEN_JSON OUT_JSON

For every golden case (test/fixtures/golden/golden.json: source ids and the target language code), runs
`model.generate(input_ids, forced_bos_token_id=code)` on CPU in FP32: num_beams, max_length, early_stopping,
length_penalty... all come from MODEL_DIR/generation_config.json, as a user who loads the model gets them.
Glossa's server, given no decoding options, must answer with the same tokens (test/generation-defaults.test.ts).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import transformers
from transformers import GenerationConfig, MBartForConditionalGeneration


def main() -> int:
    model_dir, golden_path, out_path = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    torch.manual_seed(0)
    model = MBartForConditionalGeneration.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    gen = GenerationConfig.from_pretrained(str(model_dir))
    cases = json.loads(golden_path.read_text(encoding="utf-8"))["cases"]
    out = []
    with torch.no_grad():
        for c in cases:
            ids = torch.tensor([c["src_ids"]], dtype=torch.long)
            seq = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), forced_bos_token_id=c["forced_bos_id"])
            out.append({"id": c["id"], "src_ids": c["src_ids"], "forced_bos_id": c["forced_bos_id"], "ids": [int(x) for x in seq[0]]})
    report = {"generator": f"transformers {transformers.__version__}, torch {torch.__version__}, CPU FP32, "
                           "model.generate(input_ids, forced_bos_token_id=code) with the model's generation_config.json",
              "generation_config": gen.to_diff_dict(), "cases": out}
    out_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    lengths = [len(c["ids"]) for c in out]
    print(f"{out_path}: {len(out)} cases, lengths {min(lengths)}..{max(lengths)}, config {gen.to_diff_dict()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
