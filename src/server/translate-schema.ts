/**
 * The request bodies of POST /translate (Glossa and LibreTranslate shapes) and POST /detect as zod schemas: the
 * structural validation of src/server/translate-request.ts runs on them, and /openapi.json is generated from the
 * same objects. Limits that are server settings (texts per request, beam size, max_new_tokens) are built into the
 * schemas for the running server's settings, so the published description states the limits the server enforces.
 * Messages name the field and what was received, as before the schemas existed.
 */
import { TRANSLATABLE_ATTRIBUTES } from "./html.js";
import { z } from "./api-description.js";

export interface SchemaLimits {
  maxTexts: number;
  maxBeam: number;
  /** Largest max_new_tokens accepted. */
  maxNewTokens: number;
}

export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** A string or an array of strings (the texts of `field`), at most maxTexts of them. */
function texts(field: string, maxTexts: number) {
  return z
    .union([z.string(), z.array(z.string()).max(maxTexts)], {
      error: (iss) => {
        const v = iss.input;
        if (v === undefined) return `missing "${field}"`;
        if (Array.isArray(v)) {
          if (v.length > maxTexts) return `"${field}" has ${v.length} texts; at most ${maxTexts} per request`;
          const i = v.findIndex((t) => typeof t !== "string");
          return `"${field}[${i}]" must be a string, got ${describeValue(v[i])}`;
        }
        return `"${field}" must be a string or an array of strings, got ${describeValue(v)}`;
      },
    })
    .openapi({ description: `One text, or up to ${maxTexts} texts (answered in order)` });
}

function languageCode(field: string, allowAuto: boolean, example: string) {
  return z
    .string({
      error: (iss) => (iss.input === undefined ? `missing "${field}"` : `"${field}" must be a language code string, got ${describeValue(iss.input)}`),
    })
    .openapi({
      description: `BCP-47 tag (de, en-US, zh-Hans) or mBART code (zh_CN)${allowAuto ? '; "auto" detects it' : ""}`,
      example,
    });
}

const format = z.enum(["text", "html"], { error: () => `"format" must be "text" or "html"` }).optional().openapi({
  description: 'html: translate the text of an HTML fragment and keep its markup byte for byte (default "text")',
});

function int(name: string, min: number, max: number, description: string) {
  const message = `options.${name} must be an integer from ${min} to ${max}`;
  return z.number({ error: () => message }).int({ error: () => message }).min(min, { error: () => message }).max(max, { error: () => message }).optional().openapi({ description });
}

function num(name: string, min: number, max: number, exclusiveMin: boolean, description: string) {
  const message = `options.${name} must be a number ${exclusiveMin ? ">" : ">="} ${min} and <= ${max}`;
  const base = z.number({ error: () => message }).refine(Number.isFinite, { error: () => message });
  return (exclusiveMin ? base.refine((v) => v > min, { error: () => message }) : base.refine((v) => v >= min, { error: () => message }))
    .refine((v) => v <= max, { error: () => message })
    .optional()
    .openapi({ description, minimum: min, maximum: max, ...(exclusiveMin ? { exclusiveMinimum: min } : {}) });
}

function bool(name: string, description: string) {
  return z.boolean({ error: () => `options.${name} must be true or false` }).optional().openapi({ description });
}

export const OPTION_NAMES = [
  "beam_size", "max_new_tokens", "length_penalty", "early_stopping", "no_repeat_ngram_size", "repetition_penalty", "stream",
  "timeout_ms", "html_attributes", "alternatives",
] as const;

export function glossaOptionsSchema(limits: SchemaLimits) {
  const allowed = [...TRANSLATABLE_ATTRIBUTES].join(", ");
  return z
    .strictObject(
      {
        beam_size: int("beam_size", 1, limits.maxBeam, "1: greedy search (the default); more: beam search"),
        max_new_tokens: int("max_new_tokens", 1, limits.maxNewTokens, "Most tokens generated per segment (default: 16 + 2 x source tokens)"),
        length_penalty: num("length_penalty", -10, 10, false, "Beam scores are divided by length ** length_penalty"),
        early_stopping: bool("early_stopping", "Stop a beam search once beam_size hypotheses are finished"),
        no_repeat_ngram_size: int("no_repeat_ngram_size", 0, 32, "Ban repeating n-grams of this size (0: off)"),
        repetition_penalty: num("repetition_penalty", 0, 10, true, "1: off; > 1 penalises repeated tokens"),
        stream: bool("stream", "Answer with server-sent events: partial {index, text}, then done (the full answer)"),
        timeout_ms: int("timeout_ms", 1, 3_600_000, "Deadline in milliseconds (capped by the server's)"),
        html_attributes: z
          .array(z.string(), { error: () => `options.html_attributes must be a list of attribute names among ${allowed}` })
          .max(TRANSLATABLE_ATTRIBUTES.size, { error: () => `options.html_attributes must be a list of attribute names among ${allowed}` })
          .optional()
          .openapi({ description: `format html: attributes whose values are translated, among ${allowed}` }),
        alternatives: int("alternatives", 0, Math.max(0, limits.maxBeam - 1), "Other translations wanted, from the beam search's n-best list"),
      },
      {
        error: (iss) =>
          iss.code === "unrecognized_keys"
            ? `unknown option "${String((iss as { keys?: string[] }).keys?.[0] ?? "").slice(0, 40)}"; known: ${OPTION_NAMES.join(", ")}`
            : `"options" must be an object, got ${describeValue(iss.input)}`,
      },
    )
    .nullable()
    .optional();
}

/** The Glossa shape. Unknown top-level fields are ignored; unknown options are refused. */
export function glossaRequestSchema(limits: SchemaLimits) {
  return z
    .looseObject({
      text: texts("text", limits.maxTexts),
      source_lang: languageCode("source_lang", true, "en"),
      target_lang: languageCode("target_lang", false, "de"),
      format,
      options: glossaOptionsSchema(limits),
    })
    .openapi("GlossaTranslateRequest", {
      description: "Glossa's own shape",
      example: { text: ["The weather is nice today.", "Where is the station?"], source_lang: "en", target_lang: "de", options: { beam_size: 4 } },
    });
}

/** LibreTranslate's alternatives: a number, or a numeric string as a form field carries it. */
function libreAlternatives(max: number) {
  const notANumber = () => "Invalid request: alternatives parameter is not a number";
  return z
    .union([z.number({ error: notANumber }).int({ error: notANumber }), z.string({ error: notANumber }).regex(/^\s*-?\d+\s*$/, { error: notANumber })], {
      error: notANumber,
    })
    .optional()
    .openapi({ description: `Alternative translations wanted (n-best beams), at most ${max}`, example: 3 });
}

/** The LibreTranslate shape, as its clients send it (JSON, form or multipart fields). */
export function libreRequestSchema(limits: SchemaLimits) {
  return z
    .looseObject({
      q: texts("q", limits.maxTexts),
      source: languageCode("source", true, "auto"),
      target: languageCode("target", false, "es"),
      format,
      alternatives: libreAlternatives(Math.max(0, limits.maxBeam - 1)),
      api_key: z.string({ error: () => `"api_key" must be a string` }).optional().openapi({ description: "API key (when the server requires keys)" }),
      apiKey: z.string({ error: () => `"apiKey" must be a string` }).optional().openapi({ description: "Same as api_key (sent by some LibreTranslate clients)" }),
    })
    .openapi("LibreTranslateRequest", {
      description: "LibreTranslate's shape",
      example: { q: "Hello!", source: "en", target: "es", format: "text", alternatives: 3, api_key: "" },
    });
}

export const DetectRequest = z
  .looseObject({
    q: z.string({ error: () => '"q" must be a string' }).openapi({ description: "Text whose language is wanted" }),
    api_key: z.string().optional(),
  })
  .openapi("DetectRequest", { example: { q: "Bonjour tout le monde" } });

/** The first issue of a failed parse, as the message answered with 400. */
export function firstMessage(error: z.ZodError): string {
  const issue = error.issues.find((i) => i.code !== "invalid_type" || !/^Invalid input/.test(i.message)) ?? error.issues[0];
  return issue?.message ?? "invalid request";
}
