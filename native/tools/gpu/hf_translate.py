#!/usr/bin/env python3
"""Hugging Face `generate` on the token-id cases of bench/gpu-flores.ts (issue 15 item 4: FP16 token agreement).

  hf_translate.py --model DIR --cases cases.json --out hf.jsonl [--dtype float16] [--batch 64] [--modes greedy]

Same ids as the Glossa engines: the cases' source ids (attention mask over the real tokens, padding on the right),
forced_bos_token_id per target language, max_new_tokens from the cases file (200), greedy / beam 4 with
length_penalty 1.0 and early_stopping as generation_config says. Writes JSON lines {compute: "hf-f16", mode, id,
ids} with the padding after </s> removed.
"""
import argparse
import json
import sys
import time

import torch
from transformers import AutoModelForSeq2SeqLM


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", default="float16")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--modes", default="greedy")
    a = ap.parse_args()
    data = json.load(open(a.cases))
    cases = data["cases"]
    max_new = int(data.get("decode", {}).get("maxNewTokens", 200))
    dtype = getattr(torch, a.dtype)
    tag = {"float16": "hf-f16", "bfloat16": "hf-bf16", "float32": "hf-f32"}[a.dtype]
    model = AutoModelForSeq2SeqLM.from_pretrained(a.model, dtype=dtype, attn_implementation="sdpa").cuda().eval()
    pad = model.config.pad_token_id
    with open(a.out, "w") as out:
        for mode in a.modes.split(","):
            beams = 4 if mode == "beam4" else 1
            t0 = time.time()
            groups = {}
            for c in cases:
                groups.setdefault(c["forced_bos_id"], []).append(c)
            for bos, group in groups.items():
                group = sorted(group, key=lambda c: len(c["src_ids"]))
                for i in range(0, len(group), a.batch):
                    chunk = group[i : i + a.batch]
                    width = max(len(c["src_ids"]) for c in chunk)
                    ids = torch.full((len(chunk), width), pad, dtype=torch.long)
                    mask = torch.zeros((len(chunk), width), dtype=torch.long)
                    for r, c in enumerate(chunk):
                        ids[r, : len(c["src_ids"])] = torch.tensor(c["src_ids"])
                        mask[r, : len(c["src_ids"])] = 1
                    with torch.inference_mode():
                        seq = model.generate(input_ids=ids.cuda(), attention_mask=mask.cuda(), forced_bos_token_id=bos,
                                             num_beams=beams, do_sample=False, max_new_tokens=max_new,
                                             length_penalty=1.0, early_stopping=True)
                    for r, c in enumerate(chunk):
                        row = [int(x) for x in seq[r].tolist()]
                        # Drop the padding after </s> (the decoder start 2 at position 0 is kept, as the engine does).
                        while len(row) > 1 and row[-1] == pad:
                            row.pop()
                        out.write(json.dumps({"compute": tag, "mode": mode, "id": c["id"], "ids": row}) + "\n")
            print(f"hf {tag} {mode}: {len(cases)} cases in {time.time() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
