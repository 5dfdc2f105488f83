/**
 * The server's Prometheus metrics (prom-client): HTTP traffic, scheduler queue and batches, tokens, KV pool
 * occupancy, plus the process_* / nodejs_* defaults (CPU, memory, file descriptors, event-loop lag, GC, heap),
 * collected once per process. /metrics renders the process registry and the server's registry together in the
 * text format 0.0.4; names and types pass `promtool check metrics` (test/observability.test.ts).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { DeviceMemory, PoolStats } from "../engine/types.js";
import type { GroupOutcome, SchedulerObserver, SchedulerSnapshot, StepReport } from "../scheduler/scheduler.js";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const STEP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Where live values come from at scrape time. */
export interface MetricsSources {
  scheduler(): SchedulerSnapshot | undefined;
  pool(): PoolStats | undefined;
  /** Device memory of the reference engine when it runs on a GPU. */
  deviceMemory?(): DeviceMemory | undefined;
}

let processRegistry: Registry | undefined;

/** process_* and nodejs_* metrics: one registry per process, however many servers it runs. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 10 });
    // prom-client exposes these three gauges with a _total suffix, which promtool refuses for non-counters; their
    // per-type breakdowns (nodejs_active_handles{type} ...) stay and sum to the same values.
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
      processRegistry.removeSingleMetric(name);
    }
  }
  return processRegistry;
}

export class ServerMetrics implements SchedulerObserver {
  readonly registry = new Registry();
  readonly httpRequests: Counter<"route" | "method" | "status">;
  readonly httpLatency: Histogram<"route">;
  readonly translations: Counter<"outcome">;
  readonly textsTranslated: Counter;
  readonly segments: Counter;
  readonly engineRequests: Counter<"engine">;
  readonly pivotedRequests: Counter<"pivot">;
  readonly tokenizedChars: Counter<"thread">;
  readonly tokenizeSeconds: Histogram<"thread">;
  readonly queueDepth: Gauge;
  readonly runningSequences: Gauge;
  readonly batchSize: Histogram;
  readonly stepSeconds: Histogram;
  readonly tokensGenerated: Counter;
  readonly sourceTokensEncoded: Counter;
  readonly preemptions: Counter;
  readonly engineStepErrors: Counter;
  readonly engineLoadFailures: Counter<"engine" | "problem">;
  readonly kvBlocksUsed: Gauge;
  readonly kvBlocksFree: Gauge;
  readonly kvBlocksCapacity: Gauge;
  readonly ready: Gauge;
  readonly deviceMemory: Gauge<"kind">;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    processMetrics();
    this.httpRequests = new Counter({
      name: "glossa_http_requests_total",
      help: "HTTP requests answered, by route, method and status.",
      labelNames: ["route", "method", "status"],
      registers,
    });
    this.httpLatency = new Histogram({
      name: "glossa_http_request_duration_seconds",
      help: "Time from receiving an HTTP request to its response headers, by route.",
      labelNames: ["route"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.translations = new Counter({
      name: "glossa_translation_requests_total",
      help: "Translation requests that reached the scheduler, by outcome (ok, queue_full, too_large, deadline, cancelled, rejected, engine, closed).",
      labelNames: ["outcome"],
      registers,
    });
    this.textsTranslated = new Counter({ name: "glossa_texts_translated_total", help: "Texts translated (a request may carry several).", registers });
    this.segments = new Counter({ name: "glossa_segments_total", help: "Engine requests (sentences or lines) submitted to the scheduler.", registers });
    this.engineRequests = new Counter({
      name: "glossa_engine_requests_total",
      help: "Translation requests routed to each engine (the reference, or a released calibrated engine).",
      labelNames: ["engine"],
      registers,
    });
    this.pivotedRequests = new Counter({
      name: "glossa_pivot_requests_total",
      help: "Translation requests served in two passes through a pivot language (the pair is not direct for the model).",
      labelNames: ["pivot"],
      registers,
    });
    this.tokenizedChars = new Counter({
      name: "glossa_tokenized_characters_total",
      help: "Characters segmented and tokenized, by thread: event_loop (short inputs) or worker (tokenizer threads).",
      labelNames: ["thread"],
      registers,
    });
    this.tokenizeSeconds = new Histogram({
      name: "glossa_tokenize_seconds",
      help: "Time to segment and tokenize one request's units (worker: including the wait for a tokenizer thread).",
      labelNames: ["thread"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.queueDepth = new Gauge({
      name: "glossa_queue_depth",
      help: "Engine requests waiting for admission into the running batch.",
      registers,
      collect() {
        this.set(sources.scheduler()?.queued ?? 0);
      },
    });
    this.runningSequences = new Gauge({
      name: "glossa_running_sequences",
      help: "Sequences (beams counted) admitted into the engine.",
      registers,
      collect() {
        this.set(sources.scheduler()?.runningSequences ?? 0);
      },
    });
    this.batchSize = new Histogram({
      name: "glossa_batch_size",
      help: "Sequences (beams counted) decoded together per engine step.",
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.stepSeconds = new Histogram({ name: "glossa_engine_step_seconds", help: "Duration of one engine step.", buckets: STEP_BUCKETS, registers });
    this.tokensGenerated = new Counter({ name: "glossa_tokens_generated_total", help: "Target tokens generated by the engine.", registers });
    this.sourceTokensEncoded = new Counter({ name: "glossa_source_tokens_encoded_total", help: "Source tokens encoded by the engine.", registers });
    this.preemptions = new Counter({ name: "glossa_preemptions_total", help: "Sequences preempted by the engine for lack of KV blocks.", registers });
    this.engineStepErrors = new Counter({ name: "glossa_engine_step_errors_total", help: "Engine steps that threw.", registers });
    this.engineLoadFailures = new Counter({
      name: "glossa_engine_load_failures_total",
      help: "Released engines that could not be served (the reference served instead): problem = missing, checksum or changed (the file is not the bytes the registry gated), load (the engine refused the file).",
      labelNames: ["engine", "problem"],
      registers,
    });
    this.kvBlocksUsed = new Gauge({
      name: "glossa_kv_blocks_used",
      help: "KV cache blocks in use.",
      registers,
      collect() {
        this.set(sources.pool()?.usedBlocks ?? 0);
      },
    });
    this.kvBlocksFree = new Gauge({
      name: "glossa_kv_blocks_free",
      help: "KV cache blocks free.",
      registers,
      collect() {
        this.set(sources.pool()?.freeBlocks ?? 0);
      },
    });
    // A gauge: its name must not end in _total (promtool); it was glossa_kv_blocks_total before.
    this.kvBlocksCapacity = new Gauge({
      name: "glossa_kv_blocks_capacity",
      help: "KV cache blocks in the pool (used + free).",
      registers,
      collect() {
        this.set(sources.pool()?.totalBlocks ?? 0);
      },
    });
    this.deviceMemory = new Gauge({
      name: "glossa_device_memory_bytes",
      help: "GPU memory of the engine's device: total, free, and held by the engine (weights, KV pool, scratch).",
      labelNames: ["kind"],
      registers,
      collect() {
        const m = sources.deviceMemory?.();
        if (!m) return;
        this.set({ kind: "total" }, m.totalBytes);
        this.set({ kind: "free" }, m.freeBytes);
        this.set({ kind: "engine" }, m.usedBytes);
      },
    });
    this.ready = new Gauge({ name: "glossa_ready", help: "1 when the engine is loaded and the server accepts translations.", registers });
    this.ready.set(0);
  }

  onStep(report: StepReport): void {
    if (report.batchSize > 0) this.batchSize.observe(report.batchSize);
    this.stepSeconds.observe(report.seconds);
    this.tokensGenerated.inc(report.generatedTokens);
    this.sourceTokensEncoded.inc(report.encodedTokens);
    this.preemptions.inc(report.preempted);
  }

  onGroupSettled(outcome: GroupOutcome): void {
    this.translations.inc({ outcome });
  }

  onStepError(): void {
    this.engineStepErrors.inc();
  }

  /** The text exposition of the process metrics and this server's. */
  async render(): Promise<string> {
    const [proc, own] = await Promise.all([processMetrics().metrics(), this.registry.metrics()]);
    return `${proc.trimEnd()}\n\n${own}`;
  }
}
