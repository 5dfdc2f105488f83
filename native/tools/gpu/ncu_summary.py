#!/usr/bin/env python3
"""Sums ncu --csv kernel durations (gpu__time_duration.sum) by kernel name: where a decode step's GPU time goes."""
import csv
import sys
from collections import defaultdict

rows = list(csv.reader(l for l in open(sys.argv[1]) if l.startswith('"')))
head = rows[0]
ki, vi = head.index("Kernel Name"), head.index("Metric Value")
tot = defaultdict(lambda: [0.0, 0])
for r in rows[1:]:
    if len(r) <= vi:
        continue
    try:
        v = float(r[vi].replace(",", ""))
    except ValueError:
        continue
    full = r[ki].replace("(anonymous namespace)::", "").replace("<unnamed>::", "").removeprefix("void ")
    name = full.split("(")[0].split("<")[0][:60]
    tot[name][0] += v
    tot[name][1] += 1
all_ns = sum(v for v, _ in tot.values())
print(f"{sys.argv[1]}: {sum(n for _, n in tot.values())} kernels, {all_ns / 1e6:.3f} ms of kernel time")
for name, (v, n) in sorted(tot.items(), key=lambda x: -x[1][0])[:14]:
    print(f"  {v / 1e6:8.3f} ms {100 * v / all_ns:5.1f}%  {n:5d}x  {name}")
