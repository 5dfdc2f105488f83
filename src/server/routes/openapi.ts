/**
 * The API's description: GET /openapi.json (OpenAPI 3.1, generated from the zod schemas the routes validate
 * with: src/server/translate-schema.ts for /translate and /detect, src/server/routes/deepl.ts for /v2/*), the same
 * document at GET /spec (where LibreTranslate serves its description), and GET /docs, a documentation page
 * rendered on the server from the document (self-contained: no scripts, nothing loaded from elsewhere).
 *
 * describeServerRoutes() declares the routes that do not describe themselves (the core routes of app.ts, the web
 * pages, the LibreTranslate file routes, the admin routes); test/openapi.test.ts checks that every route the app
 * registers is described and that every example in the document validates against its schema.
 */
import { Hono } from "hono";
import { ApiDescription, z, type OpenApiDocument } from "../api-description.js";
import type { ServerSettings } from "../settings.js";
import { DetectRequest } from "../translate-schema.js";
import { translateSchemas } from "../translate-request.js";

export const ErrorBody = z.object({ error: z.string() }).openapi("Error", { example: { error: '"q" must be a string' } });

const errors = (statuses: Record<number, string>) =>
  Object.fromEntries(Object.entries(statuses).map(([s, d]) => [s, { description: d, content: { "application/json": { schema: ErrorBody } } }]));

const GlossaTranslateResponse = z
  .object({
    translations: z.array(
      z.object({
        text: z.string(),
        detected_source_language: z.string().optional(),
        tokens: z.number().int(),
        finish_reason: z.enum(["eos", "length"]),
        alternatives: z.array(z.string()).optional(),
      }),
    ),
    source_lang: z.string(),
    target_lang: z.string(),
    model: z.string(),
    engine: z.string(),
    pivot: z.string().optional(),
  })
  .openapi("GlossaTranslateResponse", {
    example: {
      translations: [{ text: "Das Wetter ist heute schön.", tokens: 9, finish_reason: "eos" }],
      source_lang: "en",
      target_lang: "de",
      model: "glossa-mini-50",
      engine: "glossa-mini-50",
    },
  });

const Detected = z.object({ language: z.string(), confidence: z.number().min(0).max(100) });

const LibreTranslateResponse = z
  .object({
    translatedText: z.union([z.string(), z.array(z.string())]),
    detectedLanguage: z.union([Detected, z.array(Detected)]).optional(),
    alternatives: z.union([z.array(z.string()), z.array(z.array(z.string()))]).optional(),
    pivot: z.string().optional(),
  })
  .openapi("LibreTranslateResponse", { example: { translatedText: "¡Hola!", alternatives: ["¡Hola, amigo!"] } });

const DetectResponse = z.array(Detected).openapi("DetectResponse", { example: [{ language: "fr", confidence: 90.2 }] });

const LanguagesResponse = z
  .array(
    z.object({
      code: z.string(),
      name: z.string(),
      targets: z.array(z.string()),
      direct_targets: z.array(z.string()),
      pivot: z.string().nullable(),
    }),
  )
  .openapi("Languages", { example: [{ code: "de", name: "German", targets: ["en", "fr"], direct_targets: ["en"], pivot: "en" }] });

const TranslateFileRequest = z
  .object({
    file: z.string().openapi({ format: "binary", description: ".txt, .html or .srt (UTF-8)" }),
    source: z.string().openapi({ description: 'Source language or "auto"', example: "en" }),
    target: z.string().openapi({ example: "de" }),
    api_key: z.string().optional(),
  })
  .openapi("TranslateFileRequest", { example: { file: "Hello world.\n", source: "en", target: "de" } });

const FrontendSettings = z
  .object({
    charLimit: z.number().int(),
    frontendTimeout: z.number().int(),
    apiKeys: z.boolean(),
    keyRequired: z.boolean(),
    suggestions: z.boolean(),
    filesTranslation: z.boolean(),
    supportedFilesFormat: z.array(z.string()),
    alternatives: z.number().int(),
    language: z.object({ source: z.object({ code: z.string(), name: z.string() }), target: z.object({ code: z.string(), name: z.string() }) }),
  })
  .loose()
  .openapi("FrontendSettings");

const html = (description: string) => ({ description, content: { "text/html": { schema: z.string() } } });

/** Declares the routes that do not describe themselves, with the server's limits. */
export function describeServerRoutes(api: ApiDescription, settings: ServerSettings): void {
  const { glossa, libre } = translateSchemas({ maxTexts: settings.maxTexts, maxBeam: settings.maxBeam, maxNewTokens: settings.maxNewTokens });
  const translateBody = z.union([glossa, libre]);
  api.registry.registerComponent("securitySchemes", "ApiKey", {
    type: "http",
    scheme: "bearer",
    description: "An API key from `glossa keys create` (required only with GLOSSA_REQUIRE_KEYS=1; LibreTranslate clients send api_key in the body instead)",
  });
  api.registry.registerComponent("securitySchemes", "AdminKey", {
    type: "http",
    scheme: "bearer",
    description: "GLOSSA_ADMIN_KEY (or the x-admin-key header); the /admin routes answer 404 when no admin key is configured",
  });
  const keyed: Array<Record<string, string[]>> = [{ ApiKey: [] }, {}];

  api.describe({
    method: "post",
    path: "/translate",
    tags: ["Translate"],
    summary: "Translate texts (Glossa shape with `text`, or LibreTranslate shape with `q`)",
    security: keyed,
    request: {
      body: {
        required: true,
        content: {
          "application/json": { schema: translateBody },
          "application/x-www-form-urlencoded": { schema: libre },
          "multipart/form-data": { schema: libre },
        },
      },
    },
    responses: {
      200: {
        description: "The translations (Glossa shape), or translatedText (LibreTranslate shape); with options.stream, server-sent events",
        content: {
          "application/json": { schema: z.union([GlossaTranslateResponse, LibreTranslateResponse]) },
          "text/event-stream": { schema: z.string().openapi({ description: "event: partial {index, text} ... event: done <the JSON answer>" }) },
        },
      },
      ...errors({
        400: "Malformed body, unknown language, nothing to translate, undetectable source; LibreTranslate: API key missing",
        401: "API key missing (Glossa shape, when keys are required)",
        403: "API key unknown or revoked",
        413: "Body, texts or characters over the limits",
        415: "Unsupported content type",
        429: "Queue full, or the key's requests per minute or characters per month used up (Retry-After)",
        503: "The engine is still loading",
        504: "Deadline passed",
      }),
    },
  });
  api.describe({
    method: "post",
    path: "/detect",
    tags: ["Translate"],
    summary: "Languages of a text (LibreTranslate): served languages with the model's probabilities, best first",
    security: keyed,
    request: {
      body: {
        required: true,
        content: {
          "application/json": { schema: DetectRequest },
          "application/x-www-form-urlencoded": { schema: DetectRequest },
          "multipart/form-data": { schema: DetectRequest },
        },
      },
    },
    responses: { 200: { description: "Candidates (empty for text without letters)", content: { "application/json": { schema: DetectResponse } } }, ...errors({ 400: "No q", 413: "Too long" }) },
  });
  api.describe({
    method: "get",
    path: "/languages",
    tags: ["Translate"],
    summary: "Languages and their targets (direct, or through the pivot)",
    responses: { 200: { description: "LibreTranslate's shape plus direct_targets and pivot", content: { "application/json": { schema: LanguagesResponse } } } },
  });
  api.describe({
    method: "post",
    path: "/translate_file",
    tags: ["Translate"],
    summary: "Translate a .txt, .html or .srt file (LibreTranslate); download it from translatedFileUrl",
    security: keyed,
    request: { body: { required: true, content: { "multipart/form-data": { schema: TranslateFileRequest } } } },
    responses: {
      200: {
        description: "Where to download the translated file (kept 30 minutes)",
        content: { "application/json": { schema: z.object({ translatedFileUrl: z.string() }).openapi({ example: { translatedFileUrl: "http://127.0.0.1:8080/download_file/0b9c2c5e-1c39-4f57-9a57-8e1e3a8f7d10.notes.txt" } }) } },
      },
      ...errors({ 400: "Missing field, unsupported format or language, not UTF-8", 403: "Invalid API key", 413: "Too much text", 429: "Limits" }),
    },
  });
  api.describe({
    method: "get",
    path: "/download_file/{filename}",
    tags: ["Translate"],
    summary: "A translated file, as an attachment under the uploaded name",
    request: { params: z.object({ filename: z.string() }) },
    responses: { 200: { description: "The file", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } }, ...errors({ 400: "Invalid filename", 404: "No such file (or expired)" }) },
  });
  api.describe({
    method: "get",
    path: "/health",
    tags: ["Service"],
    summary: "Alive",
    responses: { 200: { description: "Always", content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } } } },
  });
  api.describe({
    method: "get",
    path: "/ready",
    tags: ["Service"],
    summary: "Engines loaded and serving",
    responses: {
      200: {
        description: "Ready: model, precision, kernels, threads, engines",
        content: { "application/json": { schema: z.object({ status: z.literal("ready"), model: z.string().optional(), engines: z.array(z.string()) }).loose() } },
      },
      ...errors({ 503: "Still loading" }),
    },
  });
  api.describe({
    method: "get",
    path: "/metrics",
    tags: ["Service"],
    summary: "Prometheus metrics (text exposition format)",
    responses: { 200: { description: "Metrics", content: { "text/plain": { schema: z.string() } } } },
  });
  api.describe({
    method: "get",
    path: "/frontend/settings",
    tags: ["Web"],
    summary: "LibreTranslate's page settings",
    responses: { 200: { description: "Settings", content: { "application/json": { schema: FrontendSettings } } } },
  });
  api.describe({ method: "get", path: "/", tags: ["Web"], summary: "Translate page", responses: { 200: html("The page") } });
  api.describe({ method: "get", path: "/dashboard", tags: ["Web"], summary: "Quality dashboard", responses: { 200: html("The page") } });
  api.describe({
    method: "get",
    path: "/assets/{file}",
    tags: ["Web"],
    summary: "The pages' scripts, styles and icons",
    request: { params: z.object({ file: z.string() }) },
    responses: { 200: { description: "The asset" }, ...errors({ 404: "No such asset" }) },
  });
  api.describe({
    method: "get",
    path: "/api/dashboard",
    tags: ["Web"],
    summary: "The dashboard's data: scores vs the reference, gates, releases, calibration profiles, throughput",
    responses: { 200: { description: "Registry read-only view", content: { "application/json": { schema: z.object({}).loose() } } } },
  });
  api.describe({
    method: "get",
    path: "/openapi.json",
    tags: ["Service"],
    summary: "This description (OpenAPI 3.1)",
    responses: { 200: { description: "The document", content: { "application/json": { schema: z.object({ openapi: z.string() }).loose() } } } },
  });
  api.describe({
    method: "get",
    path: "/spec",
    tags: ["Service"],
    summary: "The same description, where LibreTranslate serves its own",
    responses: { 200: { description: "The document", content: { "application/json": { schema: z.object({ openapi: z.string() }).loose() } } } },
  });
  api.describe({ method: "get", path: "/docs", tags: ["Service"], summary: "Documentation page of this description", responses: { 200: html("The page") } });

  const admin = [{ AdminKey: [] }];
  const adminErrors = errors({ 401: "No admin key", 403: "Wrong admin key", 404: "Admin routes disabled (no GLOSSA_ADMIN_KEY) or no such set" });
  const loose = { "application/json": { schema: z.object({}).loose() } };
  api.describe({ method: "get", path: "/admin/calib-data", tags: ["Admin"], summary: "Calibration sets", security: admin, responses: { 200: { description: "Sets", content: loose }, ...adminErrors } });
  api.describe({
    method: "get",
    path: "/admin/calib-data/{set}/stats",
    tags: ["Admin"],
    summary: "Statistics of one calibration set",
    security: admin,
    request: { params: z.object({ set: z.string() }) },
    responses: { 200: { description: "Stats", content: loose }, ...adminErrors },
  });
  api.describe({
    method: "post",
    path: "/admin/calib-data/sample",
    tags: ["Admin"],
    summary: "Sample a calibration set (runs as a job in a worker thread)",
    security: admin,
    request: { body: { content: loose } },
    responses: { 202: { description: "The job (follow it at /admin/jobs/{id})", content: loose }, ...adminErrors },
  });
  api.describe({
    method: "post",
    path: "/admin/calib-data/{set}/exclude",
    tags: ["Admin"],
    summary: "Exclude members from a calibration set (runs as a job in a worker thread)",
    security: admin,
    request: { params: z.object({ set: z.string() }), body: { content: loose } },
    responses: { 202: { description: "The job (follow it at /admin/jobs/{id})", content: loose }, ...adminErrors },
  });
  api.describe({
    method: "get",
    path: "/admin/jobs",
    tags: ["Admin"],
    summary: "Admin jobs",
    security: admin,
    responses: { 200: { description: "The jobs", content: loose }, ...adminErrors },
  });
  api.describe({
    method: "get",
    path: "/admin/jobs/{id}",
    tags: ["Admin"],
    summary: "One admin job: status, log, result or error",
    security: admin,
    request: { params: z.object({ id: z.string() }) },
    responses: { 200: { description: "The job", content: loose }, ...adminErrors },
  });
}

const INFO = {
  title: "Glossa",
  version: "0.1.0",
  description:
    "Self-hosted translation. Glossa's own API, and drop-in LibreTranslate (/translate with q, /detect, /languages, /translate_file) and DeepL API v2 (/v2/*) endpoints.",
};

export interface OpenApiDeps {
  api: ApiDescription;
}

export function openapiRoutes(deps: OpenApiDeps): Hono {
  const app = new Hono();
  let cached: OpenApiDocument | undefined;
  const doc = (): OpenApiDocument => (cached ??= deps.api.document(INFO));
  app.get("/openapi.json", (c) => c.json(doc()));
  app.get("/spec", (c) => c.json(doc()));
  app.all("/spec", (c) => c.json({ error: "use GET /spec" }, 405, { allow: "GET" }));
  app.get("/docs", (c) =>
    c.html(renderDocs(doc()), 200, { "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'" }),
  );
  return app;
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The documentation page: every operation with its parameters, request and response schemas and examples. */
export function renderDocs(doc: OpenApiDocument): string {
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item as Record<string, Record<string, unknown>>)) {
      const tag = ((op.tags as string[] | undefined) ?? ["Other"])[0]!;
      const id = `${method}-${path}`.replace(/[^a-z0-9]+/gi, "-");
      const body = op.requestBody as { content?: Record<string, { schema?: unknown; example?: unknown }> } | undefined;
      const responses = (op.responses ?? {}) as Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
      const parts = [
        `<section id="${esc(id)}"><h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>`,
        `<p>${esc(String(op.summary ?? ""))}</p>`,
      ];
      if (body?.content) {
        for (const [type, media] of Object.entries(body.content)) {
          parts.push(`<details><summary>Request body: ${esc(type)}</summary><pre>${esc(JSON.stringify(media.schema, null, 2))}</pre></details>`);
        }
      }
      const rows = Object.entries(responses).map(([status, r]) => `<tr><td>${esc(status)}</td><td>${esc(r.description ?? "")}</td><td>${esc(Object.keys(r.content ?? {}).join(", "))}</td></tr>`);
      parts.push(`<table><tr><th>Status</th><th>Meaning</th><th>Content</th></tr>${rows.join("")}</table></section>`);
      byTag.set(tag, [...(byTag.get(tag) ?? []), parts.join("\n")]);
    }
  }
  const components = JSON.stringify(doc.components?.schemas ?? {}, null, 2);
  const sections = [...byTag.entries()].map(([tag, ops]) => `<h2>${esc(tag)}</h2>\n${ops.join("\n")}`).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(doc.info.title)} API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
code,pre{font:13px ui-monospace,monospace}pre{background:#f4f4f6;padding:.75rem;overflow:auto}
section{border-top:1px solid #ddd;padding:.5rem 0}.m{display:inline-block;min-width:4rem;padding:0 .4rem;border-radius:3px;color:#fff;font-size:13px}
.get{background:#2b6cb0}.post{background:#2f855a}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}</style>
</head><body>
<h1>${esc(doc.info.title)} API <small>${esc(doc.info.version)}</small></h1>
<p>${esc(doc.info.description ?? "")}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${esc(doc.openapi)}).</p>
${sections}
<h2>Schemas</h2><details><summary>All component schemas</summary><pre>${esc(components)}</pre></details>
</body></html>`;
}
