/**
 * The HTTP API (Hono): POST /translate (Glossa and LibreTranslate shapes, optional SSE streaming), POST /detect,
 * GET /languages, /health, /ready, /metrics, and the /admin mount point. Every error is answered as JSON {error}.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono, type Context } from "hono";
import { LANGUAGES, type Language } from "../languages.js";
import { isSchedulerError, type SchedulerError } from "../scheduler/errors.js";
import { bodyFormat, decodeUtf8, parseFormBody, parseJsonBody, readBodyBytes } from "./body.js";
import { detectLanguage } from "./detect.js";
import { HttpError } from "./http-error.js";
import type { ServerMetrics } from "./metrics.js";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.js";
import type { ServerSettings } from "./settings.js";
import { parseTranslateBody, type TranslateCall } from "./translate-request.js";
import { undetectable, type TextTranslation, type TranslationService } from "./translation-service.js";

export interface AppDeps {
  settings: ServerSettings;
  metrics: ServerMetrics;
  /** The reference engine's translation service once loaded; undefined while loading (503). */
  service: () => TranslationService | undefined;
  /** The service for a source language: a released calibrated engine for it, or the reference. */
  route?: (srcIso: string) => Promise<{ service: TranslationService; engine: string }>;
  /** Names of the engines loaded now (the reference first), for /ready. */
  engines?: () => string[];
  /** Name of the served model, shown in answers. */
  modelName: () => string | undefined;
  /** Recent scheduler throughput estimate for Retry-After, in engine requests per second. */
  retryAfterSeconds: () => number;
  log: (msg: string, err?: unknown) => void;
}

/** The Glossa-shape answer. */
export interface GlossaTranslation {
  text: string;
  /** ISO 639-1 code of the source language when it was detected ("auto"). */
  detected_source_language?: string;
  /** Tokens generated for this text. */
  tokens: number;
  /** "length" when a segment stopped at max_new_tokens. */
  finish_reason: "eos" | "length";
}

export interface GlossaResponse {
  translations: GlossaTranslation[];
  source_lang: string;
  target_lang: string;
  /** The checkpoint served. */
  model: string;
  /** The engine that translated: the reference (named like the model) or a released calibrated engine. */
  engine: string;
}

const MAX_BODY_ERROR = 200;

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  const { metrics, settings } = deps;

  // Metrics for every request: count by route and status, latency to response headers.
  app.use("*", async (c, next) => {
    const t0 = performance.now();
    await next();
    const route = routeLabel(c);
    metrics.httpRequests.inc({ route, method: methodLabel(c.req.method), status: String(c.res.status) });
    metrics.httpLatency.observe((performance.now() - t0) / 1000, { route });
  });

  app.onError((err, c) => {
    if (err instanceof HttpError) return jsonError(c, err.status, err.message, err.headers);
    deps.log(`unexpected error on ${c.req.method} ${c.req.path}`, err);
    return jsonError(c, 500, "internal server error");
  });
  app.notFound((c) => jsonError(c, 404, `no route for ${c.req.method} ${truncate(c.req.path, 100)}`));

  app.get("/health", (c) => c.json({ status: "ok" }));

  app.get("/ready", (c) => {
    const service = deps.service();
    if (!service) return jsonError(c, 503, "the engine is still loading");
    const info = service.info;
    return c.json({
      status: "ready",
      model: deps.modelName(),
      precision: info.precision,
      kernels: info.kernels,
      threads: info.threads,
      max_source_tokens: info.maxSourceTokens,
      engines: deps.engines?.() ?? [],
    });
  });

  app.get("/languages", (c) =>
    c.json(
      LANGUAGES.map((l) => ({
        code: l.iso,
        name: l.name,
        targets: LANGUAGES.map((t) => t.iso),
      })),
    ),
  );

  app.get("/metrics", (c) => c.body(metrics.render(), 200, { "content-type": PROMETHEUS_CONTENT_TYPE }));

  app.post("/translate", async (c) => {
    const arrived = performance.now();
    const reference = deps.service();
    if (!reference) throw new HttpError(503, "the engine is still loading; retry shortly", { "retry-after": "5" });
    const call = await readTranslateCall(c.req.raw, settings, reference);
    const { source, detected } = resolveSource(call);
    const deadlineMs = Math.min(settings.requestTimeoutMs, call.timeoutMs ?? settings.requestTimeoutMs);
    const model = deps.modelName() ?? "unknown";

    if (source.iso === call.target.iso) {
      // Nothing to translate: answer the input as it is.
      const same = call.texts.map((text) => ({ text, tokens: 0, finishReason: "eos" as const }));
      return c.json(formatAnswer(call, same, source, detected, { model, engine: "none" }));
    }
    const routed = deps.route ? await deps.route(source.iso) : { service: reference, engine: model };
    const service = routed.service;
    const names = { model, engine: routed.engine };
    metrics.engineRequests.inc({ engine: routed.engine });
    const prepared = await service.prepare(call, source);
    if (c.req.raw.signal.aborted) throw new HttpError(499, "request cancelled by the client");
    metrics.segments.inc({}, prepared.requests.length);
    const signal = c.req.raw.signal;
    // The deadline counts from arrival: reading, validation and cutting the text count against it.
    const timeoutMs = Math.max(0, deadlineMs - (performance.now() - arrived));

    if (call.stream) return streamTranslation(c, deps, call, source, detected, names, (onPartial) =>
      service.run(prepared, { signal, timeoutMs, onPartial }),
    );

    let results: TextTranslation[];
    try {
      results = await service.run(prepared, { signal, timeoutMs });
    } catch (err) {
      throw schedulerHttpError(err, deps, metrics);
    }
    metrics.textsTranslated.inc({}, results.length);
    return c.json(formatAnswer(call, results, source, detected, names));
  });

  app.all("/translate", (c) => jsonError(c, 405, "use POST /translate", { allow: "POST" }));

  // LibreTranslate's /detect: {q: string} -> [{language, confidence}], empty when the detector cannot decide.
  app.post("/detect", async (c) => {
    const body = await readBody(c.req.raw, settings);
    const q = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>).q : undefined;
    if (typeof q !== "string") throw new HttpError(400, '"q" must be a string');
    if (q.length > settings.maxChars) throw new HttpError(413, `"q" has more than ${settings.maxChars} characters`);
    const d = detectLanguage(q);
    return c.json(d ? [{ language: d.language.iso, confidence: d.confidence }] : []);
  });
  app.all("/detect", (c) => jsonError(c, 405, "use POST /detect", { allow: "POST" }));

  return app;
}

/**
 * The mount point of the admin sub-app (by default the calibration-data routes): everything under /admin requires
 * the admin key (`authorization: Bearer KEY` or `x-admin-key: KEY`): 401 without one, 403 with a wrong one.
 * Without GLOSSA_ADMIN_KEY configured, /admin answers 404 (disabled).
 */
export function mountAdmin(app: Hono, admin: Hono | undefined, adminKey: string | undefined): void {
  app.use("/admin/*", async (c, next) => {
    if (!adminKey || !admin) return jsonError(c, 404, "admin routes are disabled (set GLOSSA_ADMIN_KEY)");
    const bearer = /^Bearer\s+(\S.*)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
    const given = bearer ?? c.req.header("x-admin-key");
    if (given === undefined || given === "") return jsonError(c, 401, "admin key required (Authorization: Bearer KEY or x-admin-key)");
    if (!keysEqual(given, adminKey)) return jsonError(c, 403, "admin key rejected");
    await next();
  });
  if (admin) app.route("/admin", admin);
}

/** Constant-time comparison of fixed-length digests (no timing or length leak). */
function keysEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** The request body as JSON or form data, within the size limit; HttpError otherwise. */
async function readBody(req: Request, settings: ServerSettings): Promise<unknown> {
  const contentType = req.headers.get("content-type");
  bodyFormat(contentType, ""); // refuse unsupported types before reading the body
  const bytes = await readBodyBytes(req, settings.maxBodyBytes);
  const text = decodeUtf8(bytes);
  return bodyFormat(contentType, text) === "json" ? parseJsonBody(text) : parseFormBody(text);
}

async function readTranslateCall(req: Request, settings: ServerSettings, service: TranslationService): Promise<TranslateCall> {
  const body = await readBody(req, settings);
  return parseTranslateBody(body, {
    maxTexts: settings.maxTexts,
    maxChars: settings.maxChars,
    maxBeam: settings.maxBeam,
    maxNewTokens: Math.min(settings.maxNewTokens, Math.max(1, service.info.maxPositions - 1)),
  });
}

function resolveSource(call: TranslateCall): { source: Language; detected: boolean } {
  if (call.source) return { source: call.source, detected: false };
  const detection = detectLanguage(call.texts.join("\n"));
  if (!detection) throw undetectable();
  return { source: detection.language, detected: true };
}

function formatAnswer(
  call: TranslateCall,
  results: readonly TextTranslation[],
  source: Language,
  detected: boolean,
  names: { model: string; engine: string },
): unknown {
  if (call.shape === "libre") {
    const translatedText = call.single ? results[0]!.text : results.map((r) => r.text);
    if (!detected) return { translatedText };
    const detectedLanguage = { language: source.iso, confidence: detectLanguage(call.texts.join("\n"))?.confidence ?? 0 };
    return { translatedText, detectedLanguage: call.single ? detectedLanguage : results.map(() => detectedLanguage) };
  }
  const answer: GlossaResponse = {
    translations: results.map((r) => ({
      text: r.text,
      ...(detected ? { detected_source_language: source.iso } : {}),
      tokens: r.tokens,
      finish_reason: r.finishReason,
    })),
    source_lang: source.iso,
    target_lang: call.target.iso,
    model: names.model,
    engine: names.engine,
  };
  return answer;
}

/** Maps scheduler failures to HTTP errors and counts the synchronous refusals. */
function schedulerHttpError(err: unknown, deps: AppDeps, metrics: ServerMetrics): unknown {
  if (!isSchedulerError(err)) return err;
  const e: SchedulerError = err;
  switch (e.kind) {
    case "queue_full":
      metrics.translations.inc({ outcome: e.kind });
      return new HttpError(429, "the server is busy: too many queued translations", {
        "retry-after": String(deps.retryAfterSeconds()),
      });
    case "too_large":
      metrics.translations.inc({ outcome: e.kind });
      return new HttpError(413, e.message);
    case "deadline":
      return new HttpError(504, e.message);
    case "cancelled":
      // The client is gone; this answer is never read.
      return new HttpError(499, "request cancelled by the client");
    case "rejected":
      return new HttpError(400, e.message);
    case "closed":
      return new HttpError(503, "the server is shutting down");
    case "engine":
      return new HttpError(500, `translation failed: ${e.message}`);
  }
}

function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Server-sent events: `partial` {index, text} whenever a text's output grows, then `done` with the full
 * Glossa answer, or `error` {error, status}. The work is submitted before the stream opens, so a full queue is
 * still a plain 429.
 */
function streamTranslation(
  c: Context,
  deps: AppDeps,
  call: TranslateCall,
  source: Language,
  detected: boolean,
  names: { model: string; engine: string },
  start: (onPartial: (index: number, text: string) => void) => Promise<TextTranslation[]>,
): Response {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const send = (chunk: string) => {
    if (!open) return;
    try {
      controller.enqueue(encoder.encode(chunk));
    } catch {
      open = false;
    }
  };
  const close = () => {
    if (!open) return;
    open = false;
    try {
      controller.close();
    } catch {
      // already closed by a cancelled consumer
    }
  };
  const stream = new ReadableStream<Uint8Array>({
    start(ctl) {
      controller = ctl;
    },
    cancel() {
      open = false;
    },
  });
  let work: Promise<TextTranslation[]>;
  try {
    const last = new Map<number, string>();
    work = start((index, text) => {
      if ((last.get(index) ?? "") === text) return;
      last.set(index, text);
      send(sseEvent("partial", { index, text }));
    });
  } catch (err) {
    throw schedulerHttpError(err, deps, deps.metrics);
  }
  work.then(
    (results) => {
      deps.metrics.textsTranslated.inc({}, results.length);
      send(sseEvent("done", formatAnswer(call, results, source, detected, names)));
      close();
    },
    (err: unknown) => {
      const httpErr = schedulerHttpError(err, deps, deps.metrics);
      if (!(httpErr instanceof HttpError)) deps.log("streamed translation failed", err);
      const status = httpErr instanceof HttpError ? httpErr.status : 500;
      const message = httpErr instanceof HttpError ? httpErr.message : "internal server error";
      send(sseEvent("error", { error: message, status }));
      close();
    },
  );
  return c.body(stream, 200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
  });
}

function jsonError(c: Context, status: number, message: string, headers: Record<string, string> = {}): Response {
  return c.json({ error: truncate(message, MAX_BODY_ERROR * 5) }, status as 400, headers);
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

const KNOWN_ROUTES = new Set(["/health", "/ready", "/languages", "/metrics", "/translate", "/detect"]);

/** A bounded label: the matched route, or "other" (never the raw path, which a client controls). */
function routeLabel(c: Context): string {
  const p = c.req.path;
  if (KNOWN_ROUTES.has(p)) return p;
  if (p.startsWith("/admin/") || p === "/admin") return "/admin";
  return "other";
}

function methodLabel(m: string): string {
  return ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"].includes(m) ? m : "other";
}
