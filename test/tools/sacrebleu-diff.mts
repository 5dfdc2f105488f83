/**
 * Differential check of src/metrics against the real sacreBLEU (dev tool; NOT part of `npm test`,
 * and not compiled by tsc: the .mts extension keeps it out of tsconfig's test/**\/*.ts).
 *
 *   npx tsx test/tools/sacrebleu-diff.mts --sacrebleu /tmp/sacrebleu-2.6.0 [--cases 5000] [--seed 1] [--python python3]
 *     [--correctly-rounded]   (oracle uses correctly rounded exp/log instead of the C library's)
 *
 * It generates random self-made segments (Python/JS whitespace differences, HTML entities, the zh
 * ranges, Unicode punctuation/symbols/digits, Greek final sigma, astral characters, empty lines,
 * perturbed hypotheses so n-grams match), runs every case through sacreBLEU via
 * test/tools/sacrebleu_oracle.py and through our TypeScript metrics, and compares score (bit for
 * bit), printed forms, signatures and BLEU statistics. Exit code 1 on any divergence other than
 * a last-bit (libm) difference in exp/log results.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  corpusBleu,
  corpusChrf,
  sentenceBleu,
  sentenceChrf,
  formatScoreLine,
  type BleuOptions,
  type ChrfOptions,
} from "../../src/metrics/index.js";

type Kind = "corpus_bleu" | "sentence_bleu" | "corpus_chrf" | "sentence_chrf";
interface Case {
  id: number;
  kind: Kind;
  hyps?: string[];
  hyp?: string;
  refs: (string | null)[][] | string[];
  opts: BleuOptions & ChrfOptions;
}
interface Result {
  id: number;
  name?: string;
  score?: number;
  formatted?: string;
  formatted1?: string;
  signature?: string;
  counts?: number[];
  totals?: number[];
  precisions?: number[];
  bp?: number;
  sysLen?: number;
  refLen?: number;
  error?: string;
  skipped?: string;
}

/** mulberry32: small deterministic PRNG so a seed reproduces a run. */
function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  "the", "The", "cat", "sat", "on", "mat", "a", "dog", "runs", "fast", "house", "green", "is", "not",
  "Σοφία", "ΟΔΟΣ", "ΑΣ", "σοφός", "İstanbul", "ISTANBUL", "straße", "STRASSE", "naïve", "café", "Ǆemal",
  "北京", "欢迎", "你好", "中文", "我们", "テスト", "한국어", "مرحبا", "नमस्ते", "Việt", "Привет", "мир",
  "don't", "U.S.A.", "e-mail", "(hi)", "\"quote\"", "'single'", "x.y", "a,b", "end.", "...", "--", "ﬁne",
  "e\u0301t\u00e9", "𠀀字", "𪛖", "丽", "⾁", "😀", "👍🏽", "٣٤", "५", "½", "Ⅻ", "x²",
];
const NUMBERS = ["2019", "3.14", "1,000", "-5", "5-6", "10.", ".5", ",7", "1.2.3", "0", "42%", "$9", "€10"];
const PUNCT = [..."!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"];
const SPECIAL = [
  "&quot;", "&amp;", "&lt;", "&gt;", "&amp;lt;", "&amp;quot;", "&", "<skipped>", "-\n", "\n", "&#39;",
  "…", "—", "–", "“", "”", "«", "»", "¿", "¡", "、", "。", "，", "・", "€", "£", "©", "°", "±", "×",
  "→", "∑", "☃", "✓", "⺀", "㐀", "㈀", "〜", "‰", "†", "⁂", "\u2001", "\u200b", "\u00ad", "\u2060",
];
const SPACES = [" ", " ", " ", " ", "  ", "\t", "\u00a0", "\u2003", "\u3000", "\ufeff", "\x1c", "\x1f", "\x85", "\u2028", "\r", "\v", "\f", ""];

/**
 * Blocks to draw random code points from (Latin-1/Extended-A/B, Greek, Cyrillic, Arabic, Devanagari,
 * general/supplemental punctuation, arrows, math, misc symbols, dingbats, CJK symbols, Bopomofo,
 * CJK ideographs, halfwidth/fullwidth forms, emoji, CJK Extension B, CJK compatibility supplement).
 * None of them holds the 55 code points whose lowercase differs between Unicode 14 (CPython 3.11)
 * and Unicode 17 (Node 20), a known difference documented in NOTES.md.
 */
const CODE_POINT_BLOCKS: ReadonlyArray<readonly [number, number]> = [
  [0x00a0, 0x024f], [0x0370, 0x03ff], [0x0400, 0x04ff], [0x0600, 0x06ff], [0x0900, 0x097f],
  [0x2000, 0x206f], [0x2190, 0x22ff], [0x2600, 0x27bf], [0x2e00, 0x2e7f], [0x2e80, 0x2fdf],
  [0x3000, 0x312f], [0x4e00, 0x9fff], [0xfe10, 0xfe4f], [0xff00, 0xffef], [0x1f300, 0x1f6ff],
  [0x20000, 0x2a6df], [0x2f800, 0x2fa1f],
];

function randomCodePoints(rng: () => number): string {
  let out = "";
  const length = 1 + Math.floor(rng() * 4);
  for (let i = 0; i < length; i++) {
    const [start, end] = pick(rng, CODE_POINT_BLOCKS);
    out += String.fromCodePoint(start + Math.floor(rng() * (end - start + 1)));
  }
  return out;
}

function pick<T>(rng: () => number, items: readonly T[]): T {
  if (items.length === 0) throw new Error("pick from empty list");
  return items[Math.floor(rng() * items.length)] as T;
}

function makeItems(rng: () => number): string[] {
  const roll = rng();
  if (roll < 0.04) return [];
  const count = 1 + Math.floor(rng() * 12);
  const items: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = rng();
    items.push(
      r < 0.55 ? pick(rng, WORDS)
      : r < 0.67 ? pick(rng, PUNCT)
      : r < 0.83 ? pick(rng, SPECIAL)
      : r < 0.93 ? pick(rng, NUMBERS)
      : randomCodePoints(rng),
    );
  }
  return items;
}

function join_(rng: () => number, items: readonly string[]): string {
  let out = rng() < 0.1 ? pick(rng, SPACES) : "";
  items.forEach((item, i) => {
    out += item;
    if (i < items.length - 1) out += rng() < 0.8 ? " " : pick(rng, SPACES);
  });
  if (rng() < 0.15) out += pick(rng, SPACES);
  if (rng() < 0.02) out = pick(rng, SPACES) + pick(rng, SPACES);
  return out;
}

function perturb(rng: () => number, items: readonly string[]): string[] {
  const out = [...items];
  const edits = Math.floor(rng() * 4);
  for (let e = 0; e < edits; e++) {
    const r = rng();
    const at = Math.floor(rng() * (out.length + 1));
    if (r < 0.35 && out.length > 0) out.splice(Math.min(at, out.length - 1), 1);
    else if (r < 0.7) out.splice(at, 0, rng() < 0.7 ? pick(rng, WORDS) : pick(rng, SPECIAL));
    else if (out.length > 0) out[Math.min(at, out.length - 1)] = pick(rng, WORDS);
  }
  if (rng() < 0.1) out.reverse();
  return out;
}

function makeCase(rng: () => number, id: number): Case {
  const r = rng();
  const kind: Kind = r < 0.35 ? "corpus_bleu" : r < 0.55 ? "sentence_bleu" : r < 0.85 ? "corpus_chrf" : "sentence_chrf";
  const nSeg = kind.startsWith("sentence") ? 1 : rng() < 0.1 ? 20 + Math.floor(rng() * 40) : 1 + Math.floor(rng() * 6);
  const nRefs = 1 + Math.floor(rng() * (rng() < 0.6 ? 1 : 3));
  const hyps: string[] = [];
  const refStreams: (string | null)[][] = Array.from({ length: nRefs }, () => []);
  const variableRefs = kind.startsWith("corpus") && nRefs > 1 && rng() < 0.3;
  for (let s = 0; s < nSeg; s++) {
    const base = makeItems(rng);
    for (let k = 0; k < nRefs; k++) {
      // A null k-th reference (k > 0) makes the number of references vary per segment (nrefs:var).
      const absent = variableRefs && k > 0 && rng() < 0.3;
      refStreams[k]?.push(absent ? null : join_(rng, k === 0 ? base : perturb(rng, base)));
    }
    hyps.push(join_(rng, rng() < 0.75 ? perturb(rng, base) : makeItems(rng)));
  }
  const opts: BleuOptions & ChrfOptions = {};
  if (kind.endsWith("bleu")) {
    opts.tokenize = pick(rng, ["13a", "intl", "zh", "char", "none"] as const);
    opts.smoothMethod = pick(rng, ["exp", "exp", "floor", "add-k", "none"] as const);
    const value = pick(rng, [undefined, undefined, 0, 0.01, 0.1, 0.125, 0.375, 0.5, 1, 2, 0.005]);
    if (value !== undefined) opts.smoothValue = value;
    if (rng() < 0.3) opts.lowercase = true;
    if (rng() < 0.5) opts.effectiveOrder = rng() < 0.5;
  } else {
    opts.wordOrder = pick(rng, [0, 0, 2, 2, 1]);
    opts.charOrder = pick(rng, [6, 6, 6, 4, 1]);
    opts.beta = pick(rng, [2, 2, 2, 1, 3]);
    if (rng() < 0.2) opts.whitespace = true;
    if (rng() < 0.3) opts.lowercase = true;
    if (rng() < 0.2) opts.effectiveOrder = false;
  }
  if (kind.startsWith("sentence")) {
    return { id, kind, hyp: hyps[0] ?? "", refs: refStreams.map((stream) => stream[0] ?? ""), opts };
  }
  return { id, kind, hyps, refs: refStreams, opts };
}

function ours(c: Case): Result {
  try {
    switch (c.kind) {
      case "corpus_bleu":
      case "sentence_bleu": {
        const s =
          c.kind === "corpus_bleu"
            ? corpusBleu(c.hyps ?? [], c.refs as (string | null)[][], c.opts)
            : sentenceBleu(c.hyp ?? "", c.refs as string[], c.opts);
        return {
          id: c.id, name: s.name, score: s.score, formatted: s.formatted,
          formatted1: formatScoreLine(s.name, s.score, s.verbose, 1), signature: s.signature,
          counts: s.counts, totals: s.totals, precisions: s.precisions, bp: s.bp, sysLen: s.sysLen, refLen: s.refLen,
        };
      }
      default: {
        const s =
          c.kind === "corpus_chrf"
            ? corpusChrf(c.hyps ?? [], c.refs as (string | null)[][], c.opts)
            : sentenceChrf(c.hyp ?? "", c.refs as string[], c.opts);
        return {
          id: c.id, name: s.name, score: s.score, formatted: s.formatted,
          formatted1: formatScoreLine(s.name, s.score, "", 1), signature: s.signature,
        };
      }
    }
  } catch (err) {
    return { id: c.id, error: err instanceof Error ? err.message : String(err) };
  }
}

function ulps(a: number, b: number): number {
  if (a === b) return 0;
  const buf = new DataView(new ArrayBuffer(16));
  buf.setFloat64(0, a);
  buf.setFloat64(8, b);
  return Number(buf.getBigInt64(0) - buf.getBigInt64(8) < 0n ? buf.getBigInt64(8) - buf.getBigInt64(0) : buf.getBigInt64(0) - buf.getBigInt64(8));
}

function main(): number {
  const { values } = parseArgs({
    options: {
      sacrebleu: { type: "string" },
      cases: { type: "string", default: "3000" },
      seed: { type: "string", default: "1" },
      python: { type: "string", default: "python3" },
      show: { type: "string", default: "5" },
      "correctly-rounded": { type: "boolean", default: false },
    },
  });
  if (!values.sacrebleu) {
    console.error("usage: sacrebleu-diff.mts --sacrebleu DIR [--cases N] [--seed S] [--python python3]");
    return 2;
  }
  const rng = makeRng(Number(values.seed));
  const cases = Array.from({ length: Number(values.cases) }, (_, i) => makeCase(rng, i));
  const oracle = join(dirname(fileURLToPath(import.meta.url)), "sacrebleu_oracle.py");
  const oracleArgs = [oracle, "--sacrebleu", values.sacrebleu];
  if (values["correctly-rounded"]) oracleArgs.push("--correctly-rounded");
  const run = spawnSync(values.python ?? "python3", oracleArgs, {
    input: cases.map((c) => JSON.stringify(c)).join("\n") + "\n",
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  if (run.status !== 0) {
    console.error(run.stderr);
    return 2;
  }
  const expected = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as Result);
  const fields = ["name", "formatted", "formatted1", "signature", "counts", "totals", "precisions", "bp", "sysLen", "refLen"] as const;
  const tally = { cases: cases.length, skipped: 0, identical: 0, libmUlpOnly: 0, bothErrors: 0, mismatches: 0, maxUlps: 0 };
  const byKind = new Map<string, number>();
  let shown = 0;
  cases.forEach((c, i) => {
    byKind.set(c.kind, (byKind.get(c.kind) ?? 0) + 1);
    const exp = expected[i];
    const got = ours(c);
    if (!exp) throw new Error(`oracle returned no result for case ${i}`);
    const problems: string[] = [];
    if (exp.skipped !== undefined) {
      tally.skipped++;
      return;
    }
    if (exp.error !== undefined || got.error !== undefined) {
      if (exp.error !== undefined && got.error !== undefined) {
        tally.bothErrors++;
        return;
      }
      problems.push(`error: sacreBLEU=${exp.error ?? "-"} ours=${got.error ?? "-"}`);
    } else {
      for (const f of fields) {
        if (f === "bp") continue;
        if (JSON.stringify(exp[f]) !== JSON.stringify(got[f])) problems.push(`${f}: sacreBLEU=${JSON.stringify(exp[f])} ours=${JSON.stringify(got[f])}`);
      }
      // bp and score go through exp/log: a difference of a few ulp there (with everything else
      // equal) is the C library's rounding, which --correctly-rounded removes from the oracle.
      const d = Math.max(ulps(exp.score ?? NaN, got.score ?? NaN), exp.bp === undefined ? 0 : ulps(exp.bp, got.bp ?? NaN));
      if (d !== 0 && d <= 4 && problems.length === 0) {
        tally.libmUlpOnly++;
        tally.maxUlps = Math.max(tally.maxUlps, d);
        if (shown < Number(values.show)) {
          shown++;
          console.log(`case ${c.id} (${c.kind}) score/bp differ by ${d} ulp: sacreBLEU=${exp.score}/${exp.bp} ours=${got.score}/${got.bp}`);
        }
        return;
      }
      if (d !== 0) problems.push(`score/bp: sacreBLEU=${exp.score}/${exp.bp} ours=${got.score}/${got.bp}`);
    }
    if (problems.length === 0) {
      tally.identical++;
      return;
    }
    tally.mismatches++;
    if (shown < Number(values.show)) {
      shown++;
      console.log(`case ${c.id} (${c.kind}) ${JSON.stringify(c)}\n  ${problems.join("\n  ")}`);
    }
  });
  console.log(JSON.stringify({ ...tally, byKind: Object.fromEntries(byKind) }));
  return tally.mismatches === 0 ? 0 : 1;
}

process.exit(main());
