/**
 * Validation of POST /translate bodies in both accepted shapes:
 *   Glossa:         {text: string | string[], source_lang, target_lang, format?: "text" | "html", options?: {...}}
 *   LibreTranslate: {q: string | string[], source, target, format?: "text" | "html", api_key?}
 * Everything a client sends is `unknown` until checked here; every failure is an HttpError with a clear message.
 * The structure is checked by the zod schemas of src/server/translate-schema.ts (which /openapi.json publishes);
 * what follows them here is semantic: languages, emptiness, the characters limit.
 */
import type { DecodeOptions } from "../engine/types.js";
import { parseLanguageTag, type Language } from "../languages.js";
import type { z } from "./api-description.js";
import { TRANSLATABLE_ATTRIBUTES } from "./html.js";
import { HttpError } from "./http-error.js";
import { describeValue, firstMessage, glossaRequestSchema, libreRequestSchema, type SchemaLimits } from "./translate-schema.js";

export type RequestShape = "glossa" | "libre";

export interface DecodeOverrides {
  beamSize?: number;
  maxNewTokens?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean;
  noRepeatNgramSize?: number;
  repetitionPenalty?: number;
  /** Alternative translations wanted (n-best): beam search with at least alternatives + 1 beams. */
  alternatives?: number;
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

export function bad(message: string): HttpError {
  return new HttpError(400, message);
}

/** Checks what the schema cannot: something to translate, and the characters limit (413). */
function checkTexts(value: string | string[], field: string, limits: RequestLimits): { texts: string[]; single: boolean } {
  const single = typeof value === "string";
  const texts = single ? [value] : value;
  if (texts.length === 0) throw bad(`"${field}" is an empty array: send at least one text`);
  if (texts.every((t) => t.trim() === "")) throw bad(`"${field}" is empty: nothing to translate`);
  const chars = texts.reduce((n, t) => n + t.length, 0);
  if (chars > limits.maxChars) throw new HttpError(413, `texts total ${chars} characters; at most ${limits.maxChars} per request`);
  return { texts, single };
}

function readLanguage(value: string, field: string, allowAuto: boolean): Language | undefined {
  if (allowAuto && value.trim().toLowerCase() === "auto") return undefined;
  const parsed = parseLanguageTag(value, allowAuto ? "source" : "target");
  if (!parsed.ok) {
    const hint = parsed.error === "unsupported_script" ? "" : '; see GET /languages (BCP-47 like "de", "en-US", "zh-Hans", or mBART like "zh_CN")';
    throw bad(`unsupported language in "${field}": ${parsed.message}${hint}`);
  }
  return parsed.language;
}

function readAttributes(v: readonly string[]): ReadonlySet<string> {
  const allowed = [...TRANSLATABLE_ATTRIBUTES].join(", ");
  const out = new Set<string>();
  for (const a of v) {
    const name = a.trim().toLowerCase();
    if (!TRANSLATABLE_ATTRIBUTES.has(name)) throw bad(`options.html_attributes: "${a.slice(0, 40)}" cannot be translated; allowed: ${allowed}`);
    out.add(name);
  }
  return out;
}

type Schemas = { glossa: ReturnType<typeof glossaRequestSchema>; libre: ReturnType<typeof libreRequestSchema> };
const schemaCache = new Map<string, Schemas>();

/** The request schemas for these limits (built once per distinct limits: the server has one set). */
export function translateSchemas(limits: SchemaLimits): Schemas {
  const key = `${limits.maxTexts}/${limits.maxBeam}/${limits.maxNewTokens}`;
  let s = schemaCache.get(key);
  if (!s) {
    s = { glossa: glossaRequestSchema(limits), libre: libreRequestSchema(limits) };
    schemaCache.set(key, s);
  }
  return s;
}

function parseWith<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: z.ZodError } }, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw bad(firstMessage(r.error));
  return r.data;
}

/** Validates a parsed body into a TranslateCall; throws HttpError(400/413). Structure: src/server/translate-schema.ts. */
export function parseTranslateBody(body: unknown, limits: RequestLimits): TranslateCall {
  if (!isRecord(body)) throw bad(`the body must be a JSON object, got ${describeValue(body)}`);
  const hasText = Object.hasOwn(body, "text");
  const hasQ = Object.hasOwn(body, "q");
  if (hasText && hasQ) throw bad(`send either "text" (Glossa) or "q" (LibreTranslate), not both`);
  if (!hasText && !hasQ) throw bad(`missing "text" (Glossa shape) or "q" (LibreTranslate shape)`);
  const schemas = translateSchemas(limits);
  if (hasQ) {
    const b = parseWith(schemas.libre, body);
    const { texts, single } = checkTexts(b.q, "q", limits);
    const apiKey = b.api_key || b.apiKey || undefined;
    const alternatives = b.alternatives === undefined ? 0 : Math.max(0, Number(b.alternatives));
    const maxAlternatives = Math.max(0, limits.maxBeam - 1);
    if (alternatives > maxAlternatives) throw bad(`Invalid request: alternatives parameter must be <= ${maxAlternatives}`);
    return {
      shape: "libre",
      texts,
      single,
      source: readLanguage(b.source, "source", true),
      target: readLanguage(b.target, "target", false)!,
      format: b.format ?? "text",
      htmlAttributes: limits.htmlAttributes ?? new Set(),
      overrides: alternatives > 0 ? { alternatives } : {},
      stream: false,
      timeoutMs: undefined,
      apiKey,
    };
  }
  const b = parseWith(schemas.glossa, body);
  const { texts, single } = checkTexts(b.text, "text", limits);
  const o = b.options ?? {};
  const overrides: DecodeOverrides = {};
  if (o.beam_size !== undefined) overrides.beamSize = o.beam_size;
  if (o.max_new_tokens !== undefined) overrides.maxNewTokens = o.max_new_tokens;
  if (o.length_penalty !== undefined) overrides.lengthPenalty = o.length_penalty;
  if (o.early_stopping !== undefined) overrides.earlyStopping = o.early_stopping;
  if (o.no_repeat_ngram_size !== undefined) overrides.noRepeatNgramSize = o.no_repeat_ngram_size;
  if (o.repetition_penalty !== undefined) overrides.repetitionPenalty = o.repetition_penalty;
  if (o.alternatives) overrides.alternatives = o.alternatives;
  const htmlAttributes = o.html_attributes === undefined ? undefined : readAttributes(o.html_attributes);
  return {
    shape: "glossa",
    texts,
    single,
    source: readLanguage(b.source_lang, "source_lang", true),
    target: readLanguage(b.target_lang, "target_lang", false)!,
    format: b.format ?? "text",
    htmlAttributes: htmlAttributes ?? limits.htmlAttributes ?? new Set(),
    overrides,
    stream: o.stream ?? false,
    timeoutMs: o.timeout_ms,
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
    // n alternatives need n + 1 finished beams.
    ...(overrides.alternatives ? { beamSize: Math.max(overrides.beamSize ?? defaults.beamSize, overrides.alternatives + 1) } : {}),
  };
}
