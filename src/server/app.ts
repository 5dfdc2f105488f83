/**
 * The HTTP API (Hono): POST /translate (Glossa and LibreTranslate shapes, optional SSE streaming), POST /detect,
 * GET /languages, /health, /ready, /metrics, and the /admin mount point. Every error is answered as JSON {error}.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono, type Context } from "hono";
import type { DeviceMemory } from "../engine/types.js";
import type { Language } from "../languages.js";
import { AccessGate, countCharacters, glossaRefusal, keyFromAuthorization, libreRefusal, type Grant } from "./access.js";
import { ApiDescription } from "./api-description.js";
import { bodyFormat, decodeUtf8, parseFormBody, parseJsonBody, parseMultipartBody, readBodyBytes } from "./body.js";
import { corsMiddleware } from "./cors.js";
import { HttpError } from "./http-error.js";
import { noteRequest, requestIdFrom, type AccessRecord, type AppEnv } from "./access-log.js";
import { PROMETHEUS_CONTENT_TYPE } from "./metrics.js";
import { libreFileRoutes } from "./routes/libretranslate.js";
import { describeServerRoutes, openapiRoutes } from "./routes/openapi.js";
import type { ServerSettings } from "./settings.js";
import { parseTranslateBody, type TranslateCall } from "./translate-request.js";
import { drainingError, schedulerHttpError, startTranslation, type FlowDeps, type StartedTranslation } from "./translate-flow.js";
import type { TextTranslation, TranslationService } from "./translation-service.js";
import { deeplRoutes } from "./routes/deepl.js";
import { webRoutes } from "./routes/ui.js";

export interface AppDeps extends FlowDeps {
  /** Names of the engines loaded now (the reference first), for /ready. */
  engines?: () => string[];
  /** Device memory of the reference engine when it runs on a GPU (/ready). */
  deviceMemory?: () => DeviceMemory | undefined;
  log: (msg: string, err?: unknown) => void;
  /** Receives one record per request (the access log); none when absent. */
  access?: (record: AccessRecord) => void;
  /** API key checks (GLOSSA_REQUIRE_KEYS); absent: keys not required. */
  keys?: AccessGate;
  /** Where routes describe themselves for /openapi.json. */
  api?: ApiDescription;
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
  /** Other translations (options.alternatives: N), from the beam search's n-best list. */
  alternatives?: string[];
}

export interface GlossaResponse {
  translations: GlossaTranslation[];
  source_lang: string;
  target_lang: string;
  /** The checkpoint served. */
  model: string;
  /** The engine that translated: the reference (named like the model) or a released calibrated engine. */
  engine: string;
  /** Present when the pair was translated through a pivot language (two passes): its ISO code. */
  pivot?: string;
}

const MAX_BODY_ERROR = 200;

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { metrics, settings } = deps;
  const keys = deps.keys ?? AccessGate.disabled();

  // Every request: a request id (echoed), metrics by route and status, latency to response headers, access log.
  app.use("*", async (c, next) => {
    const t0 = performance.now();
    const id = requestIdFrom(c.req.header("x-request-id"));
    c.set("requestId", id);
    await next();
    c.res.headers.set("x-request-id", id);
    const route = routeLabel(c);
    const seconds = (performance.now() - t0) / 1000;
    metrics.httpRequests.inc({ route, method: methodLabel(c.req.method), status: String(c.res.status) });
    metrics.httpLatency.observe({ route }, seconds);
    deps.access?.({
      time: new Date().toISOString(),
      request_id: id,
      method: methodLabel(c.req.method),
      route,
      status: c.res.status,
      duration_ms: Math.round(seconds * 1e4) / 10,
      chars: c.get("chars") ?? null,
      engine: c.get("engine") ?? null,
      remote: remoteAddress(c),
    });
  });

  // Shutting down: only liveness and metrics are still answered; everything else is refused before any work, and
  // every answer closes its connection so that keep-alive clients and load balancers move on.
  app.use("*", async (c, next) => {
    if (!deps.draining?.()) return next();
    if (c.req.path !== "/health" && c.req.path !== "/metrics") {
      const e = drainingError();
      return jsonError(c, e.status, e.message, e.headers);
    }
    await next();
    c.res.headers.set("connection", "close");
  });
  // CORS for browsers on other origins (GLOSSA_CORS_ORIGINS, "*" by default as LibreTranslate); preflights end here.
  const cors = corsMiddleware(settings.corsOrigins);
  if (cors) app.use("*", cors);

  app.onError((err, c) => {
    if (err instanceof HttpError) return jsonError(c, err.status, err.message, err.headers);
    deps.log(`unexpected error on ${c.req.method} ${c.req.path} (request ${c.get("requestId")})`, err);
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
      device: info.device ?? "cpu",
      ...(info.deviceName && info.device !== "cpu" ? { device_name: info.deviceName } : {}),
      ...(info.kvBlocks !== undefined ? { kv_blocks: info.kvBlocks } : {}),
      ...(() => {
        const m = deps.deviceMemory?.();
        return m ? { device_memory: { total_bytes: m.totalBytes, free_bytes: m.freeBytes, engine_bytes: m.usedBytes } } : {};
      })(),
    });
  });

  // Every language the model reads, with the targets it reaches: directly, or through the pivot (two passes).
  app.get("/languages", (c) => {
    const directions = deps.directions();
    return c.json(
      directions.languages.map((l) => {
        const direct = directions.directTargets(l).map((t) => t.iso);
        const targets = directions.targets(l).map((t) => t.iso);
        return {
          code: l.iso,
          name: l.name,
          targets,
          direct_targets: direct,
          pivot: targets.length > direct.length ? (directions.pivot?.iso ?? null) : null,
        };
      }),
    );
  });

  app.get("/metrics", async (c) => c.body(await metrics.render(), 200, { "content-type": PROMETHEUS_CONTENT_TYPE }));

  app.post("/translate", async (c) => {
    const arrived = performance.now();
    const reference = deps.service();
    if (!reference) throw new HttpError(503, "the engine is still loading; retry shortly", { "retry-after": "5" });
    // The cheapest refusal of all: a long body while the tokenizer threads are saturated is not even read.
    const declared = Number(c.req.header("content-length") ?? "0");
    const busy = Number.isFinite(declared) && declared > 0 ? deps.admission?.(declared) : undefined;
    if (busy !== undefined) {
      metrics.translations.inc({ outcome: "queue_full" });
      throw new HttpError(429, `the server is busy: ${busy}; retry after the Retry-After seconds`, {
        "retry-after": String(deps.retryAfterSeconds()),
        connection: "close",
      });
    }
    const call = await readTranslateCall(c.req.raw, settings, reference);
    noteRequest(c, { chars: call.texts.reduce((n, t) => n + t.length, 0) });
    // API keys (GLOSSA_REQUIRE_KEYS): the body's api_key (LibreTranslate) or an Authorization header.
    const admitted = await keys.admit(call.apiKey ?? keyFromAuthorization(c.req.header("authorization")), countCharacters(call.texts));
    if (!admitted.ok) throw call.shape === "libre" ? libreRefusal(admitted.refusal) : glossaRefusal(admitted.refusal);
    const grant = admitted.grant;
    try {
      const started = await startTranslation(deps, call, { signal: c.req.raw.signal, arrived });
      noteRequest(c, { engine: started.engine });
      if (call.stream) return streamTranslation(c, deps, call, started, grant);
      const results = await started.run();
      metrics.textsTranslated.inc(results.length);
      return c.json(formatAnswer(call, results, started));
    } catch (err) {
      // Characters are billed only for translations delivered.
      await grant.refund();
      throw err;
    }
  });

  app.all("/translate", (c) => jsonError(c, 405, "use POST /translate", { allow: "POST" }));

  // LibreTranslate's /detect: {q: string} -> [{language, confidence}], empty when the text has no letters.
  app.post("/detect", async (c) => {
    const body = await readBody(c.req.raw, settings);
    const q = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>).q : undefined;
    if (typeof q !== "string") throw new HttpError(400, '"q" must be a string');
    noteRequest(c, { chars: q.length });
    if (q.length > settings.maxChars) throw new HttpError(413, `"q" has more than ${settings.maxChars} characters`);
    const bodyKey = (body as Record<string, unknown>).api_key ?? (body as Record<string, unknown>).apiKey;
    const admitted = await keys.admit(typeof bodyKey === "string" && bodyKey !== "" ? bodyKey : keyFromAuthorization(c.req.header("authorization")), 0);
    if (!admitted.ok) throw libreRefusal(admitted.refusal);
    // Served languages the model considers, best first, with its probabilities (low for unserved languages).
    return c.json(deps.detector.detect(q).candidates.map((d) => ({ language: d.language.iso, confidence: d.confidence })));
  });
  app.all("/detect", (c) => jsonError(c, 405, "use POST /detect", { allow: "POST" }));

  app.route("/", webRoutes({ settings, log: deps.log })); // web pages, /frontend/settings, /api/dashboard
  // One description of every route, generated from the schemas that validate requests (/openapi.json, /docs).
  const api = deps.api ?? new ApiDescription();
  describeServerRoutes(api, settings);
  app.route("/", deeplRoutes({ flow: deps, keys, api }));
  app.route("/", libreFileRoutes({ flow: deps, keys }));
  app.route("/", openapiRoutes({ api }));

  return app;
}

/**
 * The mount point of the admin sub-app (by default the calibration-data routes): everything under /admin requires
 * the admin key (`authorization: Bearer KEY` or `x-admin-key: KEY`): 401 without one, 403 with a wrong one.
 * Without GLOSSA_ADMIN_KEY configured, /admin answers 404 (disabled).
 */
export function mountAdmin(app: Hono<AppEnv>, admin: Hono | undefined, adminKey: string | undefined): void {
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
  if (bodyFormat(contentType, "") === "multipart") return (await parseMultipartBody(bytes, contentType!)).fields;
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
    htmlAttributes: new Set(settings.htmlAttributes),
  });
}

function formatAnswer(call: TranslateCall, results: readonly TextTranslation[], started: StartedTranslation): unknown {
  const { source, detected, confidence, pivot } = started;
  if (call.shape === "libre") {
    const translatedText = call.single ? results[0]!.text : results.map((r) => r.text);
    const via = pivot ? { pivot: pivot.iso } : {};
    // LibreTranslate answers `alternatives` only when asked: string[] for one text, string[][] for several.
    const alternatives = call.overrides.alternatives
      ? { alternatives: call.single ? (results[0]!.alternatives ?? []) : results.map((r) => r.alternatives ?? []) }
      : {};
    if (!detected) return { translatedText, ...alternatives, ...via };
    const detectedLanguage = { language: source.iso, confidence };
    return { translatedText, detectedLanguage: call.single ? detectedLanguage : results.map(() => detectedLanguage), ...alternatives, ...via };
  }
  const answer: GlossaResponse = {
    translations: results.map((r) => ({
      text: r.text,
      ...(detected ? { detected_source_language: source.iso } : {}),
      tokens: r.tokens,
      finish_reason: r.finishReason,
      ...(call.overrides.alternatives ? { alternatives: r.alternatives ?? [] } : {}),
    })),
    source_lang: source.iso,
    target_lang: call.target.iso,
    model: started.model,
    engine: started.engine,
    ...(pivot ? { pivot: pivot.iso } : {}),
  };
  return answer;
}

function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Server-sent events: `partial` {index, text} whenever a text's output grows, then `done` with the full
 * Glossa answer, or `error` {error, status}. The work is submitted before the stream opens, so a full queue is
 * still a plain 429.
 */
function streamTranslation(c: Context, deps: AppDeps, call: TranslateCall, started: StartedTranslation, grant: Grant): Response {
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
    work = started.run((index, text) => {
      if ((last.get(index) ?? "") === text) return;
      last.set(index, text);
      send(sseEvent("partial", { index, text }));
    });
  } catch (err) {
    throw schedulerHttpError(err, deps);
  }
  work.then(
    (results) => {
      deps.metrics.textsTranslated.inc(results.length);
      send(sseEvent("done", formatAnswer(call, results, started)));
      close();
    },
    (err: unknown) => {
      grant.refund().catch((e: unknown) => deps.log("refunding an API key's characters failed", e));
      const httpErr = schedulerHttpError(err, deps);
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

/**
 * A bounded label: the pattern of the route that answered ("/translate", "/admin/calib-data/:set/stats"), never
 * the raw path, which a client controls; "other" when no route matched (404).
 */
function routeLabel(c: Context): string {
  if (c.res.status === 404 && c.req.routePath === "*") return "other";
  const p = c.req.routePath;
  return p === "*" || p === "/*" || p === "" ? "other" : p;
}

/** The peer's address (the load balancer's when behind one). */
function remoteAddress(c: Context): string | null {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? null;
}

function methodLabel(m: string): string {
  return ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"].includes(m) ? m : "other";
}
