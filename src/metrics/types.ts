/** Public types of the sacreBLEU-compatible metrics (mirrors sacreBLEU 2.6.0). */

export type BleuTokenizerName = "13a" | "intl" | "zh" | "char" | "none";
export type BleuSmoothMethod = "exp" | "floor" | "add-k" | "none";

export interface BleuOptions {
  /** Tokenizer applied to hypotheses and references (default "13a"). */
  tokenize?: BleuTokenizerName;
  /** Smoothing method (default "exp"). */
  smoothMethod?: BleuSmoothMethod;
  /** Smoothing value: floor default 0.1, add-k default 1; ignored for exp/none. */
  smoothValue?: number;
  /** Lowercase before tokenizing (default false). */
  lowercase?: boolean;
  /** Use effective order (default false for corpusBleu, true for sentenceBleu, as sacreBLEU's API). */
  effectiveOrder?: boolean;
  /** Maximum n-gram order (default 4). */
  maxNgramOrder?: number;
}

export interface BleuScore {
  name: "BLEU";
  /** Unrounded BLEU in 0..100. */
  score: number;
  /** Matching n-gram counts for n = 1..maxNgramOrder (with add-k smoothing: plus k for n > 1, as sacreBLEU reports). */
  counts: number[];
  /** Hypothesis n-gram totals for n = 1..maxNgramOrder (with add-k smoothing: plus k for n > 1, as sacreBLEU reports). */
  totals: number[];
  /** Precisions in percent (after smoothing, as sacreBLEU reports them). */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  /** sysLen / refLen. */
  ratio: number;
  sysLen: number;
  refLen: number;
  /** e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0" */
  signature: string;
  /** sacreBLEU's verbose part, e.g. "60.0/40.0/25.0/10.0 (BP = 1.000 ratio = 1.000 hyp_len = 5 ref_len = 5)". */
  verbose: string;
  /** The sacreBLEU-like printed line, e.g. "BLEU = 32.15 60.0/40.0/25.0/10.0 (BP = 1.000 ratio = 1.000 hyp_len = 5 ref_len = 5)". */
  formatted: string;
}

export interface ChrfOptions {
  /** Character n-gram order (default 6). */
  charOrder?: number;
  /** Word n-gram order (default 0; 2 gives chrF++). */
  wordOrder?: number;
  /** Recall weight beta (default 2). */
  beta?: number;
  /** Lowercase before extracting n-grams (default false). */
  lowercase?: boolean;
  /** Keep whitespace in character n-grams (default false). */
  whitespace?: boolean;
  /** Use effective order (default true, as sacreBLEU's chrF). */
  effectiveOrder?: boolean;
}

export interface ChrfScore {
  /** "chrF2" or "chrF2++" (sacreBLEU's naming). */
  name: string;
  /** Unrounded chrF in 0..100. */
  score: number;
  charOrder: number;
  wordOrder: number;
  beta: number;
  /** e.g. "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0" */
  signature: string;
  /** The sacreBLEU-like printed line, e.g. "chrF2 = 51.23". */
  formatted: string;
}

/** Invalid input to a metric (mismatched stream lengths, bad option values). */
export class MetricInputError extends Error {
  override readonly name = "MetricInputError";
}
