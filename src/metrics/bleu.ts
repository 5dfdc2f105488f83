/**
 * BLEU (Papineni et al., 2002) exactly as sacreBLEU 2.6.0 computes it: per-segment n-gram
 * statistics against the best-matching references, summed over the corpus, then smoothed.
 */
import { exp, log } from "./crmath.js";
import { formatScoreLine, formatSignature } from "./format.js";
import { pyFormatFixed, pyLower, pyRstrip, pySplit } from "./pystr.js";
import { getBleuTokenizer } from "./tokenizers.js";
import type { BleuTokenizer } from "./tokenizers.js";
import { MetricInputError } from "./types.js";
import type { BleuOptions, BleuScore, BleuSmoothMethod } from "./types.js";
import { checkStreams, countReferences } from "./streams.js";
import type { ReferenceStreams } from "./streams.js";

const DEFAULT_MAX_NGRAM_ORDER = 4;

/** sacreBLEU's BLEU.SMOOTH_DEFAULTS: methods that take a value, and that value's default. */
const SMOOTH_DEFAULTS: Readonly<Record<BleuSmoothMethod, number | null>> = {
  none: null,
  floor: 0.1,
  "add-k": 1,
  exp: null,
};

export const BLEU_SMOOTH_METHODS: readonly BleuSmoothMethod[] = ["exp", "floor", "add-k", "none"];

export function isBleuSmoothMethod(name: string): name is BleuSmoothMethod {
  return (BLEU_SMOOTH_METHODS as readonly string[]).includes(name);
}

/** sacreBLEU's `my_log`: log with log(0) floored to -9999999999 (correctly rounded, as glibc's). */
function flooredLog(x: number): number {
  return x === 0 ? -9999999999 : log(x);
}

interface ResolvedBleuOptions {
  tokenizer: BleuTokenizer;
  smoothMethod: BleuSmoothMethod;
  /** As given by the caller (null = method default), which the signature needs. */
  smoothValue: number | null;
  lowercase: boolean;
  effectiveOrder: boolean;
  maxNgramOrder: number;
}

function resolveOptions(opts: BleuOptions, effectiveOrderDefault: boolean): ResolvedBleuOptions {
  const smoothMethod = opts.smoothMethod ?? "exp";
  if (!isBleuSmoothMethod(smoothMethod)) {
    throw new MetricInputError(
      `unknown BLEU smoothing method ${JSON.stringify(smoothMethod)} (expected one of ${BLEU_SMOOTH_METHODS.join(", ")})`,
    );
  }
  const smoothValue = opts.smoothValue ?? null;
  if (smoothValue !== null && !Number.isFinite(smoothValue)) {
    throw new MetricInputError(`BLEU smoothing value must be a finite number, got ${smoothValue}`);
  }
  const maxNgramOrder = opts.maxNgramOrder ?? DEFAULT_MAX_NGRAM_ORDER;
  if (!Number.isInteger(maxNgramOrder) || maxNgramOrder < 1) {
    throw new MetricInputError(`BLEU max n-gram order must be a positive integer, got ${maxNgramOrder}`);
  }
  return {
    tokenizer: getBleuTokenizer(opts.tokenize ?? "13a"),
    smoothMethod,
    smoothValue,
    lowercase: opts.lowercase ?? false,
    effectiveOrder: opts.effectiveOrder ?? effectiveOrderDefault,
    maxNgramOrder,
  };
}

/** Word n-grams of orders 1..maxOrder of a tokenized line (Python `split()`), counted per order. */
function extractWordNgrams(line: string, maxOrder: number): { ngrams: Map<string, number>[]; length: number } {
  const tokens = pySplit(line);
  const ngrams: Map<string, number>[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const counts = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      // Tokens never contain whitespace, so joining with a space is an unambiguous key.
      const key = tokens.slice(i, i + n).join(" ");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    ngrams.push(counts);
  }
  return { ngrams, length: tokens.length };
}

interface ReferenceInfo {
  /** Per order, per n-gram: the maximum count over the references. */
  maxCounts: Map<string, number>[];
  lengths: number[];
}

function extractReferenceInfo(refs: readonly string[], maxOrder: number): ReferenceInfo {
  const maxCounts = Array.from({ length: maxOrder }, () => new Map<string, number>());
  const lengths: number[] = [];
  for (const ref of refs) {
    const { ngrams, length } = extractWordNgrams(ref, maxOrder);
    lengths.push(length);
    ngrams.forEach((counts, order) => {
      const merged = maxCounts[order];
      if (!merged) return;
      for (const [ngram, count] of counts) {
        const previous = merged.get(ngram);
        if (previous === undefined || count > previous) merged.set(ngram, count);
      }
    });
  }
  return { maxCounts, lengths };
}

/** The reference length closest to the hypothesis length; ties go to the shorter reference. */
function closestReferenceLength(hypLen: number, refLens: readonly number[]): number {
  let closestDiff = -1;
  let closestLen = -1;
  for (const refLen of refLens) {
    const diff = Math.abs(hypLen - refLen);
    if (closestDiff === -1 || diff < closestDiff) {
      closestDiff = diff;
      closestLen = refLen;
    } else if (diff === closestDiff && refLen < closestLen) {
      closestLen = refLen;
    }
  }
  return closestLen;
}

/** Sufficient statistics of one segment: [hypLen, refLen, correct_1..N, total_1..N]. */
function segmentStatistics(hyp: string, refInfo: ReferenceInfo, maxOrder: number): number[] {
  const { ngrams, length: hypLen } = extractWordNgrams(hyp, maxOrder);
  const refLen = closestReferenceLength(hypLen, refInfo.lengths);
  const correct = new Array<number>(maxOrder).fill(0);
  const total = new Array<number>(maxOrder).fill(0);
  ngrams.forEach((counts, order) => {
    const refCounts = refInfo.maxCounts[order];
    let orderTotal = 0;
    let orderCorrect = 0;
    for (const [ngram, count] of counts) {
      orderTotal += count;
      const refCount = refCounts?.get(ngram);
      if (refCount !== undefined) orderCorrect += Math.min(count, refCount);
    }
    total[order] = orderTotal;
    correct[order] = orderCorrect;
  });
  return [hypLen, refLen, ...correct, ...total];
}

function preprocess(segment: string, o: ResolvedBleuOptions): string {
  const cased = o.lowercase ? pyLower(segment) : segment;
  return o.tokenizer.tokenize(pyRstrip(cased));
}

function bleuSignature(o: ResolvedBleuOptions, nrefs: number | "var"): string {
  const smoothDefault = SMOOTH_DEFAULTS[o.smoothMethod];
  let smooth: string = o.smoothMethod;
  if (smoothDefault !== null) smooth += `[${pyFormatFixed(o.smoothValue ?? smoothDefault, 2)}]`;
  return formatSignature([
    ["nrefs", nrefs],
    ["case", o.lowercase ? "lc" : "mixed"],
    ["eff", o.effectiveOrder ? "yes" : "no"],
    ["tok", o.tokenizer.signature],
    ["smooth", smooth],
  ]);
}

/** sacreBLEU's `BLEU.compute_bleu`, including its in-place add-k adjustment of counts and totals. */
function computeBleu(
  counts: number[],
  totals: number[],
  sysLen: number,
  refLen: number,
  o: ResolvedBleuOptions,
  signature: string,
): BleuScore {
  const maxOrder = o.maxNgramOrder;
  const smoothValue = o.smoothValue ?? SMOOTH_DEFAULTS[o.smoothMethod] ?? 0;
  let bp = 1.0;
  if (sysLen < refLen) bp = sysLen > 0 ? exp(1 - refLen / sysLen) : 0.0;
  const precisions = new Array<number>(maxOrder).fill(0);
  const build = (score: number): BleuScore => {
    const ratio = refLen ? sysLen / refLen : 0;
    const verbose =
      `${precisions.map((p) => pyFormatFixed(p, 1)).join("/")} (BP = ${pyFormatFixed(bp, 3)} ` +
      `ratio = ${pyFormatFixed(ratio, 3)} hyp_len = ${sysLen} ref_len = ${refLen})`;
    return {
      name: "BLEU",
      score,
      counts,
      totals,
      precisions,
      bp,
      ratio,
      sysLen,
      refLen,
      signature,
      verbose,
      formatted: formatScoreLine("BLEU", score, verbose, 2),
    };
  };

  // Early stop when nothing matches at any order (sacreBLEU #141).
  if (!counts.some((c) => c !== 0)) return build(0.0);

  let smoothMteval = 1.0;
  let effOrder = maxOrder;
  for (let n = 1; n <= maxOrder; n++) {
    const i = n - 1;
    if (o.smoothMethod === "add-k" && n > 1) {
      counts[i] = (counts[i] ?? 0) + smoothValue;
      totals[i] = (totals[i] ?? 0) + smoothValue;
    }
    const total = totals[i] ?? 0;
    const correct = counts[i] ?? 0;
    if (total === 0) break;
    if (o.effectiveOrder) effOrder = n;
    if (correct === 0) {
      if (o.smoothMethod === "exp") {
        smoothMteval *= 2;
        precisions[i] = 100.0 / (smoothMteval * total);
      } else if (o.smoothMethod === "floor") {
        precisions[i] = (100.0 * smoothValue) / total;
      }
    } else {
      precisions[i] = (100.0 * correct) / total;
    }
  }
  let logSum = 0;
  for (let i = 0; i < effOrder; i++) logSum += flooredLog(precisions[i] ?? 0);
  return build(bp * exp(logSum / effOrder));
}

function scoreStatistics(
  hyps: readonly string[],
  refs: ReferenceStreams,
  o: ResolvedBleuOptions,
): { stats: number[]; nrefs: number | "var" } {
  const order = o.maxNgramOrder;
  const summed = new Array<number>(2 + 2 * order).fill(0);
  for (let i = 0; i < hyps.length; i++) {
    const segmentRefs: string[] = [];
    for (const stream of refs) {
      const ref = stream[i];
      if (ref !== null && ref !== undefined) segmentRefs.push(preprocess(ref, o));
    }
    if (segmentRefs.length === 0) {
      throw new MetricInputError(`BLEU: segment ${i + 1} has no reference (every stream is null there)`);
    }
    const refInfo = extractReferenceInfo(segmentRefs, order);
    const stats = segmentStatistics(preprocess(hyps[i] ?? "", o), refInfo, order);
    for (let k = 0; k < summed.length; k++) summed[k] = (summed[k] ?? 0) + (stats[k] ?? 0);
  }
  return { stats: summed, nrefs: countReferences(refs, hyps.length) };
}

/**
 * Corpus BLEU like sacreBLEU's `BLEU(...).corpus_score(hyps, refs)`.
 * `refs[k][i]` is the k-th reference of segment i (one array per reference stream, as sacreBLEU);
 * a null entry means "no k-th reference for this segment" (variable number of references).
 */
export function corpusBleu(hyps: readonly string[], refs: ReferenceStreams, opts: BleuOptions = {}): BleuScore {
  checkStreams("corpusBleu", hyps, refs);
  const o = resolveOptions(opts, false);
  const { stats, nrefs } = scoreStatistics(hyps, refs, o);
  const order = o.maxNgramOrder;
  return computeBleu(
    stats.slice(2, 2 + order),
    stats.slice(2 + order),
    stats[0] ?? 0,
    stats[1] ?? 0,
    o,
    bleuSignature(o, nrefs),
  );
}

/**
 * Sentence BLEU like sacreBLEU's `sentence_bleu(hyp, refs)`: effective order on by default
 * (as sacreBLEU's `sentence_bleu` and `--sentence-level`), overridable through `effectiveOrder`.
 */
export function sentenceBleu(hyp: string, refs: readonly string[], opts: BleuOptions = {}): BleuScore {
  if (refs.length === 0) throw new MetricInputError("sentenceBleu: at least one reference is required");
  const o = resolveOptions(opts, true);
  const streams = refs.map((r) => [r]);
  const { stats, nrefs } = scoreStatistics([hyp], streams, o);
  const order = o.maxNgramOrder;
  return computeBleu(
    stats.slice(2, 2 + order),
    stats.slice(2 + order),
    stats[0] ?? 0,
    stats[1] ?? 0,
    o,
    bleuSignature(o, nrefs),
  );
}
