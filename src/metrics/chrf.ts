/**
 * chrF (Popović 2015) and chrF++ (Popović 2017) exactly as sacreBLEU 2.6.0 computes them:
 * character n-grams of orders 1..charOrder (whitespace removed unless asked), word n-grams of
 * orders 1..wordOrder after sacreBLEU's punctuation splitting, best reference per segment,
 * statistics summed over the corpus, then the F-beta with "effective order" averaging
 * (or chrF++.py-style epsilon smoothing when effectiveOrder is false).
 */
import { formatScoreLine, formatSignature } from "./format.js";
import { codePoints, pyLower, pyRemoveWhitespace, pySplit } from "./pystr.js";
import { checkStreams, countReferences } from "./streams.js";
import type { ReferenceStreams } from "./streams.js";
import { MetricInputError } from "./types.js";
import type { ChrfOptions, ChrfScore } from "./types.js";

/** Python's string.punctuation, which sacreBLEU's chrF++ splits off word edges. */
const ASCII_PUNCTUATION = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
const EPS = 1e-16;

interface ResolvedChrfOptions {
  charOrder: number;
  wordOrder: number;
  beta: number;
  lowercase: boolean;
  whitespace: boolean;
  epsSmoothing: boolean;
}

function resolveOptions(opts: ChrfOptions): ResolvedChrfOptions {
  const charOrder = opts.charOrder ?? 6;
  const wordOrder = opts.wordOrder ?? 0;
  const beta = opts.beta ?? 2;
  if (!Number.isInteger(charOrder) || charOrder < 0) {
    throw new MetricInputError(`chrF character order must be a non-negative integer, got ${charOrder}`);
  }
  if (!Number.isInteger(wordOrder) || wordOrder < 0) {
    throw new MetricInputError(`chrF word order must be a non-negative integer, got ${wordOrder}`);
  }
  if (charOrder + wordOrder === 0) throw new MetricInputError("chrF needs a character or word order above 0");
  if (!Number.isFinite(beta) || beta < 0) throw new MetricInputError(`chrF beta must be >= 0, got ${beta}`);
  return {
    charOrder,
    wordOrder,
    beta,
    lowercase: opts.lowercase ?? false,
    whitespace: opts.whitespace ?? false,
    epsSmoothing: !(opts.effectiveOrder ?? true),
  };
}

function countNgrams(items: readonly string[], n: number, separator: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= items.length; i++) {
    const key = items.slice(i, i + n).join(separator);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** sacreBLEU's `_remove_punctuation`: split one ASCII punctuation mark off the end, else off the start. */
function splitEdgePunctuation(sentence: string): string[] {
  const words: string[] = [];
  for (const word of pySplit(sentence)) {
    const chars = codePoints(word);
    const first = chars[0] ?? "";
    const last = chars[chars.length - 1] ?? "";
    if (chars.length === 1) {
      words.push(word);
    } else if (ASCII_PUNCTUATION.has(last)) {
      // NOTE: like sacreBLEU, "(hi)" becomes "(hi" and ")" (sacreBLEU issue #124).
      words.push(chars.slice(0, -1).join(""), last);
    } else if (ASCII_PUNCTUATION.has(first)) {
      words.push(first, chars.slice(1).join(""));
    } else {
      words.push(word);
    }
  }
  return words;
}

/** UTF-16 offsets of the code points of `text` (Python indexes strings by code point), plus text.length. */
function codePointStarts(text: string): number[] {
  const starts: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const isLowSurrogateAfterHigh =
      unit >= 0xdc00 && unit <= 0xdfff && i > 0 && text.charCodeAt(i - 1) >= 0xd800 && text.charCodeAt(i - 1) <= 0xdbff;
    if (!isLowSurrogateAfterHigh) starts.push(i);
  }
  starts.push(text.length);
  return starts;
}

/** Counts of the character n-grams of `text`, n counted in code points. */
function countCharNgrams(text: string, starts: readonly number[], n: number): Map<string, number> {
  const count = starts.length - 1;
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= count; i++) {
    const key = text.slice(starts[i], starts[i + n]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** All n-gram counters of a segment: character orders 1..charOrder, then word orders 1..wordOrder. */
function extractNgrams(segment: string, o: ResolvedChrfOptions): Map<string, number>[] {
  const text = o.whitespace ? segment : pyRemoveWhitespace(segment);
  const starts = codePointStarts(text);
  const counters: Map<string, number>[] = [];
  for (let n = 1; n <= o.charOrder; n++) counters.push(countCharNgrams(text, starts, n));
  if (o.wordOrder > 0) {
    const words = splitEdgePunctuation(segment);
    for (let n = 1; n <= o.wordOrder; n++) counters.push(countNgrams(words, n, " "));
  }
  return counters;
}

/** [hyp n-grams, ref n-grams, matches] for one order; hyp count is 0 when the reference has none. */
function matchStatistics(hyp: Map<string, number>, ref: Map<string, number>): [number, number, number] {
  let matches = 0;
  let hypCount = 0;
  for (const [ngram, count] of hyp) {
    hypCount += count;
    const refCount = ref.get(ngram);
    if (refCount !== undefined) matches += Math.min(count, refCount);
  }
  let refCount = 0;
  for (const count of ref.values()) refCount += count;
  return [ref.size > 0 ? hypCount : 0, refCount, matches];
}

/** sacreBLEU's `CHRF._compute_f_score` on flattened [hyp, ref, match] triples. */
function fScore(stats: readonly number[], o: ResolvedChrfOptions): number {
  const order = o.charOrder + o.wordOrder;
  const factor = o.beta ** 2;
  let epsScore = 0.0;
  let effectiveOrder = 0;
  let avgPrec = 0.0;
  let avgRec = 0.0;
  for (let i = 0; i < order; i++) {
    const nHyp = stats[3 * i] ?? 0;
    const nRef = stats[3 * i + 1] ?? 0;
    const nMatch = stats[3 * i + 2] ?? 0;
    const prec = nHyp > 0 ? nMatch / nHyp : EPS;
    const rec = nRef > 0 ? nMatch / nRef : EPS;
    const denom = factor * prec + rec;
    epsScore += denom > 0 ? ((1 + factor) * prec * rec) / denom : EPS;
    if (nHyp > 0 && nRef > 0) {
      avgPrec += prec;
      avgRec += rec;
      effectiveOrder += 1;
    }
  }
  if (o.epsSmoothing) return (100 * epsScore) / order;
  if (effectiveOrder === 0) {
    avgPrec = 0.0;
    avgRec = 0.0;
  } else {
    avgPrec /= effectiveOrder;
    avgRec /= effectiveOrder;
  }
  if (avgPrec + avgRec === 0) return 0.0;
  let score = (1 + factor) * avgPrec * avgRec;
  score /= factor * avgPrec + avgRec;
  return 100 * score;
}

/** The statistics of the reference giving the best F score (the first one on ties). */
function segmentStatistics(
  hyp: string,
  refs: readonly string[],
  o: ResolvedChrfOptions,
): number[] {
  const hypNgrams = extractNgrams(hyp, o);
  let best: number[] = [];
  let bestF = -1.0;
  for (const ref of refs) {
    const refNgrams = extractNgrams(ref, o);
    const stats: number[] = [];
    hypNgrams.forEach((h, k) => stats.push(...matchStatistics(h, refNgrams[k] ?? new Map())));
    const f = fScore(stats, o);
    if (f > bestF) {
      bestF = f;
      best = stats;
    }
  }
  return best;
}

function chrfSignature(o: ResolvedChrfOptions, nrefs: number | "var"): string {
  return formatSignature([
    ["nrefs", nrefs],
    ["case", o.lowercase ? "lc" : "mixed"],
    ["eff", o.epsSmoothing ? "no" : "yes"],
    ["nc", o.charOrder],
    ["nw", o.wordOrder],
    ["space", o.whitespace ? "yes" : "no"],
  ]);
}

function scoreSegments(hyps: readonly string[], refs: ReferenceStreams, o: ResolvedChrfOptions): ChrfScore {
  const size = 3 * (o.charOrder + o.wordOrder);
  const summed = new Array<number>(size).fill(0);
  const prep = (s: string): string => (o.lowercase ? pyLower(s) : s);
  for (let i = 0; i < hyps.length; i++) {
    const segmentRefs: string[] = [];
    for (const stream of refs) {
      const ref = stream[i];
      if (ref !== null && ref !== undefined) segmentRefs.push(prep(ref));
    }
    if (segmentRefs.length === 0) {
      throw new MetricInputError(`chrF: segment ${i + 1} has no reference (every stream is null there)`);
    }
    const stats = segmentStatistics(prep(hyps[i] ?? ""), segmentRefs, o);
    for (let k = 0; k < size; k++) summed[k] = (summed[k] ?? 0) + (stats[k] ?? 0);
  }
  const score = fScore(summed, o);
  const name = `chrF${o.beta}${"+".repeat(o.wordOrder)}`;
  return {
    name,
    score,
    charOrder: o.charOrder,
    wordOrder: o.wordOrder,
    beta: o.beta,
    signature: chrfSignature(o, countReferences(refs, hyps.length)),
    formatted: formatScoreLine(name, score, "", 2),
  };
}

/** Corpus chrF / chrF++ like sacreBLEU's `CHRF(...).corpus_score(hyps, refs)`; `refs[k][i]` as in corpusBleu. */
export function corpusChrf(hyps: readonly string[], refs: ReferenceStreams, opts: ChrfOptions = {}): ChrfScore {
  checkStreams("corpusChrf", hyps, refs);
  return scoreSegments(hyps, refs, resolveOptions(opts));
}

/** Sentence chrF / chrF++ like sacreBLEU's `CHRF(...).sentence_score(hyp, refs)`. */
export function sentenceChrf(hyp: string, refs: readonly string[], opts: ChrfOptions = {}): ChrfScore {
  if (refs.length === 0) throw new MetricInputError("sentenceChrf: at least one reference is required");
  return scoreSegments([hyp], refs.map((r) => [r]), resolveOptions(opts));
}
