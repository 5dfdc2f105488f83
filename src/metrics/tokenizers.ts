/**
 * The BLEU tokenizers of sacreBLEU 2.6.0 (`13a`, `intl`, `zh`, `char`, `none`), reimplemented.
 * Each takes one (already right-stripped, optionally lowercased) segment and returns it with tokens
 * separated by single spaces (except `none`, which returns the line unchanged).
 */
import { MetricInputError } from "./types.js";
import type { BleuTokenizerName } from "./types.js";
import { pyNormalizeSpaces, pyStrip } from "./pystr.js";

export interface BleuTokenizer {
  /** The `tok:` field of the BLEU signature. */
  readonly signature: BleuTokenizerName;
  tokenize(line: string): string;
}

/**
 * mteval-v13a's language-dependent rules (sacreBLEU's TokenizerRegexp, shared by `13a` and `zh`),
 * applied in order, each as a global left-to-right substitution like Python's `re.sub`.
 */
const MTEVAL_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // Separate ASCII punctuation and symbols except ' , - . (and digits/letters):
  // the class [{-~ [-` space-& (-+ :-@ /] of mteval-v13a.
  [/([\x7b-\x7e\x5b-\x60\x20-\x26\x28-\x2b\x3a-\x40\x2f])/gu, " $1 "],
  // Period and comma unless preceded by a digit.
  [/([^0-9])([.,])/gu, "$1 $2 "],
  // Period and comma unless followed by a digit.
  [/([.,])([^0-9])/gu, " $1 $2"],
  // Dash when preceded by a digit.
  [/([0-9])(-)/gu, "$1 $2 "],
];

function applyMtevalRules(line: string): string {
  let out = line;
  for (const [pattern, replacement] of MTEVAL_RULES) out = out.replace(pattern, replacement);
  return pyNormalizeSpaces(out);
}

/** sacreBLEU `13a` (mteval-v13a): skipped markers, hyphenated line joins, four HTML entities. */
export function tokenize13a(input: string): string {
  let line = input.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (line.includes("&")) {
    // Sequential, as sacreBLEU: "&amp;lt;" becomes "&lt;" and then "<".
    line = line
      .replaceAll("&quot;", '"')
      .replaceAll("&amp;", "&")
      .replaceAll("&lt;", "<")
      .replaceAll("&gt;", ">");
  }
  return applyMtevalRules(` ${line} `);
}

/**
 * sacreBLEU `intl` (mteval-v14 international): split Unicode punctuation (\p{P}) off unless it sits
 * between digits on the relevant side, and split every Unicode symbol (\p{S}).
 * JavaScript's \p{..} with the `u` flag uses the same General_Category sets as Python's `regex`.
 */
const INTL_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/(\P{N})(\p{P})/gu, "$1 $2 "],
  [/(\p{P})(\P{N})/gu, " $1 $2"],
  [/(\p{S})/gu, " $1 "],
];

export function tokenizeIntl(input: string): string {
  let line = input;
  for (const [pattern, replacement] of INTL_RULES) line = line.replace(pattern, replacement);
  return pyNormalizeSpaces(line);
}

/**
 * The code point ranges sacreBLEU's `zh` tokenizer treats as Chinese, as Python actually evaluates
 * `start <= ch <= end` on its _UCODE_RANGES strings. Two of those literals were meant as astral
 * code points but Python reads '\u20000' as U+2000 followed by '0' (and '\u2a6d6' as U+2A6D, '6'),
 * so the comparison of a one-character string selects U+2001..U+2A6D (general punctuation, arrows,
 * math operators, ...) instead of CJK Extension B; likewise '\u2f800'..'\u2fa1d' selects
 * U+2F81..U+2FA1. Astral CJK characters are therefore NOT split by sacreBLEU; neither are they here.
 */
const ZH_CHINESE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x3400, 0x4db5], // CJK Unified Ideographs Extension A
  [0x4e00, 0x9fa5], // CJK Unified Ideographs
  [0x9fa6, 0x9fbb], // CJK Unified Ideographs, release 4.1
  [0xf900, 0xfa2d], // CJK Compatibility Ideographs
  [0xfa30, 0xfa6a], // CJK Compatibility Ideographs, release 3.2
  [0xfa70, 0xfad9], // CJK Compatibility Ideographs, release 4.1
  [0x2001, 0x2a6d], // intended U+20000..U+2A6D6 (Extension B); Python reads U+2001..U+2A6D
  [0x2f81, 0x2fa1], // intended U+2F800..U+2FA1D (Compatibility Supplement); Python reads U+2F81..U+2FA1
  [0xff00, 0xffef], // full-width ASCII and punctuation, half-width kana, Hangul
  [0x2e80, 0x2eff], // CJK Radicals Supplement
  [0x3000, 0x303f], // CJK punctuation
  [0x31c0, 0x31ef], // CJK strokes
  [0x2f00, 0x2fdf], // Kangxi Radicals
  [0x2ff0, 0x2fff], // ideographic description characters
  [0x3100, 0x312f], // Bopomofo
  [0x31a0, 0x31bf], // Bopomofo Extended
  [0xfe10, 0xfe1f], // vertical forms
  [0xfe30, 0xfe4f], // CJK compatibility forms
  [0x2600, 0x26ff], // miscellaneous symbols
  [0x2700, 0x27bf], // dingbats
  [0x3200, 0x32ff], // enclosed CJK letters and months
  [0x3300, 0x33ff], // CJK compatibility
];

export function isZhChineseCodePoint(codePoint: number): boolean {
  for (const [start, end] of ZH_CHINESE_RANGES) {
    if (codePoint >= start && codePoint <= end) return true;
  }
  return false;
}

/** sacreBLEU `zh`: strip, space out "Chinese" code points, then the mteval rules (no 13a pre-steps). */
export function tokenizeZh(input: string): string {
  const parts: string[] = [];
  for (const ch of pyStrip(input)) {
    parts.push(isZhChineseCodePoint(ch.codePointAt(0) ?? 0) ? ` ${ch} ` : ch);
  }
  return applyMtevalRules(parts.join(""));
}

/** sacreBLEU `char`: every code point (whitespace included) joined by single spaces. */
export function tokenizeChar(input: string): string {
  return Array.from(input).join(" ");
}

/** sacreBLEU `none`: the line unchanged. */
export function tokenizeNone(input: string): string {
  return input;
}

const TOKENIZERS: Readonly<Record<BleuTokenizerName, (line: string) => string>> = {
  "13a": tokenize13a,
  intl: tokenizeIntl,
  zh: tokenizeZh,
  char: tokenizeChar,
  none: tokenizeNone,
};

export const BLEU_TOKENIZER_NAMES: readonly BleuTokenizerName[] = ["13a", "intl", "zh", "char", "none"];

export function isBleuTokenizerName(name: string): name is BleuTokenizerName {
  return (BLEU_TOKENIZER_NAMES as readonly string[]).includes(name);
}

export function getBleuTokenizer(name: string): BleuTokenizer {
  if (!isBleuTokenizerName(name)) {
    throw new MetricInputError(
      `unknown BLEU tokenizer ${JSON.stringify(name)} (expected one of ${BLEU_TOKENIZER_NAMES.join(", ")})`,
    );
  }
  return { signature: name, tokenize: TOKENIZERS[name] };
}
