#!/usr/bin/env python3
"""numpy re-statement of transformers' vectorised _beam_search (batch 1, num_beams phantom beams at -1e9,
top 2k candidates, EOS accepted only in the top k, length penalty, early-stopping heuristic), on full
recomputation without a KV cache. Dev tool for checking the native engine's beam search and paged KV cache.

usage: reference_beam.py MODEL_DIR SRC_IDS BOS MAX_NEW BEAMS [LENGTH_PENALTY] [EARLY(1/0)] [NGRAM] [REP]
"""
import json, sys
import numpy as np
sys.argv_saved = list(sys.argv)
sys.argv = sys.argv[:1] + ["x", "1", "0", "1"]
import importlib.util
spec = importlib.util.spec_from_file_location("ref", __file__.replace("reference_beam.py", "reference_mbart.py"))
src = open(spec.origin).read().replace("\nmain()\n", "\n")
ref = {}
exec(compile(src, spec.origin, "exec"), ref)
sys.argv = sys.argv_saved

def processors(lp, ids, bos, max_len, ngram, rep, eos=2):
    lp = lp.copy()
    if rep != 1.0:
        for t in set(ids):
            lp[t] = lp[t] * rep if lp[t] < 0 else lp[t] / rep
    cur = len(ids)
    if ngram > 0 and cur + 1 >= ngram:
        prefix = tuple(ids[cur - ngram + 1:])
        for i in range(cur - ngram + 1):
            if tuple(ids[i:i + ngram - 1]) == prefix:
                lp[ids[i + ngram - 1]] = -np.inf
    if cur == 1:
        lp[:] = -np.inf; lp[bos] = 0
    if cur == max_len - 1:
        lp[:] = -np.inf; lp[eos] = 0
    return lp

def main():
    d = sys.argv[1]; src = [int(x) for x in sys.argv[2].split(",")]; bos = int(sys.argv[3])
    max_new = int(sys.argv[4]); k = int(sys.argv[5])
    lpen = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0
    early = (sys.argv[7] == "1") if len(sys.argv) > 7 else True
    ngram = int(sys.argv[8]) if len(sys.argv) > 8 else 0
    rep = float(sys.argv[9]) if len(sys.argv) > 9 else 1.0
    cfg, w = ref["load"](d)
    enc = ref["encoder"](cfg, w, np.array(src))
    max_len = 1 + max_new
    running = [[2] for _ in range(k)]
    rscores = np.array([0.0] + [-1e9] * (k - 1), dtype=np.float32)
    fin = []  # (score, ids, finished)
    fin_scores = np.full(k, -1e9, dtype=np.float32); fin_seqs = [None] * k; fin_done = np.zeros(k, bool)
    improvable = True
    cur = 1
    while True:
        allc = []
        for b in range(k):
            lg = ref["decoder_logits"](cfg, w, enc, np.array(running[b])).astype(np.float32)
            m = lg.max(); lsm = lg - m - np.float32(np.log(np.exp((lg - m).astype(np.float64)).sum()))
            lsm = processors(lsm.astype(np.float32), running[b], bos, max_len, ngram, rep)
            allc.append(lsm + rscores[b])
        flat = np.concatenate(allc)
        V = len(allc[0])
        order = np.argsort(-flat, kind="stable")[:2 * k]
        cands = [(flat[i], i // V, i % V) for i in order]
        hits = [(t == 2) or (cur + 1 >= max_len) for (_, _, t) in cands]
        # running
        rl = [c[0] + (np.float32(-1e9) if h else 0) for c, h in zip(cands, hits)]
        nxt = np.argsort(-np.array(rl, dtype=np.float32), kind="stable")[:k]
        new_running = [running[cands[i][1]] + [cands[i][2]] for i in nxt]
        new_scores = np.array([rl[i] for i in nxt], dtype=np.float32)
        # finished
        full = fin_done.all() and early
        add_scores = []
        for j, (c, h) in enumerate(zip(cands, hits)):
            s = np.float32(c[0]) / np.float32(cur ** lpen)
            if full: s += np.float32(-1e9)
            if not improvable: s += np.float32(-1e9)
            if not (h and j < k): s += np.float32(-1e9)
            add_scores.append(np.float32(s))
        merged = list(fin_scores) + add_scores
        mseq = fin_seqs + [running[c[1]] + [c[2]] for c in cands]
        mdone = list(fin_done) + [h and j < k for j, h in enumerate(hits)]
        top = np.argsort(-np.array(merged, dtype=np.float32), kind="stable")[:k]
        fin_scores = np.array([merged[i] for i in top], dtype=np.float32)
        fin_seqs = [mseq[i] for i in top]; fin_done = np.array([mdone[i] for i in top])
        running, rscores = new_running, new_scores
        cur += 1
        best = rscores[0] / np.float32((cur - 1) ** lpen)
        worst = np.where(fin_done, fin_scores.min(), np.float32(-1e9))
        improvable = improvable and bool(np.any(best > worst))
        if not improvable or (fin_done.all() and early) or all(hits):
            break
    print(json.dumps({"ids": [int(x) for x in fin_seqs[0]], "score": float(fin_scores[0])}))

main()
