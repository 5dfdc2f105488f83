/**
 * The languages Glossa serves, with their mBART-50 codes.
 * ISO 639-1 codes are what clients usually send; mBART codes are what the model's tokenizer knows.
 */
export interface Language {
  /** ISO 639-1 code, e.g. "zh". */
  readonly iso: string;
  /** mBART-50 language code, e.g. "zh_CN". */
  readonly mbart: string;
  /** English name, as LibreTranslate's /languages shows it. */
  readonly name: string;
  /** Main script, used to check that output is in the right writing system. */
  readonly script: Script;
  /** sacreBLEU's default tokenizer when this language is the target. */
  readonly bleuTokenizer: "13a" | "zh";
}

export type Script = "Latin" | "Han" | "Arabic" | "Cyrillic" | "Devanagari";

export const LANGUAGES: readonly Language[] = [
  { iso: "en", mbart: "en_XX", name: "English", script: "Latin", bleuTokenizer: "13a" },
  { iso: "zh", mbart: "zh_CN", name: "Chinese", script: "Han", bleuTokenizer: "zh" },
  { iso: "ar", mbart: "ar_AR", name: "Arabic", script: "Arabic", bleuTokenizer: "13a" },
  { iso: "ru", mbart: "ru_RU", name: "Russian", script: "Cyrillic", bleuTokenizer: "13a" },
  { iso: "de", mbart: "de_DE", name: "German", script: "Latin", bleuTokenizer: "13a" },
  { iso: "es", mbart: "es_XX", name: "Spanish", script: "Latin", bleuTokenizer: "13a" },
  { iso: "fr", mbart: "fr_XX", name: "French", script: "Latin", bleuTokenizer: "13a" },
  { iso: "hi", mbart: "hi_IN", name: "Hindi", script: "Devanagari", bleuTokenizer: "13a" },
  { iso: "sw", mbart: "sw_KE", name: "Swahili", script: "Latin", bleuTokenizer: "13a" },
  { iso: "vi", mbart: "vi_VN", name: "Vietnamese", script: "Latin", bleuTokenizer: "13a" },
];

const byIso = new Map(LANGUAGES.map((l) => [l.iso, l]));
const byMbart = new Map(LANGUAGES.map((l) => [l.mbart.toLowerCase(), l]));

/** Resolves "zh", "ZH", "zh_CN", "zh-CN" to the language, or undefined when Glossa does not serve it. */
export function resolveLanguage(code: string): Language | undefined {
  const c = code.trim().replace("-", "_").toLowerCase();
  return byIso.get(c) ?? byMbart.get(c);
}

/** A translation direction, e.g. { src: de, tgt: en }. */
export interface Pair {
  readonly src: Language;
  readonly tgt: Language;
}

export function pairName(p: Pair): string {
  return `${p.src.iso}-${p.tgt.iso}`;
}

/** The 18 directions through English that every engine is gated on. */
export function englishPivotPairs(): Pair[] {
  const en = byIso.get("en")!;
  const out: Pair[] = [];
  for (const l of LANGUAGES) {
    if (l.iso === "en") continue;
    out.push({ src: en, tgt: l }, { src: l, tgt: en });
  }
  return out;
}

export function parsePair(name: string): Pair | undefined {
  const [a, b] = name.split("-");
  if (!a || !b) return undefined;
  const src = resolveLanguage(a);
  const tgt = resolveLanguage(b);
  return src && tgt ? { src, tgt } : undefined;
}
