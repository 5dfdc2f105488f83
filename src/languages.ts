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
  /** ISO 15924 code of the only script the model reads and writes for this language (zh: Simplified, Hans). */
  readonly scriptCode: "Latn" | "Hans" | "Arab" | "Cyrl" | "Deva";
}

export type Script = "Latin" | "Han" | "Arabic" | "Cyrillic" | "Devanagari";

export const LANGUAGES: readonly Language[] = [
  { iso: "en", mbart: "en_XX", name: "English", script: "Latin", bleuTokenizer: "13a", scriptCode: "Latn" },
  { iso: "zh", mbart: "zh_CN", name: "Chinese", script: "Han", bleuTokenizer: "zh", scriptCode: "Hans" },
  { iso: "ar", mbart: "ar_AR", name: "Arabic", script: "Arabic", bleuTokenizer: "13a", scriptCode: "Arab" },
  { iso: "ru", mbart: "ru_RU", name: "Russian", script: "Cyrillic", bleuTokenizer: "13a", scriptCode: "Cyrl" },
  { iso: "de", mbart: "de_DE", name: "German", script: "Latin", bleuTokenizer: "13a", scriptCode: "Latn" },
  { iso: "es", mbart: "es_XX", name: "Spanish", script: "Latin", bleuTokenizer: "13a", scriptCode: "Latn" },
  { iso: "fr", mbart: "fr_XX", name: "French", script: "Latin", bleuTokenizer: "13a", scriptCode: "Latn" },
  { iso: "hi", mbart: "hi_IN", name: "Hindi", script: "Devanagari", bleuTokenizer: "13a", scriptCode: "Deva" },
  { iso: "sw", mbart: "sw_KE", name: "Swahili", script: "Latin", bleuTokenizer: "13a", scriptCode: "Latn" },
  { iso: "vi", mbart: "vi_VN", name: "Vietnamese", script: "Latin", bleuTokenizer: "13a", scriptCode: "Latn" },
];

const byIso = new Map(LANGUAGES.map((l) => [l.iso, l]));
const byMbart = new Map(LANGUAGES.map((l) => [l.mbart.toLowerCase(), l]));

/** Resolves "zh", "ZH", "zh_CN", "zh-CN" to the language, or undefined when Glossa does not serve it. */
export function resolveLanguage(code: string): Language | undefined {
  const c = code.trim().replace("-", "_").toLowerCase();
  return byIso.get(c) ?? byMbart.get(c);
}

/** Why a language tag was refused by parseLanguageTag. */
export type LanguageTagError =
  /** Not a well-formed BCP-47 tag (nor an mBART code such as zh_CN). */
  | "malformed"
  /** A well-formed tag for a language Glossa does not serve (pt-BR, he...). */
  | "unsupported_language"
  /** A served language in a script the model cannot read or write (zh-Hant, zh-TW, ru-Latn...). */
  | "unsupported_script";

export type LanguageTagResult =
  | {
      ok: true;
      language: Language;
      /** The canonical form of the tag the client sent (e.g. "EN-gb" -> "en-GB", "zh_CN" -> "zh-CN"). */
      tag: string;
      /** Region subtag when given ("US", "BR", "419"); the model ignores it. */
      region: string | undefined;
    }
  | { ok: false; error: LanguageTagError; message: string };

/** Codes that are not BCP-47 but that clients send: LibreTranslate's "zt" is Traditional Chinese. */
const TAG_ALIASES: ReadonlyMap<string, string> = new Map([["zt", "zh-Hant"]]);

const MAX_TAG_LENGTH = 64;

function displayName(type: "language" | "script", code: string): string | undefined {
  try {
    const name = new Intl.DisplayNames(["en"], { type }).of(code);
    return name && name !== code ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses a client's language code as BCP-47 (Intl.Locale: case-insensitive, ISO 639-2/3 aliases such as "deu",
 * "zho", "cmn" canonicalised) or as an mBART-50 code ("zh_CN", "en_XX"), and maps it to a served language.
 * The region is accepted and ignored (en-US, en-GB, es-419: one English, one Spanish). The script, given
 * explicitly (zh-Hant) or implied by the region (zh-TW, zh-HK: Traditional), must be the one the model reads
 * and writes: otherwise the tag is refused ("unsupported_script") rather than answered in another script.
 * `role` only words the message ("writes" for a target, "reads" for a source).
 */
export function parseLanguageTag(input: string, role: "source" | "target" = "target"): LanguageTagResult {
  const raw = input.trim();
  const shown = raw.length > 24 ? `${raw.slice(0, 24)}…` : raw;
  if (raw === "" || raw.length > MAX_TAG_LENGTH) {
    return { ok: false, error: "malformed", message: `"${shown}" is not a language tag` };
  }
  const aliased = TAG_ALIASES.get(raw.toLowerCase()) ?? raw.replace(/_/g, "-");
  let locale: Intl.Locale;
  try {
    locale = new Intl.Locale(aliased);
  } catch {
    return { ok: false, error: "malformed", message: `"${shown}" is not a BCP-47 language tag (like "de", "en-US", "zh-Hans") or mBART code (like "zh_CN")` };
  }
  const tag = locale.toString();
  const language = byIso.get(locale.language);
  if (!language) {
    const name = displayName("language", tag) ?? displayName("language", locale.language);
    const served = LANGUAGES.map((l) => l.iso).join(", ");
    return {
      ok: false,
      error: "unsupported_language",
      message: `${name ? `${name} ("${shown}")` : `"${shown}"`} is not served; served languages: ${served}`,
    };
  }
  // An explicit script wins; otherwise a region may imply one (zh-TW -> Hant). Without either, the default script.
  let script = locale.script;
  if (script === undefined && locale.region !== undefined) {
    try {
      script = locale.maximize().script;
    } catch {
      script = undefined;
    }
  }
  if (script !== undefined && script !== language.scriptCode) {
    const asked = displayName("script", script) ?? script;
    const own = displayName("script", language.scriptCode) ?? language.scriptCode;
    const verb = role === "source" ? "reads" : "writes";
    return {
      ok: false,
      error: "unsupported_script",
      message: `"${shown}" means ${language.name} in ${asked} script (${script}), but the model ${verb} ${language.name} only in ${own} script (${language.iso}-${language.scriptCode})`,
    };
  }
  return { ok: true, language, tag, region: locale.region };
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
