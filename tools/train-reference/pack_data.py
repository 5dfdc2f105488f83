#!/usr/bin/env python3
"""Packs the reference model's training and evaluation text for the GPU machine.

Runs here (needs only the Python standard library). Reads the corpora (GLOSSA_CORPORA or ../shared/corpora),
drops every training line listed in `<name>.eval_overlap_lines.txt`, adds WMT news sets up to 2018, and writes
  .carry/reference/train.tsv.xz   lang<TAB>english<TAB>other   (one parallel pair a line)
  .carry/reference/eval.tsv.xz    set<TAB>pair<TAB>line<TAB>english<TAB>other   (FLORES-200 dev, Tatoeba test)
  tools/train-reference/data-manifest.json   (file names, line counts kept/dropped, sha256 of each file: no text)
The .carry folder is git-ignored: corpus text is never committed.
"""
import hashlib
import json
import lzma
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LANGS = ["zh", "ar", "ru", "de", "es", "fr", "hi", "sw", "vi"]
# Traditional-script Chinese is left out: mBART-50's zh_CN is Simplified, and the Tatoeba test (cmn_Hans) is too.
SKIP_TRAIN = {"tatoeba_manythings_hant"}
NEWS_UP_TO_2018 = {
    "de": ["newssyscomb2009", "newstest2008", "newstest2009", "newstest2010", "newstest2011", "newstest2012",
           "newstest2013", "newstest2014.de-en", "newstest2015.de-en", "newstest2016.de-en", "newstest2017.de-en",
           "newstest2018.de-en"],
    "es": ["newssyscomb2009", "newstest2008", "newstest2009", "newstest2010", "newstest2011", "newstest2012",
           "newstest2013"],
    "fr": ["newssyscomb2009", "newstest2008", "newstest2009", "newstest2010", "newstest2011", "newstest2012",
           "newstest2013", "newstest2014.en-fr", "newsdiscusstest2015.en-fr"],
    "ru": ["newstest2012", "newstest2013", "newstest2014.en-ru", "newstest2015.en-ru", "newstest2016.en-ru",
           "newstest2017.en-ru", "newstest2018.en-ru"],
    "zh": ["newsdev2017", "newstest2017.en-zh", "newstest2018.en-zh"],
    "hi": ["newsdev2014", "newstest2014.en-hi"],
}


def corpora_dir() -> Path:
    env = os.environ.get("GLOSSA_CORPORA")
    p = Path(env) if env else REPO.parent / "shared" / "corpora"
    if not p.is_dir():
        sys.exit(f"corpora folder not found: {p} (set GLOSSA_CORPORA)")
    return p


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1] if path.stat().st_size else []


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def clean(s: str) -> str:
    return " ".join(s.replace("\t", " ").split())


def main() -> None:
    root = corpora_dir()
    out = REPO / ".carry" / "reference"
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"corpora": "GLOSSA_CORPORA", "train": [], "news": [], "eval": []}
    rows: list[str] = []
    for lang in LANGS:
        pair_dir = root / "train" / f"en-{lang}"
        stems = sorted({p.name.split(".")[0] for p in pair_dir.glob("*.en")})
        for stem in stems:
            if stem in SKIP_TRAIN:
                manifest["train"].append({"file": f"train/en-{lang}/{stem}", "skipped": "Traditional script"})
                continue
            en_path, xx_path = pair_dir / f"{stem}.en", pair_dir / f"{stem}.{lang}"
            overlap_path = pair_dir / f"{stem}.eval_overlap_lines.txt"
            en, xx = read_lines(en_path), read_lines(xx_path)
            assert len(en) == len(xx), f"{en_path}: {len(en)} lines vs {len(xx)} in {xx_path}"
            drop = {int(x) for x in read_lines(overlap_path) if x.strip()}
            kept = 0
            for i, (e, x) in enumerate(zip(en, xx), start=1):
                if i in drop:
                    continue
                e, x = clean(e), clean(x)
                if e and x:
                    rows.append(f"{lang}\t{e}\t{x}")
                    kept += 1
            manifest["train"].append({
                "file": f"train/en-{lang}/{stem}.{{en,{lang}}}", "lines": len(en), "dropped_eval_overlap": len(drop),
                "kept": kept, "sha256_en": sha256(en_path), f"sha256_{lang}": sha256(xx_path)})
        for name in NEWS_UP_TO_2018.get(lang, []):
            d = root / "newstest" / f"en-{lang}"
            en_path, xx_path = d / f"{name}.en", d / f"{name}.{lang}"
            en, xx = read_lines(en_path), read_lines(xx_path)
            assert len(en) == len(xx), f"{en_path} and {xx_path} differ in length"
            kept = 0
            for e, x in zip(en, xx):
                e, x = clean(e), clean(x)
                if e and x:
                    rows.append(f"{lang}\t{e}\t{x}")
                    kept += 1
            manifest["news"].append({"file": f"newstest/en-{lang}/{name}.{{en,{lang}}}", "lines": len(en), "kept": kept,
                                     "sha256_en": sha256(en_path), f"sha256_{lang}": sha256(xx_path)})
    with lzma.open(out / "train.tsv.xz", "wt", encoding="utf-8", preset=6) as f:
        f.write("\n".join(rows) + "\n")

    ev: list[str] = []
    flores_en = read_lines(root / "flores200" / "dev" / "en.dev")
    for lang in LANGS:
        p = root / "flores200" / "dev" / f"{lang}.dev"
        xx = read_lines(p)
        assert len(xx) == len(flores_en)
        ev += [f"flores200-dev\ten-{lang}\t{i}\t{e}\t{x}" for i, (e, x) in enumerate(zip(flores_en, xx), 1)]
        manifest["eval"].append({"set": "flores200-dev", "pair": f"en-{lang}", "lines": len(xx), "sha256": sha256(p)})
        tdir = root / "tatoeba-test" / f"en-{lang}"
        te, tx = read_lines(tdir / "tatoeba-test-v2021-08-07.en"), read_lines(tdir / f"tatoeba-test-v2021-08-07.{lang}")
        assert len(te) == len(tx)
        ev += [f"tatoeba-test\ten-{lang}\t{i}\t{clean(e)}\t{clean(x)}" for i, (e, x) in enumerate(zip(te, tx), 1)]
        manifest["eval"].append({"set": "tatoeba-test-v2021-08-07", "pair": f"en-{lang}", "lines": len(te),
                                 "sha256_en": sha256(tdir / "tatoeba-test-v2021-08-07.en")})
    manifest["eval"].append({"set": "flores200-dev", "pair": "en", "sha256": sha256(root / "flores200" / "dev" / "en.dev")})
    with lzma.open(out / "eval.tsv.xz", "wt", encoding="utf-8", preset=6) as f:
        f.write("\n".join(ev) + "\n")
    manifest["train_pairs_total"] = len(rows)
    (REPO / "tools" / "train-reference" / "data-manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    for p in sorted(out.iterdir()):
        print(f"{p.relative_to(REPO)}: {p.stat().st_size / 2**20:.1f} MiB")
    print(f"training pairs: {len(rows)}; eval lines: {len(ev)}")


if __name__ == "__main__":
    main()
