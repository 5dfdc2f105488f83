/**
 * DeepL API v2, as its clients (deepl-node, deepl-python, plain HTTP) use it: POST /v2/translate (form or JSON
 * bodies, repeated `text`), GET|POST /v2/languages?type=source|target, GET|POST /v2/usage, the glossary
 * listings (always empty: Glossa has no glossaries). Auth: `Authorization: DeepL-Auth-Key KEY` (or the legacy
 * `auth_key` parameter); checked only when keys are required (GLOSSA_REQUIRE_KEYS).
 *
 * Behaviour follows DeepL's: errors are JSON {message} (plus Glossa's usual `error` field) with DeepL's statuses
 * (400 bad parameter with DeepL's wording, 403 bad key, 413 too large, 429 too many requests, 456 quota
 * exceeded); unknown parameters are ignored; features Glossa does not have are refused as DeepL refuses them
 * where they are unsupported (formality more/less: "'formality' is not supported for given 'target_lang'.";
 * glossary_id: no glossary exists).
 */
import { Hono, type Context } from "hono";
import { parseLanguageTag, resolveLanguage, type Language } from "../../languages.js";
import { countCharacters, keyFromAuthorization, type AccessGate, type Refusal } from "../access.js";
import { describeIssue, z, type ApiDescription } from "../api-description.js";
import { bodyFormat, decodeUtf8, parseFormBody, parseJsonBody, parseMultipartBody, readBodyBytes } from "../body.js";
import { HttpError } from "../http-error.js";
import type { TranslateCall } from "../translate-request.js";
import { startTranslation, type FlowDeps } from "../translate-flow.js";

export interface DeepLDeps {
  /** The translate core (src/server/translate-flow.ts) and the settings. */
  flow: FlowDeps;
  keys: AccessGate;
  /** Where the routes describe themselves (OpenAPI); optional for tests. */
  api?: ApiDescription;
}

/** DeepL's "unlimited" character_limit (what its API reports for accounts without a cap). */
export const DEEPL_UNLIMITED = 1_000_000_000_000;

interface DeepLLanguage {
  /** DeepL's code, upper case ("EN-US"). */
  code: string;
  name: string;
  /** Listed by /v2/languages (false: accepted for compatibility, e.g. the deprecated target "EN"). */
  listed: boolean;
}

/** Source languages: DeepL source codes are language-only ("EN", not "EN-US"). */
const SOURCE_LANGUAGES: readonly DeepLLanguage[] = ["AR", "DE", "EN", "ES", "FR", "HI", "RU", "SW", "VI", "ZH"].map((code) => ({
  code,
  name: resolveLanguage(code)!.name,
  listed: true,
}));

/** Target languages: English has its regional variants (one model output serves both), Chinese is Simplified. */
const TARGET_LANGUAGES: readonly DeepLLanguage[] = [
  { code: "AR", name: "Arabic", listed: true },
  { code: "DE", name: "German", listed: true },
  { code: "EN", name: "English", listed: false },
  { code: "EN-GB", name: "English (British)", listed: true },
  { code: "EN-US", name: "English (American)", listed: true },
  { code: "ES", name: "Spanish", listed: true },
  { code: "FR", name: "French", listed: true },
  { code: "HI", name: "Hindi", listed: true },
  { code: "RU", name: "Russian", listed: true },
  { code: "SW", name: "Swahili", listed: true },
  { code: "VI", name: "Vietnamese", listed: true },
  { code: "ZH", name: "Chinese (simplified)", listed: true },
  { code: "ZH-HANS", name: "Chinese (simplified)", listed: true },
];

const SOURCE_CODES = new Set(SOURCE_LANGUAGES.map((l) => l.code));
const TARGET_CODES = new Set(TARGET_LANGUAGES.map((l) => l.code));

/**
 * The served language of a DeepL code: only DeepL's own codes are accepted (DeepL refuses "DE-AT" or "EN-US" as a
 * source), then the BCP-47 parser maps them (EN-US -> English, ZH-HANS -> Simplified Chinese).
 */
function deeplLanguage(code: string, role: "source" | "target"): Language | undefined {
  const upper = code.trim().toUpperCase();
  if (!(role === "source" ? SOURCE_CODES : TARGET_CODES).has(upper)) return undefined;
  const parsed = parseLanguageTag(upper, role);
  return parsed.ok ? parsed.language : undefined;
}

/** DeepL's wording for a bad parameter value. */
const unsupported = (param: string): HttpError => new HttpError(400, `Value for '${param}' not supported.`);

// ---- schemas (validation and OpenAPI) ----

const boolish = z.union([z.enum(["0", "1"]), z.boolean()]);

export const DeepLTranslateRequest = z
  .object({
    text: z
      .union([z.string(), z.array(z.string()).min(1)])
      .openapi({ description: "Text(s) to translate; repeat the form field for several. Translations come back in the same order." }),
    target_lang: z.string().openapi({ description: "Target language: AR DE EN-GB EN-US ES FR HI RU SW VI ZH ZH-HANS (case-insensitive)", example: "DE" }),
    source_lang: z
      .string()
      .optional()
      .openapi({ description: "Source language (AR DE EN ES FR HI RU SW VI ZH); omit to detect it", example: "EN" }),
    split_sentences: z
      .enum(["0", "1", "nonewlines"])
      .optional()
      .openapi({ description: "1 (default): lines and punctuation split sentences; 0 and nonewlines: newlines do not (plain text)" }),
    preserve_formatting: boolish.optional().openapi({ description: "Accepted; Glossa always keeps the input's lines and spacing" }),
    formality: z
      .enum(["default", "more", "less", "prefer_more", "prefer_less"])
      .optional()
      .openapi({ description: "No target language supports formality: more/less are refused, prefer_* fall back to default" }),
    glossary_id: z.string().optional().openapi({ description: "Glossa has no glossaries: any id is refused" }),
    tag_handling: z.enum(["html", "xml"]).optional().openapi({ description: "Translate text between tags and keep the markup" }),
    show_billed_characters: z
      .union([z.enum(["0", "1", "true", "false"]), z.boolean()])
      .optional()
      .openapi({ description: "Add billed_characters to each translation" }),
    auth_key: z.string().optional().openapi({ description: "Legacy: the API key as a parameter (prefer the Authorization header)" }),
  })
  .loose()
  .openapi("DeepLTranslateRequest", { example: { text: ["Hello, world!"], target_lang: "DE" } });

export const DeepLTranslateResponse = z
  .object({
    translations: z.array(
      z.object({
        detected_source_language: z.string().openapi({ example: "EN" }),
        text: z.string(),
        billed_characters: z.number().int().optional(),
      }),
    ),
  })
  .openapi("DeepLTranslateResponse", { example: { translations: [{ detected_source_language: "EN", text: "Hallo, Welt!" }] } });

export const DeepLLanguagesQuery = z
  .object({ type: z.enum(["source", "target"]).optional().openapi({ description: "source (default) or target" }) })
  .loose();

export const DeepLLanguagesResponse = z
  .array(
    z.object({
      language: z.string(),
      name: z.string(),
      supports_formality: z.boolean().optional(),
    }),
  )
  .openapi("DeepLLanguages", { example: [{ language: "DE", name: "German", supports_formality: false }] });

export const DeepLUsageResponse = z
  .object({ character_count: z.number().int(), character_limit: z.number().int() })
  .openapi("DeepLUsage", { example: { character_count: 180118, character_limit: 1250000 } });

export const DeepLError = z
  .object({ message: z.string(), error: z.string().optional() })
  .openapi("DeepLError", { example: { message: "Value for 'target_lang' not supported." } });

// ---- request reading ----

type Params = Record<string, unknown>;

/** Query parameters and the body (JSON or form), the body winning; repeated form/query keys become arrays. */
async function readParams(req: Request, maxBytes: number): Promise<Params> {
  const url = new URL(req.url);
  const params: Params = {};
  for (const [k, v] of url.searchParams) {
    const prev = params[k];
    params[k] = prev === undefined ? v : Array.isArray(prev) ? [...(prev as string[]), v] : [prev, v];
  }
  if (req.method !== "POST") return params;
  const contentType = req.headers.get("content-type");
  bodyFormat(contentType, ""); // 415 before reading a body of another type
  const bytes = await readBodyBytes(req, maxBytes);
  if (bytes.length === 0) return params;
  if (bodyFormat(contentType, "") === "multipart") return { ...params, ...(await parseMultipartBody(bytes, contentType!)).fields };
  const text = decodeUtf8(bytes);
  const body = bodyFormat(contentType, text) === "json" ? parseJsonBody(text) : parseFormBody(text);
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "Invalid request: the body must be a JSON object");
  return { ...params, ...(body as Params) };
}

/** DeepL reads the first value of a repeated parameter (except `text`). */
function firstValues(p: Params): Params {
  const out: Params = {};
  for (const [k, v] of Object.entries(p)) out[k] = k !== "text" && Array.isArray(v) && v.every((x) => typeof x === "string") ? v[0] : v;
  return out;
}

function parseOrRefuse<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const { path, missing } = describeIssue(r.error, input);
  const param = path.split(".")[0] || "body";
  throw new HttpError(400, missing ? `Parameter '${param}' not specified.` : `Value for '${param}' not supported.`);
}

const truthy = (v: unknown): boolean => v === true || v === "1" || v === "true";

function presentedKey(c: Context, p: Params): string | undefined {
  const fromHeader = keyFromAuthorization(c.req.header("authorization"));
  if (fromHeader) return fromHeader;
  const k = p.auth_key;
  return typeof k === "string" && k !== "" ? k : undefined;
}

function refusalError(r: Refusal): HttpError {
  switch (r.reason) {
    case "missing":
      return new HttpError(403, "Authorization failure: no key (send Authorization: DeepL-Auth-Key KEY)");
    case "unknown":
      return new HttpError(403, "Authorization failure: unknown key");
    case "revoked":
      return new HttpError(403, "Authorization failure: the key was revoked");
    case "rate_limited":
      return new HttpError(429, `Too many requests: this key allows ${r.limit} per minute`, { "retry-after": String(r.retryAfterSeconds) });
    case "quota_exceeded":
      return new HttpError(456, "Quota for this billing period has been exceeded.");
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---- routes ----

const errorResponses = (statuses: number[]): Record<number, { description: string; content: { "application/json": { schema: typeof DeepLError } } }> => {
  const what: Record<number, string> = {
    400: "Bad parameter (DeepL's wording: \"Value for 'X' not supported.\", \"Parameter 'X' not specified.\")",
    403: "Missing, unknown or revoked key (when keys are required)",
    413: "Request too large (body, number of texts or characters)",
    415: "Unsupported content type",
    429: "Too many requests (the key's requests per minute, or the server's queue); see Retry-After",
    456: "The key's character quota for this month is used up",
    503: "The engine is still loading",
    504: "The translation did not finish before the deadline",
  };
  return Object.fromEntries(
    statuses.map((s) => [s, { description: what[s] ?? "Error", content: { "application/json": { schema: DeepLError } } }]),
  );
};

const security = [{ DeepLAuthKey: [] }];

function describeRoutes(api: ApiDescription): void {
  api.registry.registerComponent("securitySchemes", "DeepLAuthKey", {
    type: "apiKey",
    in: "header",
    name: "Authorization",
    description: "`DeepL-Auth-Key KEY` (or `Bearer KEY`); required only when the server runs with GLOSSA_REQUIRE_KEYS=1",
  });
  api.describe({
    method: "post",
    path: "/v2/translate",
    tags: ["DeepL"],
    summary: "Translate texts (DeepL API v2)",
    security,
    request: {
      body: {
        required: true,
        content: {
          "application/x-www-form-urlencoded": { schema: DeepLTranslateRequest },
          "application/json": { schema: DeepLTranslateRequest },
        },
      },
    },
    responses: {
      200: { description: "One translation per text, in order", content: { "application/json": { schema: DeepLTranslateResponse } } },
      ...errorResponses([400, 403, 413, 415, 429, 456, 503, 504]),
    },
  });
  for (const method of ["get", "post"] as const) {
    api.describe({
      method,
      path: "/v2/languages",
      tags: ["DeepL"],
      summary: "Languages offered as source (default) or target",
      security,
      request: { query: DeepLLanguagesQuery },
      responses: {
        200: { description: "The languages", content: { "application/json": { schema: DeepLLanguagesResponse } } },
        ...errorResponses([400, 403]),
      },
    });
    api.describe({
      method,
      path: "/v2/usage",
      tags: ["DeepL"],
      summary: "Characters translated this month and the key's monthly limit",
      security,
      responses: {
        200: { description: "Usage of the key (or of the whole server when keys are not required)", content: { "application/json": { schema: DeepLUsageResponse } } },
        ...errorResponses([403]),
      },
    });
  }
  api.describe({
    method: "get",
    path: "/v2/glossaries",
    tags: ["DeepL"],
    summary: "Glossaries (always none)",
    security,
    responses: {
      200: {
        description: "No glossaries",
        content: { "application/json": { schema: z.object({ glossaries: z.array(z.object({ glossary_id: z.string() }).loose()) }).openapi({ example: { glossaries: [] } }) } },
      },
      ...errorResponses([403]),
    },
  });
  api.describe({
    method: "get",
    path: "/v2/glossaries/{glossary_id}",
    tags: ["DeepL"],
    summary: "One glossary (never found)",
    security,
    request: { params: z.object({ glossary_id: z.string() }) },
    responses: { 404: { description: "No such glossary", content: { "application/json": { schema: DeepLError } } }, ...errorResponses([403]) },
  });
  api.describe({
    method: "post",
    path: "/v2/glossaries",
    tags: ["DeepL"],
    summary: "Create a glossary (refused: no language pair supports glossaries)",
    security,
    responses: errorResponses([400, 403]),
  });
  api.describe({
    method: "get",
    path: "/v2/glossary-language-pairs",
    tags: ["DeepL"],
    summary: "Language pairs that support glossaries (none)",
    security,
    responses: {
      200: {
        description: "No pairs",
        content: {
          "application/json": {
            schema: z
              .object({ supported_languages: z.array(z.object({ source_lang: z.string(), target_lang: z.string() })) })
              .openapi({ example: { supported_languages: [] } }),
          },
        },
      },
      ...errorResponses([403]),
    },
  });
}

export function deeplRoutes(deps: DeepLDeps): Hono {
  const { flow, keys } = deps;
  const settings = flow.settings;
  const app = new Hono();
  if (deps.api) describeRoutes(deps.api);
  /** Characters translated through these routes since start: /v2/usage when keys are not required. */
  let translatedSinceStart = 0;

  app.onError((err, c) => {
    const status = err instanceof HttpError ? err.status : 500;
    const message = err instanceof HttpError ? err.message : "Internal server error";
    const headers = err instanceof HttpError ? err.headers : {};
    return c.json({ message, error: message }, status as 400, headers);
  });

  /** A valid key when keys are required (read-only routes: nothing is counted). */
  const authorize = async (c: Context, p: Params): Promise<string | undefined> => {
    const key = presentedKey(c, p);
    const r = await keys.admit(key, 0, false);
    if (!r.ok) throw refusalError(r.refusal);
    return key;
  };

  app.post("/v2/translate", async (c) => {
    const arrived = performance.now();
    const raw = await readParams(c.req.raw, settings.maxBodyBytes);
    const key = await authorize(c, raw);
    const p = parseOrRefuse(DeepLTranslateRequest, firstValues(raw));

    const target = deeplLanguage(p.target_lang, "target");
    if (!target) throw unsupported("target_lang");
    const sourceCode = p.source_lang?.trim();
    const source = sourceCode === undefined || sourceCode === "" ? undefined : deeplLanguage(sourceCode, "source");
    if (sourceCode !== undefined && sourceCode !== "" && !source) throw unsupported("source_lang");
    if (p.glossary_id !== undefined) {
      if (!source) throw new HttpError(400, "Use of a glossary requires the source_lang parameter to be specified");
      if (!UUID.test(p.glossary_id)) throw unsupported("glossary_id");
      throw new HttpError(400, "Glossary not found.");
    }
    if (p.formality === "more" || p.formality === "less") throw new HttpError(400, "'formality' is not supported for given 'target_lang'.");

    const texts = typeof p.text === "string" ? [p.text] : p.text;
    if (texts.length > settings.maxTexts) throw new HttpError(413, `Too many texts: ${texts.length}; at most ${settings.maxTexts} per request`);
    const characters = countCharacters(texts);
    if (characters > settings.maxChars) throw new HttpError(413, `Request too large: ${characters} characters; at most ${settings.maxChars} per request`);

    const admitted = await keys.admit(key, characters);
    if (!admitted.ok) throw refusalError(admitted.refusal);
    const html = p.tag_handling !== undefined;
    // Plain text with split_sentences 0 or nonewlines: a newline does not end a sentence.
    const joinLines = !html && (p.split_sentences === "0" || p.split_sentences === "nonewlines");
    const inputs = texts.map((t) => (joinLines ? t.replace(/[ \t]*\r?\n[ \t]*/g, " ") : t));
    const work = inputs.map((t, i) => ({ t, i })).filter((x) => x.t.trim() !== "");
    const out: string[] = inputs.map((t) => (t.trim() === "" ? t : ""));
    let detected = source?.iso;
    try {
      if (work.length > 0) {
        const call: TranslateCall = {
          shape: "glossa",
          texts: work.map((w) => w.t),
          single: false,
          source,
          target,
          format: html ? "html" : "text",
          htmlAttributes: new Set(settings.htmlAttributes),
          overrides: {},
          stream: false,
          timeoutMs: undefined,
        };
        const started = await startTranslation(flow, call, { signal: c.req.raw.signal, arrived });
        const results = await started.run();
        flow.metrics.textsTranslated.inc(results.length);
        results.forEach((r, k) => (out[work[k]!.i] = r.text));
        detected = started.source.iso;
      }
    } catch (err) {
      await admitted.grant.refund();
      throw err;
    }
    translatedSinceStart += characters;
    const detectedCode = (detected ?? "en").toUpperCase();
    const billed = truthy(p.show_billed_characters);
    return c.json({
      translations: out.map((text, i) => ({
        detected_source_language: detectedCode,
        text,
        ...(billed ? { billed_characters: countCharacters([texts[i]!]) } : {}),
      })),
    });
  });
  app.all("/v2/translate", () => {
    throw new HttpError(405, "Method not allowed: use POST /v2/translate", { allow: "POST" });
  });

  const languages = async (c: Context) => {
    const raw = await readParams(c.req.raw, settings.maxBodyBytes);
    await authorize(c, raw);
    const type = firstValues(raw).type ?? "source";
    if (type !== "source" && type !== "target") throw new HttpError(400, "Parameter 'type' is invalid. 'source' and 'target' are valid values.");
    if (type === "source") return c.json(SOURCE_LANGUAGES.map((l) => ({ language: l.code, name: l.name })));
    return c.json(TARGET_LANGUAGES.filter((l) => l.listed).map((l) => ({ language: l.code, name: l.name, supports_formality: false })));
  };
  app.get("/v2/languages", languages);
  app.post("/v2/languages", languages);

  const usage = async (c: Context) => {
    const raw = await readParams(c.req.raw, settings.maxBodyBytes);
    const key = await authorize(c, raw);
    if (!keys.required) return c.json({ character_count: translatedSinceStart, character_limit: DEEPL_UNLIMITED });
    const u = await keys.usage(key);
    if (!u) throw new HttpError(403, "Authorization failure: unknown key");
    return c.json({ character_count: u.characters, character_limit: u.limit ?? DEEPL_UNLIMITED });
  };
  app.get("/v2/usage", usage);
  app.post("/v2/usage", usage);

  app.get("/v2/glossaries", async (c) => {
    await authorize(c, await readParams(c.req.raw, settings.maxBodyBytes));
    return c.json({ glossaries: [] });
  });
  app.post("/v2/glossaries", async (c) => {
    await authorize(c, await readParams(c.req.raw, settings.maxBodyBytes));
    throw new HttpError(400, "Unsupported glossary source and target language pair: this server has no glossaries");
  });
  app.get("/v2/glossaries/:glossary_id", async (c) => {
    await authorize(c, await readParams(c.req.raw, settings.maxBodyBytes));
    throw new HttpError(404, "Glossary not found.");
  });
  app.get("/v2/glossary-language-pairs", async (c) => {
    await authorize(c, await readParams(c.req.raw, settings.maxBodyBytes));
    return c.json({ supported_languages: [] });
  });

  return app;
}
