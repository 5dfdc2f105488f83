#!/usr/bin/env python3
"""Independent restatement of the synthetic mBART recipe (README.md) in pure Python (no numpy).

Checks a checkpoint written by synthetic_mbart.cc: the header (names, shapes, offsets in name order) and,
for every tensor, the elements at SAMPLES positions (first, last, and pseudo-random ones; every element with
--all), recomputed here and rounded to fp16 with Python's struct 'e' (IEEE round-half-even), so the C++
integer rounding is checked against an unrelated implementation.

    python3 tools/synthetic-mbart/reference.py DIR [--all] [--samples N]
"""
import json
import struct
import sys

MASK = (1 << 64) - 1
SEED = 0x676C6F7373613530
GOLDEN = 0x9E3779B97F4A7C15


def mix(z):
    z &= MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def kind(name):
    if name == "final_logits_bias":
        return (0, None)
    if "layer_norm" in name or "layernorm" in name:
        return (1, 4) if name.endswith(".weight") else (0, 6)
    if name.endswith(".bias"):
        return (0, 7)
    return (0, 5)


def value(t, i, name):
    mean, amp = kind(name)
    if amp is None:
        return 0.0
    key = mix(SEED + (t + 1) * GOLDEN)
    r = mix(key + (i + 1) * GOLDEN)
    k = (r >> 40) - (1 << 23)
    return mean + k * 2.0 ** -(23 + amp)  # exact in a double


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    d = args[0]
    every = "--all" in args
    samples = int(args[args.index("--samples") + 1]) if "--samples" in args else 64
    path = d + "/model.safetensors"
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        names = sorted(k for k in header if k != "__metadata__")
        offset = 0
        bad = 0
        checked = 0
        for t, name in enumerate(names):
            e = header[name]
            count = 1
            for s in e["shape"]:
                count *= s
            if e["dtype"] != "F16" or e["data_offsets"] != [offset, offset + 2 * count]:
                print("header mismatch:", name, e)
                return 1
            if every:
                idx = range(count)
            else:
                idx = {0, count - 1} | {mix(t * 1000003 + j) % count for j in range(samples)}
            for i in sorted(idx):
                f.seek(base + offset + 2 * i)
                got = f.read(2)
                want = struct.pack("<e", value(t, i, name))
                checked += 1
                if got != want:
                    bad += 1
                    if bad <= 10:
                        print(f"{name}[{i}]: file {got.hex()} reference {want.hex()} ({value(t, i, name)!r})")
            offset += 2 * count
    print(f"{path}: {len(names)} tensors, {checked} elements checked, {bad} different")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
