/**
 * The core of every translate route (Glossa, LibreTranslate, and the other shapes mounted beside them): from a
 * validated TranslateCall to translated texts. Resolves the source language ("auto" detection), plans the route
 * (direct, or through the pivot language when the model folder says the pair is not direct: two scheduler passes
 * under one deadline and one cancel signal), picks the engine of each pass, tokenizes, submits, and maps
 * scheduler failures to HTTP errors. Route modules call startTranslation() and format the answer their way.
 */
import type { Directions } from "../engine/directions.js";
import type { Language } from "../languages.js";
import { isSchedulerError, type SchedulerError } from "../scheduler/errors.js";
import { isRefusal, type LanguageDetector } from "./detect.js";
import { HttpError } from "./http-error.js";
import type { ServerMetrics } from "./metrics.js";
import type { ServerSettings } from "./settings.js";
import type { TranslateCall } from "./translate-request.js";
import type { TextTranslation, TranslationService } from "./translation-service.js";
import type { WorkTracker } from "./work-tracker.js";

export interface FlowDeps {
  settings: ServerSettings;
  metrics: ServerMetrics;
  /** The reference engine's translation service once loaded; undefined while loading (503). */
  service: () => TranslationService | undefined;
  /** The service for a source language: a released calibrated engine for it, or the reference. */
  route?: (srcIso: string) => Promise<{ service: TranslationService; engine: string }>;
  /** Which pairs the served model translates directly, and its pivot (src/engine/directions.ts). */
  directions: () => Directions;
  /** Name of the served model, shown in answers. */
  modelName: () => string | undefined;
  /** Recent scheduler throughput estimate for Retry-After, in seconds. */
  retryAfterSeconds: () => number;
  /**
   * Before the body is read: a reason to refuse a request body of this many bytes right now (the tokenizer
   * threads' backlog is full), or undefined. Refused with 429 and Connection: close, the body unread.
   */
  admission?: (bodyBytes: number) => string | undefined;
  /** True once a shutdown began: new work is refused (503) before anything is done for it. */
  draining?: () => boolean;
  /** Counts translations in flight, for the shutdown's grace period and its report. */
  work?: WorkTracker;
  /** Source-language detection (POST /detect, source "auto"): LanguageDetector.load(). */
  detector: LanguageDetector;
}

/** The answer to work that arrives after the shutdown began. */
export function drainingError(): HttpError {
  return new HttpError(503, "the server is shutting down; retry on another instance", { connection: "close", "retry-after": "1" });
}

export interface StartOptions {
  /** Aborted when the client goes away: cancels every pass. */
  signal: AbortSignal;
  /** performance.now() when the request arrived: the deadline counts from there. */
  arrived: number;
}

/** A translation whose first pass is tokenized and ready to be queued. */
export interface StartedTranslation {
  source: Language;
  /** The source language was detected ("auto"). */
  detected: boolean;
  /** Detection confidence 0..100 (100 when the client named the source). */
  confidence: number;
  /** The pivot language when the pair is served in two passes. */
  pivot: Language | undefined;
  model: string;
  /** The engine(s) that translate: one name, or "first+second" when the passes use different engines. */
  engine: string;
  /**
   * Queues the work and resolves with one translation per input text. Throws HttpError synchronously when the
   * queue has no room (429), so that a stream is not opened for a refused request; later failures reject.
   * onPartial (streaming) sees the final pass's growing output.
   */
  run(onPartial?: (index: number, text: string) => void): Promise<TextTranslation[]>;
}

/**
 * Detects the source when the call asks for "auto"; 400 naming the reason when the text has no letters or is most
 * probably in a language that is not served.
 */
export function resolveSource(call: TranslateCall, detector: LanguageDetector): { source: Language; detected: boolean; confidence: number } {
  if (call.source) return { source: call.source, detected: false, confidence: 100 };
  const joined = call.texts.join("\n");
  // Markup is not language: detect on the text between tags.
  const text = call.format === "html" ? joined.replace(/<[^>]*>/g, " ").replace(/&[#\w]+;/g, " ") : joined;
  const d = detector.sourceFor(text);
  if (isRefusal(d)) throw new HttpError(400, `could not detect the source language: ${d.refused}; pass "source" / "source_lang" explicitly`);
  return { source: d.language, detected: true, confidence: d.confidence };
}

/**
 * Everything before queueing: 503 while loading, source detection, the route, tokenization. The same-language
 * case answers the input unchanged (no model call).
 */
export async function startTranslation(deps: FlowDeps, call: TranslateCall, opts: StartOptions): Promise<StartedTranslation> {
  // A request whose body was still arriving when the shutdown began is refused here, before any work.
  if (deps.draining?.()) throw drainingError();
  const end = deps.work?.begin() ?? (() => {});
  try {
    const started = await prepareTranslation(deps, call, opts);
    return {
      ...started,
      run: (onPartial) => {
        let pending: Promise<TextTranslation[]>;
        try {
          pending = started.run(onPartial);
        } catch (err) {
          end();
          throw err;
        }
        return pending.finally(end);
      },
    };
  } catch (err) {
    end();
    throw err;
  }
}

async function prepareTranslation(deps: FlowDeps, call: TranslateCall, opts: StartOptions): Promise<StartedTranslation> {
  const reference = deps.service();
  if (!reference) throw new HttpError(503, "the engine is still loading; retry shortly", { "retry-after": "5" });
  const { source, detected, confidence } = resolveSource(call, deps.detector);
  const model = deps.modelName() ?? "unknown";
  const deadline = opts.arrived + Math.min(deps.settings.requestTimeoutMs, call.timeoutMs ?? deps.settings.requestTimeoutMs);
  const remaining = () => Math.max(0, deadline - performance.now());
  const { signal } = opts;

  if (source === call.target) {
    const same = call.texts.map((text) => ({ text, tokens: 0, finishReason: "eos" as const }));
    return { source, detected, confidence, pivot: undefined, model, engine: "none", run: () => Promise.resolve(same) };
  }
  const directions = deps.directions();
  const route = directions.route(source, call.target);
  if (!route) {
    throw new HttpError(400, `${source.iso} -> ${call.target.iso} is not served by this model (${directions.origin}); see GET /languages`);
  }
  const pick = async (iso: string) => (deps.route ? await deps.route(iso) : { service: reference, engine: model });
  const first = await pick(source.iso);
  deps.metrics.engineRequests.inc({ engine: first.engine });
  const pivot = route.pivot;
  const prepared = await mapRefusal(deps, first.service.prepare(call, source, pivot ?? call.target));
  if (signal.aborted) throw new HttpError(499, "request cancelled by the client");
  deps.metrics.segments.inc(prepared.requests.length);

  if (!pivot) {
    return {
      source,
      detected,
      confidence,
      pivot,
      model,
      engine: first.engine,
      run: (onPartial) =>
        submit(deps, () => first.service.run(prepared, { signal, timeoutMs: remaining(), ...(onPartial ? { onPartial } : {}) })),
    };
  }
  deps.metrics.pivotedRequests.inc({ pivot: pivot.iso });
  // Both passes share the deadline and the cancel signal; the second is tokenized once the first is done.
  const secondEngine = deps.route ? await deps.route(pivot.iso) : { service: reference, engine: model };
  return {
    source,
    detected,
    confidence,
    pivot,
    model,
    engine: secondEngine.engine === first.engine ? first.engine : `${first.engine}+${secondEngine.engine}`,
    run: (onPartial) => {
      const firstPass = submit(deps, () => first.service.runSegments(prepared, { signal, timeoutMs: remaining() }));
      return firstPass.then(async (pass) => {
        if (secondEngine.engine !== first.engine) deps.metrics.engineRequests.inc({ engine: secondEngine.engine });
        const second = await mapRefusal(deps, secondEngine.service.preparePivot(prepared, pass, pivot, call.target, call));
        if (signal.aborted) throw new HttpError(499, "request cancelled by the client");
        deps.metrics.segments.inc(second.requests.length);
        return submit(deps, () =>
          secondEngine.service.run(second, { signal, timeoutMs: remaining(), ...(onPartial ? { onPartial } : {}) }),
        );
      });
    },
  };
}

/** Preparation refuses with SchedulerError("queue_full") on cheap bounds: the same 429 as a full queue. */
function mapRefusal<T>(deps: FlowDeps, pending: Promise<T>): Promise<T> {
  return pending.catch((err: unknown) => {
    throw schedulerHttpError(err, deps);
  });
}

/** Runs a scheduler submission: synchronous refusals become HttpErrors thrown at once, later ones rejections. */
function submit<T>(deps: FlowDeps, fn: () => Promise<T>): Promise<T> {
  let pending: Promise<T>;
  try {
    pending = fn();
  } catch (err) {
    throw schedulerHttpError(err, deps);
  }
  return pending.catch((err: unknown) => {
    throw schedulerHttpError(err, deps);
  });
}

/** Maps scheduler failures to HTTP errors and counts the synchronous refusals; other errors pass through. */
export function schedulerHttpError(err: unknown, deps: Pick<FlowDeps, "metrics" | "retryAfterSeconds">): unknown {
  if (!isSchedulerError(err)) return err;
  const e: SchedulerError = err;
  switch (e.kind) {
    case "queue_full":
      deps.metrics.translations.inc({ outcome: e.kind });
      return new HttpError(429, `the server is busy: ${e.message}; retry after the Retry-After seconds`, {
        "retry-after": String(deps.retryAfterSeconds()),
      });
    case "too_large":
      // More segments than the whole queue (only possible for a pivot's second pass; the first pass is held to
      // GLOSSA_MAX_SEGMENTS <= GLOSSA_QUEUE_SIZE): a capacity refusal of this server, not a malformed request.
      deps.metrics.translations.inc({ outcome: e.kind });
      return new HttpError(503, `the server cannot queue this request: ${e.message}`, { "retry-after": String(deps.retryAfterSeconds()) });
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
