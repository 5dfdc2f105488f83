#!/usr/bin/env python3
"""Token agreement between two token dumps (lines: engine mode batch index ids...): per configuration, the share
of sequences that are identical and the share of positions equal up to each sequence's first difference."""
import sys
from collections import defaultdict


def load(path, engine):
    d = {}
    for line in open(path):
        p = line.split()
        if len(p) > 4 and p[0] == engine:
            d[(p[1], int(p[2]), int(p[3]))] = [int(x) for x in p[4:]]
    return d


a, b = load(sys.argv[1], sys.argv[2]), load(sys.argv[3], sys.argv[4])
agg = defaultdict(lambda: [0, 0, 0, 0])
for k, x in a.items():
    if k not in b:
        continue
    y = b[k]
    first = next((i for i, (u, v) in enumerate(zip(x, y)) if u != v), min(len(x), len(y)))
    g = agg[(k[0], k[1])]
    g[0] += 1
    g[1] += x == y
    g[2] += first
    g[3] += max(len(x), len(y))
for (mode, batch), (n, same, prefix, total) in sorted(agg.items()):
    print(f"agreement {sys.argv[2]} vs {sys.argv[4]} {mode} batch {batch}: {same}/{n} sequences identical, "
          f"{prefix / total:.1%} of tokens before the first difference")
