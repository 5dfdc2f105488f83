/**
 * Validation of POST /translate bodies in both accepted shapes:
 *   Glossa:         {text: string | string[], source_lang, target_lang, format?: "text" | "html", options?: {...}}
 *   LibreTranslate: {q: string | string[], source, target, format?: "text" | "html", api_key?}
 * Everything a client sends is `unknown` until checked here; every failure is an HttpError with a clear message.
 */
import type { DecodeOptions } from "../engine/types.js";
import { parseLanguageTag, type Language } from "../languages.js";
import { TRANSLATABLE_ATTRIBUTES } from "./html.js";
import { HttpError } from "./http-error.js";

export type RequestShape = "glossa" | "libre";

export interface DecodeOverrides {
  beamSize?: number;
  maxNewTokens?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean;
  noRepeatNgramSize?: number;
  repetitionPenalty?: number;
}

export interface TranslateCall {
  shape: RequestShape;
  texts: string[];
  /** The client sent a single string (answer with a single string / one translation). */
  single: boolean;
  /** undefined when the client asked for automatic detection ("auto"). */
  source: Language | undefined;
  target: Language;
  format: "text" | "html";
  /** HTML attributes whose values are translated (format html): the server's default or the client's choice. */
  htmlAttributes: ReadonlySet<string>;
  overrides: DecodeOverrides;
  stream: boolean;
  /** Client-requested deadline in ms (capped by the server's). */
  timeoutMs: number | undefined;
  /** API key sent in the body (LibreTranslate's api_key, or apiKey as some of its clients send it). */
  apiKey?: string | undefined;
}

export interface RequestLimits {
  maxTexts: number;
  maxChars: number;
  maxBeam: number;
  /** Largest max_new_tokens accepted. */
  maxNewTokens: number;
  /** HTML attributes translated when the client does not choose (GLOSSA_HTML_ATTRIBUTES). */
  htmlAttributes?: ReadonlySet<string>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function bad(message: string): HttpError {
  return new HttpError(400, message);
}

/** Reads the texts of `field`: a string or an array of strings, within the limits. */
function readTexts(value: unknown, field: string, limits: RequestLimits): { texts: string[]; single: boolean } {
  let texts: string[];
  let single = false;
  if (typeof value === "string") {
    texts = [value];
    single = true;
  } else if (Array.isArray(value)) {
    if (value.length > limits.maxTexts) throw bad(`"${field}" has ${value.length} texts; at most ${limits.maxTexts} per request`);
    texts = value.map((t, i) => {
      if (typeof t !== "string") throw bad(`"${field}[${i}]" must be a string, got ${describe(t)}`);
      return t;
    });
  } else if (value === undefined) {
    throw bad(`missing "${field}"`);
  } else {
    throw bad(`"${field}" must be a string or an array of strings, got ${describe(value)}`);
  }
  if (texts.length === 0) throw bad(`"${field}" is an empty array: send at least one text`);
  if (texts.every((t) => t.trim() === "")) throw bad(`"${field}" is empty: nothing to translate`);
  const chars = texts.reduce((n, t) => n + t.length, 0);
  if (chars > limits.maxChars) throw new HttpError(413, `texts total ${chars} characters; at most ${limits.maxChars} per request`);
  return { texts, single };
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function readLanguage(value: unknown, field: string, allowAuto: boolean): Language | undefined {
  if (typeof value !== "string") {
    throw bad(value === undefined ? `missing "${field}"` : `"${field}" must be a language code string, got ${describe(value)}`);
  }
  if (allowAuto && value.trim().toLowerCase() === "auto") return undefined;
  const parsed = parseLanguageTag(value, allowAuto ? "source" : "target");
  if (!parsed.ok) {
    const hint = parsed.error === "unsupported_script" ? "" : '; see GET /languages (BCP-47 like "de", "en-US", "zh-Hans", or mBART like "zh_CN")';
    throw bad(`unsupported language in "${field}": ${parsed.message}${hint}`);
  }
  return parsed.language;
}

function readInt(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw bad(`options.${name} must be an integer from ${min} to ${max}`);
  }
  return v;
}

function readNumber(v: unknown, name: string, min: number, max: number, exclusiveMin = false): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v > max || (exclusiveMin ? v <= min : v < min)) {
    throw bad(`options.${name} must be a number ${exclusiveMin ? ">" : ">="} ${min} and <= ${max}`);
  }
  return v;
}

function readBool(v: unknown, name: string): boolean {
  if (typeof v !== "boolean") throw bad(`options.${name} must be true or false`);
  return v;
}

const OPTION_KEYS = new Set([
  "beam_size",
  "max_new_tokens",
  "length_penalty",
  "early_stopping",
  "no_repeat_ngram_size",
  "repetition_penalty",
  "stream",
  "timeout_ms",
  "html_attributes",
]);

function readOptions(
  value: unknown,
  limits: RequestLimits,
): { overrides: DecodeOverrides; stream: boolean; timeoutMs: number | undefined; htmlAttributes: ReadonlySet<string> | undefined } {
  const overrides: DecodeOverrides = {};
  if (value === undefined || value === null) return { overrides, stream: false, timeoutMs: undefined, htmlAttributes: undefined };
  if (!isRecord(value)) throw bad(`"options" must be an object, got ${describe(value)}`);
  for (const k of Object.keys(value)) {
    if (!OPTION_KEYS.has(k)) throw bad(`unknown option "${k.slice(0, 40)}"; known: ${[...OPTION_KEYS].join(", ")}`);
  }
  const o = value;
  if (o.beam_size !== undefined) overrides.beamSize = readInt(o.beam_size, "beam_size", 1, limits.maxBeam);
  if (o.max_new_tokens !== undefined) overrides.maxNewTokens = readInt(o.max_new_tokens, "max_new_tokens", 1, limits.maxNewTokens);
  if (o.length_penalty !== undefined) overrides.lengthPenalty = readNumber(o.length_penalty, "length_penalty", -10, 10);
  if (o.early_stopping !== undefined) overrides.earlyStopping = readBool(o.early_stopping, "early_stopping");
  if (o.no_repeat_ngram_size !== undefined) {
    overrides.noRepeatNgramSize = readInt(o.no_repeat_ngram_size, "no_repeat_ngram_size", 0, 32);
  }
  if (o.repetition_penalty !== undefined) {
    overrides.repetitionPenalty = readNumber(o.repetition_penalty, "repetition_penalty", 0, 10, true);
  }
  const stream = o.stream === undefined ? false : readBool(o.stream, "stream");
  const timeoutMs = o.timeout_ms === undefined ? undefined : readInt(o.timeout_ms, "timeout_ms", 1, 3_600_000);
  const htmlAttributes = o.html_attributes === undefined ? undefined : readAttributes(o.html_attributes);
  return { overrides, stream, timeoutMs, htmlAttributes };
}

function readAttributes(v: unknown): ReadonlySet<string> {
  const allowed = [...TRANSLATABLE_ATTRIBUTES].join(", ");
  if (!Array.isArray(v) || v.length > TRANSLATABLE_ATTRIBUTES.size) throw bad(`options.html_attributes must be a list of attribute names among ${allowed}`);
  const out = new Set<string>();
  for (const a of v) {
    const name = typeof a === "string" ? a.trim().toLowerCase() : "";
    if (!TRANSLATABLE_ATTRIBUTES.has(name)) throw bad(`options.html_attributes: "${String(a).slice(0, 40)}" cannot be translated; allowed: ${allowed}`);
    out.add(name);
  }
  return out;
}

function readFormat(v: unknown): "text" | "html" {
  const format = v ?? "text";
  if (format !== "text" && format !== "html") throw bad(`"format" must be "text" or "html"`);
  return format;
}

/** Validates a parsed body into a TranslateCall; throws HttpError(400/413). */
export function parseTranslateBody(body: unknown, limits: RequestLimits): TranslateCall {
  if (!isRecord(body)) throw bad(`the body must be a JSON object, got ${describe(body)}`);
  const hasText = Object.hasOwn(body, "text");
  const hasQ = Object.hasOwn(body, "q");
  if (hasText && hasQ) throw bad(`send either "text" (Glossa) or "q" (LibreTranslate), not both`);
  if (!hasText && !hasQ) throw bad(`missing "text" (Glossa shape) or "q" (LibreTranslate shape)`);
  if (hasQ) {
    const { texts, single } = readTexts(body.q, "q", limits);
    const format = readFormat(body.format);
    if (body.api_key !== undefined && typeof body.api_key !== "string") throw bad(`"api_key" must be a string`);
    if (body.apiKey !== undefined && typeof body.apiKey !== "string") throw bad(`"apiKey" must be a string`);
    const apiKey = (body.api_key as string | undefined) || (body.apiKey as string | undefined) || undefined;
    return {
      shape: "libre",
      texts,
      single,
      source: readLanguage(body.source, "source", true),
      target: readLanguage(body.target, "target", false)!,
      format,
      htmlAttributes: limits.htmlAttributes ?? new Set(),
      overrides: {},
      stream: false,
      timeoutMs: undefined,
      apiKey,
    };
  }
  const { texts, single } = readTexts(body.text, "text", limits);
  const { overrides, stream, timeoutMs, htmlAttributes } = readOptions(body.options, limits);
  const format = readFormat(body.format);
  return {
    shape: "glossa",
    texts,
    single,
    source: readLanguage(body.source_lang, "source_lang", true),
    target: readLanguage(body.target_lang, "target_lang", false)!,
    format,
    htmlAttributes: htmlAttributes ?? limits.htmlAttributes ?? new Set(),
    overrides,
    stream,
    timeoutMs,
  };
}

/**
 * The decode options of a segment: server defaults (operator > engine > model's generation_config > built-in,
 * src/engine/decode-defaults.ts), then the client's overrides.
 */
export function decodeOptionsFor(
  defaults: DecodeOptions,
  overrides: DecodeOverrides,
  srcTokens: number,
  maxNewTokensCap: number,
  maxNewTokensDefault?: number,
): DecodeOptions {
  // Unless the client or a defaults layer chose, allow generous room for the translation relative to the source.
  const fallback = maxNewTokensDefault ?? 16 + 2 * srcTokens;
  return {
    ...defaults,
    maxNewTokens: Math.min(maxNewTokensCap, overrides.maxNewTokens ?? fallback),
    ...(overrides.beamSize !== undefined ? { beamSize: overrides.beamSize } : {}),
    ...(overrides.lengthPenalty !== undefined ? { lengthPenalty: overrides.lengthPenalty } : {}),
    ...(overrides.earlyStopping !== undefined ? { earlyStopping: overrides.earlyStopping } : {}),
    ...(overrides.noRepeatNgramSize !== undefined ? { noRepeatNgramSize: overrides.noRepeatNgramSize } : {}),
    ...(overrides.repetitionPenalty !== undefined ? { repetitionPenalty: overrides.repetitionPenalty } : {}),
  };
}
