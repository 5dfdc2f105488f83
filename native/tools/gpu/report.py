#!/usr/bin/env python3
"""Merges glossa_gpu bench and hf_bench.py JSON lines (same machine, same run) into the benchmark table with
ratios against Hugging Face, joules per 1,000 tokens from the power samples, and token agreement."""
import json
import sys
from collections import defaultdict


def load(path):
    rows = []
    try:
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    except FileNotFoundError:
        pass
    return rows


def energy(samples, t0, t1):
    """Joules between t0 and t1 (ms): the energy counter when present, else the integrated power."""
    pts = [s for s in samples if t0 <= s[0] <= t1]
    if len(pts) < 2:
        return None
    if pts[0][2] >= 0 and pts[-1][2] >= 0:
        return (pts[-1][2] - pts[0][2]) / 1000 * (t1 - t0) / (pts[-1][0] - pts[0][0])
    j = 0.0
    for a, b in zip(pts, pts[1:]):
        j += (a[1] + b[1]) / 2 / 1000 * (b[0] - a[0]) / 1000
    return j * (t1 - t0) / (pts[-1][0] - pts[0][0])


def main():
    ours, hf, power = load(sys.argv[1]), load(sys.argv[2]), []
    if len(sys.argv) > 3:
        for line in open(sys.argv[3]):
            p = line.strip().split(",")
            if len(p) == 3:
                power.append((float(p[0]), float(p[1]), float(p[2])))
    hfk = {(r["engine"], r["mode"], r["batch"]): r for r in hf if "error" not in r}
    print("| engine | mode | batch | tok/s | ms/step | TTFT ms | GPU MiB | vs HF default | vs HF static | J/1k tok |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in ours + [r for r in hf if "error" not in r]:
        d = hfk.get(("hf-default", r["mode"], r["batch"]))
        s = hfk.get(("hf-static", r["mode"], r["batch"]))
        e = energy(power, r["t0_ms"], r["t1_ms"]) if power else None
        jpk = f"{e / (r['tokens'] * r['reps']) * 1000:.1f}" if e else "-"
        vs = lambda x: f"{r['tokens_per_s'] / x['tokens_per_s']:.2f}x" if x and not r["engine"].startswith("hf") else "-"
        print(f"| {r['engine']} | {r['mode']} | {r['batch']} | {r['tokens_per_s']:,.0f} | {r['ms_per_step']:.3f} | "
              f"{r['ttft_ms']:.2f} | {r['gpu_mib']:,.0f} | {vs(d)} | {vs(s)} | {jpk} |")
    for r in hf:
        if "error" in r:
            print(f"HF {r['engine']} batch {r['batch']} failed: {r['error']}")


if __name__ == "__main__":
    main()
