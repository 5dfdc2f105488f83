/**
 * A small source-language detector for "auto": the script decides for Han, Arabic, Cyrillic and Devanagari;
 * among the Latin-script languages, distinctive letters and common function words vote. Returns undefined when
 * the evidence is too thin (the caller then answers 400 and asks for an explicit source language).
 */
import { LANGUAGES, type Language } from "../languages.js";

export interface Detection {
  language: Language;
  /** 0..100, LibreTranslate's convention. */
  confidence: number;
}

const SCRIPT_RANGES: Array<[string, RegExp]> = [
  ["zh", /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/gu],
  ["ar", /[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]/gu],
  ["ru", /[\u0400-\u04ff]/gu],
  ["hi", /[\u0900-\u097f]/gu],
];

const FUNCTION_WORDS: Record<string, string[]> = {
  en: ["the", "and", "is", "are", "of", "to", "in", "that", "it", "was", "with", "for", "this", "you", "have", "not", "be", "on", "we", "they"],
  de: ["der", "die", "das", "und", "ist", "nicht", "ein", "eine", "ich", "zu", "den", "mit", "sich", "auf", "für", "wir", "sie", "es", "dem", "auch"],
  es: ["el", "la", "los", "las", "y", "es", "que", "de", "en", "un", "una", "por", "con", "para", "no", "se", "del", "está", "muy", "pero"],
  fr: ["le", "la", "les", "et", "est", "des", "un", "une", "que", "pas", "je", "nous", "vous", "dans", "pour", "sur", "avec", "ce", "il", "du"],
  sw: ["na", "ya", "wa", "kwa", "ni", "za", "katika", "hii", "kuwa", "hiyo", "la", "cha", "yake", "lakini", "sana", "watu", "huo", "pia", "kama", "hakuna"],
  vi: ["là", "của", "và", "những", "các", "có", "không", "được", "một", "người", "trong", "cho", "này", "với", "đã", "tôi", "chúng", "rất", "khi", "cũng"],
};

const DISTINCTIVE: Record<string, RegExp> = {
  de: /[äöüß]/giu,
  es: /[ñ¿¡]/giu,
  fr: /[çœèêëîïûù]/giu,
  vi: /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]/giu,
};

const byIso = new Map(LANGUAGES.map((l) => [l.iso, l]));

export function detectLanguage(text: string): Detection | undefined {
  const sample = text.slice(0, 2000);
  const letters = (sample.match(/\p{L}/gu) ?? []).length;
  if (letters === 0) return undefined;
  for (const [iso, re] of SCRIPT_RANGES) {
    const n = (sample.match(re) ?? []).length;
    if (n / letters > 0.3) return { language: byIso.get(iso)!, confidence: Math.round(Math.min(1, n / letters + 0.2) * 100) };
  }
  const words = sample.toLowerCase().match(/\p{L}+/gu) ?? [];
  const scores = new Map<string, number>();
  for (const [iso, list] of Object.entries(FUNCTION_WORDS)) {
    const set = new Set(list);
    let s = words.reduce((n, w) => n + (set.has(w) ? 1 : 0), 0);
    const d = DISTINCTIVE[iso];
    if (d) s += 1.5 * (sample.match(d) ?? []).length;
    scores.set(iso, s);
  }
  const ranked = [...scores.entries()].sort((a, b) => b[1] - a[1]);
  const [best, second] = ranked;
  if (!best || best[1] < 1 || best[1] <= (second?.[1] ?? 0)) return undefined;
  const confidence = Math.round((100 * (best[1] - (second?.[1] ?? 0))) / best[1]);
  return { language: byIso.get(best[0])!, confidence };
}
