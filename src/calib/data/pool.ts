/**
 * A language's candidate pool: every training line that may enter a calibration set, after the
 * filters (eval-overlap lists, evaluation-sentence match on either side, script, length, duplicates).
 * Pure with respect to its inputs: the same corpora and evaluation index give the same pool.
 */
import { join } from "node:path";
import type { Language } from "../../languages.js";
import { readLinesWithHash, readOverlapList, requireLanguage, trainSourcesFor } from "./corpus.js";
import { CalibDataError } from "./errors.js";
import type { EvalIndex } from "./eval-index.js";
import {
  hasTraditionalOnlyHan,
  lengthInUnits,
  lengthUnitFor,
  matchSegments,
  normalizeForMatch,
  scriptShare,
  sha256Hex,
  type LengthUnit,
} from "./text.js";

/** The aligned other side of a candidate: where to re-read the decoder-side reference. */
export interface TargetRef {
  readonly lang: string;
  readonly file: string;
  readonly line: number;
  readonly sha256: string;
}

export interface Candidate {
  /** Corpus-relative path, e.g. "train/en-de/multi30k.de". */
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  /** sha256 of the line exactly as stored (UTF-8, no terminator). */
  readonly sha256: string;
  /** sha256 of the normalised line (de-duplication and overlap key). */
  readonly normHash: string;
  /** Length in the language's unit. */
  readonly units: number;
  /** Share of letters in the language's script, 0..1. */
  readonly scriptShare: number;
  readonly target?: TargetRef;
}

export const REJECT_REASONS = [
  "empty",
  "eval_overlap_list",
  "script",
  "traditional_chinese",
  "too_short",
  "too_long",
  "eval_match",
  "eval_segment_match",
  "target_empty",
  "target_eval_match",
  "duplicate",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface PoolOptions {
  /** Minimum share of letters in the language's script. */
  readonly minScriptShare?: number;
  /** Inclusive length bounds in the language's unit. */
  readonly minUnits?: number;
  readonly maxUnits?: number;
  /** Segments of multi-sentence lines at least this long (normalised code points) are checked too. */
  readonly minSegmentChars?: number;
}

export interface PoolSourceSummary {
  readonly file: string;
  /** sha256 of the file's bytes when the pool was built. */
  readonly fileSha256: string;
  readonly target?: { readonly lang: string; readonly file: string; readonly fileSha256: string };
  readonly lines: number;
  readonly accepted: number;
}

export interface Pool {
  readonly lang: string;
  readonly unit: LengthUnit;
  readonly options: Required<PoolOptions>;
  readonly candidates: readonly Candidate[];
  readonly rejected: Readonly<Record<RejectReason, number>>;
  readonly sources: readonly PoolSourceSummary[];
  readonly evalFingerprint: string;
}

/**
 * Defaults per script. A script share of 0.6 keeps lines with a brand or a Roman numeral
 * ("Я использую Firefox." is 0.59: rejected; "सुपर बाउल XLIX किसने जीता?" is 0.73: kept) and
 * rejects lines mostly in another script.
 */
export function defaultPoolOptions(lang: Language): Required<PoolOptions> {
  const han = lang.script === "Han";
  return {
    minScriptShare: 0.6,
    minUnits: 2,
    maxUnits: han ? 300 : 150,
    minSegmentChars: han ? 8 : 20,
  };
}

/** Builds `iso`'s candidate pool from the training side of the corpora. */
export function buildPool(corpora: string, iso: string, evalIndex: EvalIndex, options: PoolOptions = {}): Pool {
  const lang = requireLanguage(iso);
  const opts: Required<PoolOptions> = { ...defaultPoolOptions(lang), ...definedOnly(options) };
  const unit = lengthUnitFor(lang.script);
  const rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  const sources = trainSourcesFor(corpora, lang.iso);
  if (sources.length === 0) throw new CalibDataError(`no training files for ${lang.iso} under ${join(corpora, "train")}`);
  const seen = new Set<string>();
  const candidates: Candidate[] = [];
  const summaries: PoolSourceSummary[] = [];
  const isEval = (text: string): boolean => {
    const n = normalizeForMatch(text);
    return n !== "" && evalIndex.hashes.has(sha256Hex(n));
  };
  for (const src of sources) {
    const { lines, sha256: fileSha } = readLinesWithHash(join(corpora, src.file));
    const targetRead = src.target ? readLinesWithHash(join(corpora, src.target.file)) : undefined;
    const targetLines = targetRead?.lines;
    if (targetLines && targetLines.length !== lines.length) {
      throw new CalibDataError(
        `${src.file} has ${lines.length} lines but its aligned ${src.target!.file} has ${targetLines.length}: not line-aligned`,
      );
    }
    const overlap = src.overlapList ? readOverlapList(join(corpora, src.overlapList)) : new Set<number>();
    let accepted = 0;
    lines.forEach((text, i) => {
      const lineNo = i + 1;
      const reject = (r: RejectReason): void => {
        rejected[r]++;
      };
      const norm = normalizeForMatch(text);
      if (norm === "") return reject("empty");
      if (overlap.has(lineNo)) return reject("eval_overlap_list");
      const share = scriptShare(text, lang.script);
      if (share.letters === 0 || share.share < opts.minScriptShare) return reject("script");
      if (lang.script === "Han" && hasTraditionalOnlyHan(text)) return reject("traditional_chinese");
      const units = lengthInUnits(text, unit);
      if (units < opts.minUnits) return reject("too_short");
      if (units > opts.maxUnits) return reject("too_long");
      const normHash = sha256Hex(norm);
      if (evalIndex.hashes.has(normHash)) return reject("eval_match");
      if (matchSegments(text, opts.minSegmentChars).some((s) => evalIndex.hashes.has(sha256Hex(s)))) {
        return reject("eval_segment_match");
      }
      let target: TargetRef | undefined;
      if (src.target && targetLines) {
        const t = targetLines[i]!;
        if (normalizeForMatch(t) === "") return reject("target_empty");
        if (isEval(t)) return reject("target_eval_match");
        target = { lang: src.target.lang, file: src.target.file, line: lineNo, sha256: sha256Hex(t) };
      }
      if (seen.has(normHash)) return reject("duplicate");
      seen.add(normHash);
      accepted++;
      candidates.push({
        file: src.file,
        line: lineNo,
        sha256: sha256Hex(text),
        normHash,
        units,
        scriptShare: share.share,
        ...(target ? { target } : {}),
      });
    });
    summaries.push({
      file: src.file,
      fileSha256: fileSha,
      ...(src.target && targetRead ? { target: { lang: src.target.lang, file: src.target.file, fileSha256: targetRead.sha256 } } : {}),
      lines: lines.length,
      accepted,
    });
  }
  return { lang: lang.iso, unit, options: opts, candidates, rejected, sources: summaries, evalFingerprint: evalIndex.fingerprint };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
