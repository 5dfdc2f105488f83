/**
 * Sentence-level text functions for calibration curation: hashing, match normalisation, script shares,
 * and length units. Pure functions, no I/O.
 */
import { createHash } from "node:crypto";
import type { Script } from "../../languages.js";

/** sha256 (hex) of a string's UTF-8 bytes: the provenance hash of a corpus line, exactly as stored. */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * The form two sentences are compared in for de-duplication and evaluation-overlap checks:
 * NFKC, lower-cased, and only letters, combining marks and digits kept (punctuation, symbols,
 * whitespace and format characters such as a BOM dropped). Aggressive on purpose: a near-copy of an
 * evaluation sentence ("It's late!" vs "its late.") must count as a match; rejecting a training line
 * too many costs nothing.
 */
export function normalizeForMatch(text: string): string {
  return text.normalize("NFKC").toLowerCase().replace(/[^\p{L}\p{M}\p{N}]+/gu, "");
}

/** sha256 of the normalised form; "" for a sentence with nothing left after normalisation. */
export function normalizedHash(text: string): string {
  const n = normalizeForMatch(text);
  return n === "" ? "" : sha256Hex(n);
}

/**
 * Sentence-like segments of a line (split after . ! ? and their CJK / Devanagari / Arabic forms),
 * normalised, keeping only those at least `minChars` long after normalisation. Used to find an
 * evaluation sentence embedded in a multi-sentence training paragraph.
 */
export function matchSegments(text: string, minChars: number): string[] {
  const parts = text.split(/(?<=[.!?\u3002\uff01\uff1f\u0964\u06d4\u061f])\s*/u);
  if (parts.length < 2) return [];
  const out: string[] = [];
  for (const p of parts) {
    const n = normalizeForMatch(p);
    if ([...n].length >= minChars) out.push(n);
  }
  return out;
}

const SCRIPT_RE: Record<Script, RegExp> = {
  Latin: /\p{Script=Latin}/u,
  Han: /\p{Script=Han}/u,
  Arabic: /\p{Script=Arabic}/u,
  Cyrillic: /\p{Script=Cyrillic}/u,
  Devanagari: /\p{Script=Devanagari}/u,
};

const LETTER_RE = /\p{L}/u;

export interface ScriptShare {
  /** Letter units in the line (see scriptShare). */
  readonly letters: number;
  /** Share of those units in the expected script, 0..1 (0 when there are none). */
  readonly share: number;
}

/**
 * How much of a line's letters are in `script`. Letters are Unicode category L. For Han, where one
 * character is a word, each run of non-Han letters counts as one unit ("我叫Tom。" is 2 Han units
 * out of 3), so a Latin name does not outweigh the sentence around it.
 */
export function scriptShare(text: string, script: Script): ScriptShare {
  const re = SCRIPT_RE[script];
  const runsCountOnce = script === "Han";
  let letters = 0;
  let inScript = 0;
  let inForeignRun = false;
  for (const ch of text) {
    if (!LETTER_RE.test(ch)) {
      inForeignRun = false;
      continue;
    }
    if (re.test(ch)) {
      letters++;
      inScript++;
      inForeignRun = false;
    } else if (!runsCountOnce || !inForeignRun) {
      letters++;
      inForeignRun = true;
    }
  }
  return { letters, share: letters === 0 ? 0 : inScript / letters };
}

/**
 * Common characters that exist only in Traditional Chinese (their Simplified forms differ), e.g.
 * 這/这, 們/们, 說/说. A zh (Simplified, zh_CN) calibration line containing any of them is rejected.
 * A heuristic: it catches ordinary Traditional text, not every Traditional-only character.
 */
const TRADITIONAL_ONLY = new Set(
  [..."這們個來說時會為國對學過還點後裡嗎電話見問題開關東車長書氣聽讀寫買賣錢門間歡愛認識經現樣讓誰沒從頭應該發熱飯幾歲請謝麼別師媽園場兒號這麗幫邊變處隻歷萬與風飛魚鳥體黨義習書記貓馬覺給網總機華語議讓"],
);

/** True when the line holds at least one Traditional-only character. */
export function hasTraditionalOnlyHan(text: string): boolean {
  for (const ch of text) if (TRADITIONAL_ONLY.has(ch)) return true;
  return false;
}

/** What a sentence's length is measured in: whitespace tokens, or characters for unspaced scripts. */
export type LengthUnit = "whitespace-token" | "character";

export function lengthUnitFor(script: Script): LengthUnit {
  return script === "Han" ? "character" : "whitespace-token";
}

/** Length of a line in `unit`: whitespace-separated tokens, or non-space code points. */
export function lengthInUnits(text: string, unit: LengthUnit): number {
  const t = text.replace(/\p{Cf}/gu, "").trim();
  if (t === "") return 0;
  if (unit === "whitespace-token") return t.split(/\s+/u).length;
  let n = 0;
  for (const ch of t) if (!/\s/u.test(ch)) n++;
  return n;
}
