#!/usr/bin/env python3
"""Hugging Face AutoTokenizer against Glossa's own token ids (the model card's promise, issue 9 item 6).

    python3 tools/train-reference/hf_tokenizer_check.py MODEL_DIR [--cases test/fixtures/hf-tokenizer/cases.json]
        [--json REPORT.json]
    python3 tools/train-reference/hf_tokenizer_check.py MODEL_DIR --embed-added-tokens   # rewrite tokenizer.json

The check loads `AutoTokenizer.from_pretrained(MODEL_DIR)` (transformers >= 5) and, for every case that Glossa's
TypeScript tokenizer produced (test/tools/hf-tokenizer-cases.ts: self-written sentences in the ten languages, each
also with outer/double spaces, tab + CRLF, NBSP + ideographic space, full-width ASCII and rare symbols), compares
  - `tok.src_lang = code; tok(text).input_ids`                  with Glossa's source ids [code, pieces, </s>]
  - `tok.tgt_lang = code; tok(text_target=text).input_ids`      with the same ids (labels use the same layout)
  - `tok.decode(ids, skip_special_tokens=True)`                 with Glossa's decoded text of the golden outputs
  - every language code (also `tok.lang_code_to_id`) and <mask>
in three modes: `raw` (text as is), `pre-normalized` (text passed through glossa_normalize first) and
`restored-normalizer` (tok.backend_tokenizer.normalizer taken from tokenizer.json). transformers 5.17 rebuilds
MBart50Tokenizer's pipeline with its own normalizer (only " {2,}" -> " ", plus a SentencePiece charsmap when
tokenizer.json has one), so tokenizer.json's NFKC + whitespace folding + strip is not applied in `raw` mode: text
that NFKC changes (e.g. Chinese full-width punctuation), tabs, NBSP or trailing spaces then tokenize differently.
The check passes (exit 0) when both other modes agree on every case; `raw` figures are reported.

Why `--embed-added-tokens`: transformers 5 rebuilds `MBart50Tokenizer` from tokenizer.json's Unigram vocabulary
alone. When the language codes and <mask> exist only as added tokens, it takes the vocabulary for a raw
SentencePiece one (<unk>=0 <s>=1 </s>=2) and re-inserts the fairseq specials, shifting every piece by one and
giving the codes fairseq's 52-language order (de_DE -> 15992). With the added tokens also present in the Unigram
vocabulary (ids unchanged, score 0 as in mBART-50's own tokenizer.json) it keeps the vocabulary as it is.
This module has no dependency beyond the standard library, so train.py imports `embed_added_tokens`.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path


def embed_added_tokens(tokenizer_json: dict) -> dict:
    """Appends the added tokens whose ids follow the Unigram vocabulary to it (score 0.0), in id order.

    Ids do not change: the added tokens keep their ids and become ordinary vocabulary entries as well. Idempotent.
    """
    model = tokenizer_json["model"]
    if model.get("type") != "Unigram":
        raise ValueError(f"expected a Unigram model, got {model.get('type')}")
    vocab = model["vocab"]
    present = {piece for piece, _ in vocab}
    tail = sorted((t for t in tokenizer_json.get("added_tokens", []) if t["id"] >= len(vocab) or t["content"] in present),
                  key=lambda t: t["id"])
    for t in tail:
        if t["content"] in present:
            if vocab[t["id"]][0] != t["content"]:
                raise ValueError(f"added token {t['content']} has id {t['id']} but is vocabulary entry "
                                 f"{[p for p, _ in vocab].index(t['content'])}")
            continue
        if t["id"] != len(vocab):
            raise ValueError(f"added token {t['content']} has id {t['id']}, not the next vocabulary id {len(vocab)}")
        vocab.append([t["content"], 0.0])
        present.add(t["content"])
    return tokenizer_json


def glossa_normalize(text: str) -> str:
    """Glossa's normalisation (tokenizer.json's normalizer): NFKC, runs of space/tab/CR/LF to one space, strip."""
    return re.sub(r"[ \t\r\n]+", " ", unicodedata.normalize("NFKC", text)).strip()


MODES = ("raw", "pre-normalized", "restored-normalizer")


def load(model_dir: Path, mode: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    if mode == "restored-normalizer":
        from tokenizers import Tokenizer

        tok.backend_tokenizer.normalizer = Tokenizer.from_file(str(model_dir / "tokenizer.json")).normalizer
    return tok


def check(model_dir: Path, cases_path: Path, max_report: int = 6) -> dict:
    """Every mode's agreement with Glossa's ids; `ok` needs pre-normalized and restored-normalizer to agree fully."""
    import transformers

    cases = json.loads(cases_path.read_text(encoding="utf-8"))
    report: dict = {"transformers": transformers.__version__, "modes": {}, "mismatches": []}
    try:
        import tokenizers
        report["tokenizers"] = tokenizers.__version__
    except ImportError:
        pass
    for mode in MODES:
        tok = load(model_dir, mode)
        m = {"class": type(tok).__name__, "len": len(tok), "encode": 0, "encode_ok": 0, "target_ok": 0,
             "by_variant": {}, "decode": 0, "decode_ok": 0}
        prep = glossa_normalize if mode == "pre-normalized" else (lambda t: t)

        def miss(kind: str, case: dict, got) -> None:
            if len(report["mismatches"]) < max_report * len(MODES):
                report["mismatches"].append({"mode": mode, "kind": kind, "id": case["id"], "text": case.get("text"),
                                             "want": case["ids"] if kind != "decode" else case["text"], "got": got})

        for case in cases["encode"]:
            m["encode"] += 1
            variant = case["id"].split("-", 2)[-1] if not case["id"].startswith("code-") else "code"
            v = m["by_variant"].setdefault(variant, [0, 0])
            v[1] += 1
            try:
                tok.src_lang = case["lang"]
                got = tok(prep(case["text"])).input_ids
                tok.tgt_lang = case["lang"]
                got_t = tok(text_target=prep(case["text"])).input_ids
            except Exception as e:  # a failure is a mismatch, reported with its message
                got = got_t = f"error: {e}"
            if got == case["ids"]:
                m["encode_ok"] += 1
                v[0] += 1
            else:
                miss("encode", case, got)
            if got_t == case["ids"]:
                m["target_ok"] += 1
            elif got == case["ids"]:
                miss("target", case, got_t)
        for case in cases["decode"]:
            m["decode"] += 1
            got = tok.decode(case["ids"], skip_special_tokens=True)
            if got == case["text"]:
                m["decode_ok"] += 1
            else:
                miss("decode", case, got)
        codes = {c["lang"]: c["ids"][0] for c in cases["encode"]}
        m["code_ids_ok"] = all(tok.convert_tokens_to_ids(c) == i for c, i in codes.items())
        m["lang_code_to_id_ok"] = all(getattr(tok, "lang_code_to_id", {}).get(c) == i for c, i in codes.items())
        m["mask_id"] = tok.convert_tokens_to_ids("<mask>")
        m["all_ok"] = (m["encode_ok"] == m["encode"] == m["target_ok"] and m["decode_ok"] == m["decode"]
                       and m["code_ids_ok"] and m["encode"] > 0)
        report["modes"][mode] = m
    report["ok"] = report["modes"]["pre-normalized"]["all_ok"] and report["modes"]["restored-normalizer"]["all_ok"]
    return report


def main() -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--cases", type=Path, default=here.parent.parent / "test" / "fixtures" / "hf-tokenizer" / "cases.json")
    ap.add_argument("--json", type=Path, help="write the report here")
    ap.add_argument("--embed-added-tokens", action="store_true", help="rewrite MODEL_DIR/tokenizer.json (ids unchanged)")
    args = ap.parse_args()
    if args.embed_added_tokens:
        path = args.model_dir / "tokenizer.json"
        data = embed_added_tokens(json.loads(path.read_text(encoding="utf-8")))
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")  # as tokenizers saves it
        print(f"{path}: {len(data['model']['vocab'])} vocabulary entries")
        return 0
    report = check(args.model_dir, args.cases)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{args.model_dir}: transformers {report['transformers']}, tokenizers {report.get('tokenizers')}")
    for mode, m in report["modes"].items():
        variants = ", ".join(f"{k} {a}/{b}" for k, (a, b) in m["by_variant"].items())
        print(f"  {mode:20s} {m['class']} len {m['len']}: encode {m['encode_ok']}/{m['encode']}, text_target "
              f"{m['target_ok']}/{m['encode']}, decode {m['decode_ok']}/{m['decode']}, language codes "
              f"{'ok' if m['code_ids_ok'] and m['lang_code_to_id_ok'] else 'DIFFERENT'}, <mask> {m['mask_id']} ({variants})")
    for mm in report["mismatches"]:
        print("  MISMATCH", json.dumps(mm, ensure_ascii=False)[:400])
    print("OK: exact ids with Glossa's normalisation (pre-normalized text, or tokenizer.json's normalizer restored)"
          if report["ok"] else "FAILED")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
