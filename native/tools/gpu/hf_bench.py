#!/usr/bin/env python3
"""Hugging Face side of `npm run bench:gpu` (runs on the GPU machine): transformers `generate` on the same
checkpoint and the same source ids as glossa_gpu bench, fp16, SDPA, in the default (dynamic cache) and the
static-cache configuration (transformers compiles the step), greedy and beam 4, every sequence generating exactly
--new-tokens tokens (EOS off on both sides). Writes one JSON line per configuration; optionally the tokens.
"""
import argparse
import json
import time

import torch
from transformers import AutoModelForSeq2SeqLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--sources", required=True, help="one line of space-separated source ids per sequence")
    ap.add_argument("--batches", default="1,8,32,128")
    ap.add_argument("--beam-batches", default="32")
    ap.add_argument("--static-batches", default="1,32,128")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--forced-bos", type=int, default=250003)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", default="")
    ap.add_argument("--reps", type=int, default=2)
    a = ap.parse_args()
    sources = [[int(t) for t in line.split()] for line in open(a.sources) if line.strip()]
    model = AutoModelForSeq2SeqLM.from_pretrained(a.model, dtype=torch.float16, attn_implementation="sdpa").cuda().eval()
    gc = model.generation_config
    gc.eos_token_id = None
    gc.forced_eos_token_id = None
    gc.max_length = None
    gc.min_length = None
    gc.num_beams = 1
    gc.early_stopping = True
    gc.length_penalty = 1.0
    out = open(a.out, "a")
    tok_out = open(a.tokens, "a") if a.tokens else None

    def run(batch, beams, static):
        src = sources[:batch]
        n = max(len(s) for s in src)
        ids = torch.full((batch, n), 1, dtype=torch.long)
        mask = torch.zeros((batch, n), dtype=torch.long)
        for i, s in enumerate(src):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        ids, mask = ids.cuda(), mask.cuda()
        kw = dict(input_ids=ids, attention_mask=mask, num_beams=beams, do_sample=False,
                  forced_bos_token_id=a.forced_bos, max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens)
        if static:
            kw["cache_implementation"] = "static"

        def timed(**extra):
            torch.cuda.synchronize()
            t = time.perf_counter()
            with torch.inference_mode():
                o = model.generate(**{**kw, **extra})
            torch.cuda.synchronize()
            return o, (time.perf_counter() - t) * 1000

        t_compile = time.perf_counter()
        timed()  # warm-up (static: compiles)
        warm_ms = (time.perf_counter() - t_compile) * 1000
        torch.cuda.reset_peak_memory_stats()
        best, o = None, None
        t0 = time.time() * 1000
        for _ in range(a.reps):
            o, ms = timed()
            best = ms if best is None or ms < best else best
        t1 = time.time() * 1000
        _, first = timed(max_new_tokens=1, min_new_tokens=1)
        new = o.shape[1] - 1
        tokens = batch * new
        rec = {"engine": "hf-static" if static else "hf-default", "mode": "greedy" if beams == 1 else f"beam{beams}",
               "batch": batch, "tokens_per_s": tokens / (best / 1000), "ms_per_step": (best - first) / max(1, new - 1),
               "ttft_ms": first, "gpu_mib": torch.cuda.max_memory_allocated() / 2**20, "tokens": tokens, "reps": a.reps,
               "t0_ms": int(t0), "t1_ms": int(t1), "warmup_ms": warm_ms, "new_tokens": new}
        out.write(json.dumps(rec) + "\n")
        out.flush()
        print(json.dumps(rec), flush=True)
        if tok_out:
            for i in range(batch):
                tok_out.write(" ".join([rec["engine"], rec["mode"], str(batch), str(i)] + [str(int(t)) for t in o[i].tolist()]) + "\n")

    for b in [int(x) for x in a.batches.split(",") if x]:
        run(b, 1, False)
    for b in [int(x) for x in a.beam_batches.split(",") if x]:
        run(b, 4, False)
    for b in [int(x) for x in a.static_batches.split(",") if x]:
        try:
            run(b, 1, True)
        except Exception as e:  # record why the static configuration did not run
            print(json.dumps({"engine": "hf-static", "batch": b, "error": repr(e)[:500]}), flush=True)
            out.write(json.dumps({"engine": "hf-static", "batch": b, "error": repr(e)[:500]}) + "\n")


if __name__ == "__main__":
    main()
