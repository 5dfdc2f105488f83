#!/usr/bin/env python3
"""Reference oracle for the metric differential check (dev tool, not run in CI).

Reads JSON lines on stdin, one case each:
  {"id": 1, "kind": "corpus_bleu"|"sentence_bleu"|"corpus_chrf"|"sentence_chrf",
   "hyps": [...], "refs": [[...], ...], "opts": {...}}
(for sentence kinds: "hyp": str and "refs": [str, ...]) and writes one JSON line per case with
what the real sacreBLEU computes. Point it at a sacreBLEU source checkout with --sacrebleu DIR
(e.g. a v2.6.0 checkout in /tmp). Packages sacreBLEU imports but the metrics never use
(portalocker, tabulate, colorama, lxml) are replaced by empty modules when they are not installed.
A case that needs the `regex` package (tokenizer intl) when it is missing is answered with
{"skipped": ...}, so other Python versions can be checked on the remaining cases.
"""
import argparse
import importlib
import json
import sys
import types


def install_placeholders() -> None:
    for name in ("portalocker", "tabulate", "colorama", "lxml", "lxml.etree"):
        try:
            importlib.import_module(name)
        except ImportError:
            module = types.ModuleType(name)
            if name == "tabulate":
                module.tabulate = lambda *a, **k: ""  # type: ignore[attr-defined]
            sys.modules[name] = module


def use_correctly_rounded_math() -> None:
    import math
    from decimal import Decimal, getcontext

    import sacrebleu.metrics.bleu as bleu_module

    getcontext().prec = 60

    def cr_exp(x: float) -> float:
        return float(Decimal(x).exp())

    def cr_log_floored(x: float) -> float:  # sacreBLEU's my_log with a correctly rounded log
        return -9999999999 if x == 0.0 else float(Decimal(x).ln())

    shim = types.SimpleNamespace(**{k: getattr(math, k) for k in dir(math) if not k.startswith("_")})
    shim.exp = cr_exp
    bleu_module.math = shim  # type: ignore[attr-defined]
    bleu_module.my_log = cr_log_floored  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sacrebleu", required=True, help="sacreBLEU source checkout (contains sacrebleu/)")
    parser.add_argument("--version", default="2.6.0", help="version to report if the checkout lacks version.py")
    parser.add_argument("--correctly-rounded", action="store_true",
                        help="make BLEU's exp/log correctly rounded (decimal, 60 digits) instead of the C library's, "
                             "to tell last-bit differences caused by libm rounding from real divergences")
    args = parser.parse_args()
    sys.path.insert(0, args.sacrebleu)
    install_placeholders()
    try:
        importlib.import_module("sacrebleu.version")
    except ImportError:
        version = types.ModuleType("sacrebleu.version")
        version.__version__ = args.version  # type: ignore[attr-defined]
        sys.modules["sacrebleu.version"] = version
    from sacrebleu.metrics import BLEU, CHRF  # noqa: E402

    if args.correctly_rounded:
        use_correctly_rounded_math()

    for line in sys.stdin:
        case = json.loads(line)
        opts = case.get("opts", {})
        out = {"id": case["id"]}
        try:
            kind = case["kind"]
            if kind.endswith("bleu"):
                metric = BLEU(
                    tokenize=opts.get("tokenize", "13a"),
                    smooth_method=opts.get("smoothMethod", "exp"),
                    smooth_value=opts.get("smoothValue"),
                    lowercase=opts.get("lowercase", False),
                    effective_order=opts.get("effectiveOrder", kind == "sentence_bleu"),
                )
            else:
                metric = CHRF(
                    char_order=opts.get("charOrder", 6),
                    word_order=opts.get("wordOrder", 0),
                    beta=opts.get("beta", 2),
                    lowercase=opts.get("lowercase", False),
                    whitespace=opts.get("whitespace", False),
                    eps_smoothing=not opts.get("effectiveOrder", True),
                )
            if kind.startswith("sentence"):
                score = metric.sentence_score(case["hyp"], case["refs"])
            else:
                score = metric.corpus_score(case["hyps"], case["refs"])
            out["name"] = score.name
            out["score"] = score.score
            out["formatted"] = score.format(width=2)
            out["formatted1"] = score.format(width=1)
            out["signature"] = metric.get_signature().format()
            if kind.endswith("bleu"):
                out.update(counts=list(score.counts), totals=list(score.totals),
                           precisions=list(score.precisions), bp=score.bp,
                           sysLen=score.sys_len, refLen=score.ref_len)
        except ModuleNotFoundError as exc:
            out["skipped"] = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # report, the driver decides
            out["error"] = f"{type(exc).__name__}: {exc}"
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
