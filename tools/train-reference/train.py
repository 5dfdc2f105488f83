#!/usr/bin/env python3
"""Glossa's reference mBART model: tokenizer, training, export, golden outputs and evaluation.

Runs on the GPU machine (PyTorch, transformers, tokenizers, sacrebleu). Stages, in order:
  tokenizer  train a Unigram tokenizer with the mBART-50 layout (<s>=0 <pad>=1 </s>=2 <unk>=3, language codes, <mask>)
  train      train MBartForConditionalGeneration on every en<->xx direction, resumable from --ckpt
  export     write the Hugging Face checkpoint (fp16 safetensors, sharded under 16 MiB) to --model-dir
  golden     Hugging Face greedy and beam-4 outputs (CPU, FP32) for the self-written golden cases
  evaluate   BLEU and chrF++ (sacrebleu) per direction on FLORES-200 dev and the Tatoeba test sets
Checks beside it (run.sh stages): hf_tokenizer_check.py (AutoTokenizer gives Glossa's ids) and
generate_defaults.py (Hugging Face generate() with the model's own generation_config.json).

Every stage prints progress; `run.sh` chains them with time budgets.
"""
from __future__ import annotations

import argparse
import json
import lzma
import math
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hf_tokenizer_check import embed_added_tokens  # beside this file (no dependencies)

LANGS = ["en", "zh", "ar", "ru", "de", "es", "fr", "hi", "sw", "vi"]
CODES = {"en": "en_XX", "zh": "zh_CN", "ar": "ar_AR", "ru": "ru_RU", "de": "de_DE", "es": "es_XX",
         "fr": "fr_XX", "hi": "hi_IN", "sw": "sw_KE", "vi": "vi_VN"}
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
BOS, PAD, EOS, UNK = 0, 1, 2, 3

# Model shape: chosen so the fp16 checkpoint stays under 64 MiB (about 32.6M parameters).
ARCH = dict(vocab=16000, d_model=512, heads=8, ffn=2048, enc_layers=5, dec_layers=2, max_positions=256)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def read_train(data_dir: Path) -> list[tuple[str, str, str]]:
    rows = []
    with lzma.open(data_dir / "train.tsv.xz", "rt", encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                rows.append((parts[0], parts[1], parts[2]))
    return rows


def read_eval(data_dir: Path) -> dict[tuple[str, str], list[tuple[str, str]]]:
    sets: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    with lzma.open(data_dir / "eval.tsv.xz", "rt", encoding="utf-8") as f:
        for line in f:
            name, pair, _, en, xx = line.rstrip("\n").split("\t")
            sets[(name, pair.split("-")[1])].append((en, xx))
    return sets


# ----------------------------------------------------------------------------------------------------------- tokenizer
def train_tokenizer(rows, out: Path, per_lang: int, seed: int) -> None:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    rng = random.Random(seed)
    by_lang: dict[str, list[str]] = defaultdict(list)
    for lang, en, xx in rows:
        by_lang[lang].append(xx)
        by_lang["en"].append(en)
    sample: list[str] = []
    for lang in LANGS:
        texts = list(dict.fromkeys(by_lang[lang]))
        rng.shuffle(texts)
        sample += texts[:per_lang]
        log(f"tokenizer sample {lang}: {min(per_lang, len(texts))} of {len(texts)} distinct sentences")
    rng.shuffle(sample)

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Replace(Regex("[ \t\r\n]+"), " "), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    added = [CODES[l] for l in LANGS] + ["<mask>"]
    trainer = trainers.UnigramTrainer(
        vocab_size=ARCH["vocab"] - len(added), special_tokens=SPECIALS, unk_token="<unk>",
        shrinking_factor=0.75, max_piece_length=16, n_sub_iterations=2, show_progress=False)
    t0 = time.time()
    tok.train_from_iterator(sample, trainer=trainer, length=len(sample))
    tok.add_special_tokens(added)
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i, f"{s} is not id {i}"
    en_id = tok.token_to_id("en_XX")
    tok.post_processor = processors.TemplateProcessing(
        single="en_XX $A </s>", pair="en_XX $A $B </s>", special_tokens=[("en_XX", en_id), ("</s>", EOS)])
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    # transformers 5 rebuilds MBart50Tokenizer from the Unigram vocabulary alone: the language codes and <mask> must
    # be vocabulary entries too (same ids), or it shifts every piece by one (hf_tokenizer_check.py explains).
    path = out / "tokenizer.json"
    path.write_text(json.dumps(embed_added_tokens(json.loads(path.read_text(encoding="utf-8"))), ensure_ascii=False,
                               indent=2), encoding="utf-8")
    ids = {c: tok.token_to_id(c) for c in added}
    log(f"tokenizer: {tok.get_vocab_size()} entries in {time.time() - t0:.0f}s; added ids {ids}")


def load_tokenizer(model_dir: Path):
    from tokenizers import Tokenizer
    return Tokenizer.from_file(str(model_dir / "tokenizer.json"))


def encode_source(tok, text: str, lang: str, max_tokens: int = 1024) -> list[int]:
    pieces = tok.encode(text, add_special_tokens=False).ids[: max_tokens - 2]
    return [tok.token_to_id(CODES[lang])] + pieces + [EOS]


# ----------------------------------------------------------------------------------------------------------- model
def make_config(vocab_size: int, code_ids: dict[str, int]):
    from transformers import MBartConfig
    return MBartConfig(
        vocab_size=vocab_size, d_model=ARCH["d_model"],
        encoder_layers=ARCH["enc_layers"], decoder_layers=ARCH["dec_layers"],
        encoder_attention_heads=ARCH["heads"], decoder_attention_heads=ARCH["heads"],
        encoder_ffn_dim=ARCH["ffn"], decoder_ffn_dim=ARCH["ffn"],
        max_position_embeddings=ARCH["max_positions"], activation_function="gelu",
        dropout=0.1, attention_dropout=0.0, activation_dropout=0.0, scale_embedding=True,
        pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS, decoder_start_token_id=EOS,
        forced_eos_token_id=EOS, tie_word_embeddings=True, init_std=0.02)


# ----------------------------------------------------------------------------------------------------------- data
class Corpus:
    """All training examples as padded int32 tensors resident on the GPU; batches are gathered by index."""

    def __init__(self, rows, tok, max_len: int, device, temperature: float):
        codes = {l: tok.token_to_id(CODES[l]) for l in LANGS}
        t0 = time.time()
        en_ids = [e.ids for e in tok.encode_batch([r[1] for r in rows], add_special_tokens=False)]
        xx_ids = [e.ids for e in tok.encode_batch([r[2] for r in rows], add_special_tokens=False)]
        log(f"tokenized {len(rows)} pairs in {time.time() - t0:.0f}s")
        srcs, tgts, langs = [], [], []
        dropped = 0
        for (lang, _, _), e, x in zip(rows, en_ids, xx_ids):
            if len(e) + 2 > max_len or len(x) + 2 > max_len or len(e) == 0 or len(x) == 0:
                dropped += 1
                continue
            if max(len(e), len(x)) > 12 and max(len(e), len(x)) > 3.5 * min(len(e), len(x)):
                dropped += 1
                continue
            for (s_l, s), (t_l, t) in (((("en", e), (lang, x))), (((lang, x), ("en", e)))):
                srcs.append([codes[s_l]] + s + [EOS])
                tgts.append([codes[t_l]] + t + [EOS])  # labels; decoder input = [EOS] + labels[:-1]
                langs.append(lang)
        log(f"examples: {len(srcs)} (both directions), dropped pairs: {dropped}")
        n = len(srcs)
        self.src_len = np.array([len(s) for s in srcs], dtype=np.int32)
        self.tgt_len = np.array([len(t) for t in tgts], dtype=np.int32)
        src = np.full((n, max_len), PAD, dtype=np.int32)
        tgt = np.full((n, max_len), PAD, dtype=np.int32)
        for i, (s, t) in enumerate(zip(srcs, tgts)):
            src[i, : len(s)] = s
            tgt[i, : len(t)] = t
        self.src = torch.from_numpy(src).to(device)
        self.tgt = torch.from_numpy(tgt).to(device)
        self.langs = np.array(langs)
        counts = {l: int((self.langs == l).sum()) for l in LANGS if l != "en"}
        top = max(counts.values())
        # Temperature sampling: a language with n examples is repeated (top / n) ** (1 - 1/T) times per epoch.
        self.repeat = {l: (top / c) ** (1 - 1 / temperature) for l, c in counts.items()}
        log("examples per language (x2 directions): " + ", ".join(f"{l}={c}" for l, c in counts.items()))
        log("repeats per epoch: " + ", ".join(f"{l}={r:.2f}" for l, r in self.repeat.items()))
        self.by_lang = {l: np.nonzero(self.langs == l)[0] for l in counts}

    def epoch_batches(self, rng: np.random.Generator, max_tokens: int) -> list[np.ndarray]:
        parts = []
        for l, members in self.by_lang.items():
            r = self.repeat[l]
            parts += [members] * int(r)
            extra = int((r - int(r)) * len(members))
            if extra:
                parts.append(rng.choice(members, size=extra, replace=False))
        idx = np.concatenate(parts)
        lens = np.maximum(self.src_len[idx], self.tgt_len[idx])
        order = np.lexsort((rng.random(len(idx)), lens))
        idx, lens = idx[order], lens[order]
        batches = []
        for group in np.split(idx, np.flatnonzero(np.diff(lens)) + 1):
            size = max(1, max_tokens // int(max(self.src_len[group[0]], self.tgt_len[group[0]])))
            batches += [group[i:i + size] for i in range(0, len(group), size)]
        rng.shuffle(batches)
        return batches

    def batch(self, ids: np.ndarray):
        t = torch.from_numpy(ids.astype(np.int64)).to(self.src.device)
        s_len = int(self.src_len[ids].max())
        t_len = int(self.tgt_len[ids].max())
        src = self.src.index_select(0, t)[:, :s_len].long()
        labels = self.tgt.index_select(0, t)[:, :t_len].long()
        dec_in = torch.cat([torch.full_like(labels[:, :1], EOS), labels[:, :-1]], dim=1)
        dec_in = dec_in.masked_fill(dec_in == PAD, PAD)
        return src, src.ne(PAD), dec_in, labels


# ----------------------------------------------------------------------------------------------------------- train
def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))


def train(args) -> None:
    from transformers import MBartForConditionalGeneration

    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    tok = load_tokenizer(args.model_dir)
    code_ids = {l: tok.token_to_id(CODES[l]) for l in LANGS}
    config = make_config(tok.get_vocab_size(), code_ids)
    torch.manual_seed(args.seed)
    model = MBartForConditionalGeneration(config).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f}M parameters, attention={getattr(config, '_attn_implementation', '?')}")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-8,
                            weight_decay=0.01, fused=True)
    ckpt_path = args.ckpt / "state.pt"
    step, total_steps, epoch, gpu_seconds = 0, 0, 0, 0.0
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, total_steps, epoch, gpu_seconds = state["step"], state["total_steps"], state["epoch"], state["gpu_seconds"]
        log(f"resumed at step {step}/{total_steps}, epoch {epoch}, {gpu_seconds:.0f}s trained so far")
    rows = read_train(args.data)
    corpus = Corpus(rows, tok, args.max_len, device, args.temperature)
    del rows
    rng = np.random.default_rng(args.seed + epoch)
    model.train()
    t_start = time.time()
    deadline = t_start + args.seconds
    tokens_done, t_window, first_step, t_mark = 0, time.time(), step, 0.0
    bias = getattr(model, "final_logits_bias", None)
    finished = False
    while not finished:
        batches = corpus.epoch_batches(rng, args.max_tokens)
        log(f"epoch {epoch}: {len(batches)} batches")
        for ids in batches:
            src, mask, dec_in, labels = corpus.batch(ids)
            lr = lr_at(step, total_steps or 10**9, args.lr, args.warmup)
            for g in opt.param_groups:
                g["lr"] = lr
            with torch.autocast("cuda", dtype=torch.bfloat16):
                hidden = model.model(input_ids=src, attention_mask=mask, decoder_input_ids=dec_in,
                                     use_cache=False).last_hidden_state
                logits = model.lm_head(hidden)
                if bias is not None:
                    logits = logits + bias
            loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=PAD,
                                   label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            tokens_done += labels.ne(PAD).sum() + mask.sum()
            if total_steps == 0 and step == first_step + 100:
                torch.cuda.synchronize()
                t_mark = time.time()
            if total_steps == 0 and step == first_step + args.calibrate_steps:
                torch.cuda.synchronize()
                rate = (args.calibrate_steps - 100) / (time.time() - t_mark)
                remaining = args.total_seconds - gpu_seconds - (time.time() - t_start)
                total_steps = step + int(rate * remaining)
                log(f"measured {rate:.1f} steps/s: schedule set to {total_steps} steps")
            if step % 200 == 0:
                now = time.time()
                log(f"step {step}/{total_steps} epoch {epoch} loss {loss.item():.3f} lr {lr:.2e} "
                    f"{float(tokens_done) / (now - t_window) / 1e3:.0f}k tok/s")
                tokens_done, t_window = 0, now
            if (total_steps and step >= total_steps) or time.time() > deadline:
                finished = True
                break
        else:
            epoch += 1
    torch.cuda.synchronize()
    gpu_seconds += time.time() - t_start
    args.ckpt.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "total_steps": total_steps,
                "epoch": epoch + 1, "gpu_seconds": gpu_seconds}, ckpt_path)
    (args.ckpt / "config.json").write_text(config.to_json_string())
    log(f"saved checkpoint at step {step}/{total_steps}; training time so far {gpu_seconds:.0f}s")


def export(args) -> None:
    from transformers import GenerationConfig, MBartForConditionalGeneration

    tok = load_tokenizer(args.model_dir)
    config = make_config(tok.get_vocab_size(), {})
    state = torch.load(args.ckpt / "state.pt", map_location="cpu", weights_only=False)
    model = MBartForConditionalGeneration(config)
    model.load_state_dict(state["model"])
    model = model.to(torch.float16)
    model.generation_config = GenerationConfig(
        bos_token_id=BOS, pad_token_id=PAD, eos_token_id=EOS, decoder_start_token_id=EOS,
        forced_eos_token_id=EOS, num_beams=4, early_stopping=True, max_length=200)
    model.save_pretrained(str(args.model_dir), safe_serialization=True, max_shard_size=16 * 1024 * 1024 - 65536)
    (args.model_dir / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "MBart50Tokenizer", "model_max_length": ARCH["max_positions"],
        "src_lang": "en_XX", "tgt_lang": "de_DE", "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
        "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
        "additional_special_tokens": [CODES[l] for l in LANGS]}, indent=2) + "\n")
    (args.model_dir / "training_state.json").write_text(json.dumps({
        "steps": state["step"], "scheduled_steps": state["total_steps"], "gpu_seconds": round(state["gpu_seconds"]),
        "parameters": sum(p.numel() for p in model.parameters())}, indent=2) + "\n")
    size = sum(p.stat().st_size for p in args.model_dir.iterdir())
    log(f"exported to {args.model_dir}: {sorted(p.name for p in args.model_dir.iterdir())}, {size / 2**20:.1f} MiB")


# ----------------------------------------------------------------------------------------------------------- golden
def load_fp32_model(model_dir: Path, device: str):
    from transformers import MBartForConditionalGeneration
    try:
        model = MBartForConditionalGeneration.from_pretrained(str(model_dir), dtype=torch.float32)
    except TypeError:
        model = MBartForConditionalGeneration.from_pretrained(str(model_dir), torch_dtype=torch.float32)
    return model.to(device).eval()


def checksum(t: torch.Tensor) -> dict:
    t = t.double()
    return {"shape": list(t.shape), "sum": float(t.sum()), "abs_sum": float(t.abs().sum()),
            "first8": [float(x) for x in t.flatten()[:8]]}


def golden(args) -> None:
    import tokenizers
    import transformers

    torch.set_num_threads(min(16, os.cpu_count() or 1))
    tok = load_tokenizer(args.model_dir)
    model = load_fp32_model(args.model_dir, "cpu")
    spec = json.loads((Path(__file__).parent / "golden_cases.json").read_text())
    greedy_cfg = dict(num_beams=1, do_sample=False, max_new_tokens=64)
    beam_cfg = dict(num_beams=4, do_sample=False, max_new_tokens=64, length_penalty=1.0, early_stopping=True)
    out = {"model": args.model_dir.name,
           "generator": {"transformers": transformers.__version__, "torch": torch.__version__,
                         "tokenizers": tokenizers.__version__, "device": "cpu", "dtype": "float32"},
           "settings": {"greedy": greedy_cfg, "beam4": beam_cfg,
                        "generation_config": model.generation_config.to_dict(),
                        "note": "forced_bos_token_id = target language code; one sentence per generate() call, no padding"},
           "cases": [], "internals": []}
    with torch.no_grad():
        for case in spec["cases"]:
            src_ids = encode_source(tok, case["text"], case["src"])
            tgt_id = tok.token_to_id(CODES[case["tgt"]])
            inp = torch.tensor([src_ids])
            g = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), forced_bos_token_id=tgt_id,
                               **greedy_cfg)
            b = model.generate(input_ids=inp, attention_mask=torch.ones_like(inp), forced_bos_token_id=tgt_id,
                               output_scores=True, return_dict_in_generate=True, **beam_cfg)
            g_ids = [int(x) for x in g[0] if int(x) != PAD]
            b_ids = [int(x) for x in b.sequences[0] if int(x) != PAD]
            out["cases"].append({
                "id": case["id"], "src_lang": CODES[case["src"]], "tgt_lang": CODES[case["tgt"]], "text": case["text"],
                "src_ids": src_ids, "forced_bos_id": tgt_id,
                "greedy": {"ids": g_ids, "text": tok.decode(g_ids, skip_special_tokens=True)},
                "beam4": {"ids": b_ids, "score": float(b.sequences_scores[0]),
                          "text": tok.decode(b_ids, skip_special_tokens=True)}})
            log(f"{case['id']}: {out['cases'][-1]['greedy']['text']!r} | {out['cases'][-1]['beam4']['text']!r}")
            if case["id"] in spec["internals"]:
                enc = model.model.encoder(input_ids=inp).last_hidden_state[0]
                steps = {}
                for name, prefix in (("first_step_logits", [EOS]), ("second_step_logits", [EOS, tgt_id])):
                    dec = torch.tensor([prefix])
                    logits = model(input_ids=inp, decoder_input_ids=dec).logits[0, -1].double()
                    top = torch.topk(logits, 5)
                    steps[name] = {"top5_ids": [int(i) for i in top.indices], "top5": [float(v) for v in top.values],
                                   "logsumexp": float(torch.logsumexp(logits, 0)), "sum": float(logits.sum())}
                out["internals"].append({"id": case["id"], "encoder_out": checksum(enc), **steps})
    args.golden_out.parent.mkdir(parents=True, exist_ok=True)
    args.golden_out.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    log(f"golden: {len(out['cases'])} cases -> {args.golden_out}")


# ----------------------------------------------------------------------------------------------------------- evaluate
def evaluate(args) -> None:
    import sacrebleu

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    tok = load_tokenizer(args.model_dir)
    model = load_fp32_model(args.model_dir, "cuda")
    sets = read_eval(args.data)
    deadline = time.time() + args.seconds
    results_path = args.scores_out
    results = json.loads(results_path.read_text()) if results_path.exists() else {"runs": []}
    done = {(r["set"], r["pair"], r["mode"]) for r in results["runs"]}
    plan = []
    for mode in args.modes.split(","):
        for set_name in ("flores200-dev", "tatoeba-test"):
            for lang in LANGS[1:]:
                for direction in (f"{lang}-en", f"en-{lang}"):
                    plan.append((set_name, direction, mode))
    for set_name, direction, mode in plan:
        if (set_name, direction, mode) in done:
            continue
        if time.time() > deadline:
            log(f"time budget spent: stopping before {set_name} {direction} {mode}")
            break
        s, t = direction.split("-")
        lang = t if s == "en" else s
        data = sets[(set_name, lang)]
        if args.limit and set_name == "tatoeba-test" and mode == "beam4":
            data = data[: args.limit]
        srcs = [en if s == "en" else xx for en, xx in data]
        refs = [xx if s == "en" else en for en, xx in data]
        t0 = time.time()
        hyps = translate(model, tok, srcs, s, t, beams=4 if mode == "beam4" else 1,
                         batch=args.batch // (4 if mode == "beam4" else 1))
        bleu_metric = sacrebleu.BLEU(tokenize="zh" if t == "zh" else "13a")
        chrf_metric = sacrebleu.CHRF(word_order=2)
        bleu = bleu_metric.corpus_score(hyps, [refs])
        chrf = chrf_metric.corpus_score(hyps, [refs])
        sig_b = bleu_metric.get_signature()
        run = {"set": set_name, "pair": direction, "mode": mode, "lines": len(srcs), "bleu": round(bleu.score, 2),
               "chrf++": round(chrf.score, 2), "bleu_signature": str(sig_b),
               "chrf_signature": str(chrf_metric.get_signature()), "seconds": round(time.time() - t0, 1),
               "script_ok": script_share(hyps, t)}
        results["runs"].append(run)
        results_path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        log(f"{set_name} {direction} {mode}: BLEU {run['bleu']} chrF++ {run['chrf++']} "
            f"({len(srcs)} lines, {run['seconds']}s, target-script share {run['script_ok']})")


SCRIPT_RANGES = {"zh": [(0x4E00, 0x9FFF)], "ar": [(0x0600, 0x06FF)], "ru": [(0x0400, 0x04FF)],
                 "hi": [(0x0900, 0x097F)]}


def script_share(hyps: list[str], lang: str) -> float:
    """Share of letters in the target language's script (Latin for the rest)."""
    good = total = 0
    for h in hyps:
        for ch in h:
            if not ch.isalpha():
                continue
            total += 1
            cp = ord(ch)
            ranges = SCRIPT_RANGES.get(lang)
            if ranges is None:
                good += cp < 0x0250 or 0x1E00 <= cp <= 0x1EFF
            else:
                good += any(a <= cp <= b for a, b in ranges)
    return round(good / max(1, total), 3)


def translate(model, tok, texts: list[str], s: str, t: str, beams: int, batch: int) -> list[str]:
    src = [encode_source(tok, x, s, 200) for x in texts]
    order = sorted(range(len(src)), key=lambda i: len(src[i]))
    out = [""] * len(src)
    tgt_id = tok.token_to_id(CODES[t])
    with torch.no_grad():
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            longest = max(len(src[i]) for i in idx)
            inp = torch.full((len(idx), longest), PAD, dtype=torch.long)
            for r, i in enumerate(idx):
                inp[r, : len(src[i])] = torch.tensor(src[i])
            inp = inp.cuda()
            gen = model.generate(input_ids=inp, attention_mask=inp.ne(PAD), forced_bos_token_id=tgt_id,
                                 num_beams=beams, do_sample=False, early_stopping=True,
                                 max_new_tokens=min(256, int(longest * 1.6) + 10))
            for r, i in enumerate(idx):
                out[i] = tok.decode([int(x) for x in gen[r]], skip_special_tokens=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=["tokenizer", "train", "export", "golden", "evaluate"])
    ap.add_argument("--data", type=Path, default=Path(".carry/reference"))
    ap.add_argument("--model-dir", type=Path, default=Path("/tmp/glossa-model/glossa-mini-50"))
    ap.add_argument("--ckpt", type=Path, default=Path("/tmp/glossa-ckpt"))
    ap.add_argument("--golden-out", type=Path, default=Path("/tmp/glossa-model/golden.json"))
    ap.add_argument("--scores-out", type=Path, default=Path("/tmp/glossa-model/scores.json"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--tokenizer-sample", type=int, default=60000)
    ap.add_argument("--seconds", type=float, default=480, help="wall-clock budget of this invocation")
    ap.add_argument("--total-seconds", type=float, default=900, help="training budget over all invocations")
    ap.add_argument("--calibrate-steps", type=int, default=300)
    ap.add_argument("--max-tokens", type=int, default=24000, help="padded tokens per side per batch")
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--temperature", type=float, default=2.5)
    ap.add_argument("--modes", default="greedy,beam4")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--limit", type=int, default=0, help="beam-4 Tatoeba lines per direction (0 = all)")
    args = ap.parse_args()
    log(f"stage {args.stage}: torch {torch.__version__}, cuda {torch.cuda.is_available()}")
    if args.stage == "tokenizer":
        train_tokenizer(read_train(args.data), args.model_dir, args.tokenizer_sample, args.seed)
    elif args.stage == "train":
        train(args)
    elif args.stage == "export":
        export(args)
    elif args.stage == "golden":
        golden(args)
    else:
        evaluate(args)


if __name__ == "__main__":
    sys.exit(main())
