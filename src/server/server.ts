/**
 * Starting and stopping the translation server: listen at once (so /health answers and /ready says 503 while
 * loading), load the engine and tokenizer, then build the scheduler and translation service and become ready.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { basename } from "node:path";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import { Directions } from "../engine/directions.js";
import { Engine, type EngineLoadOptions } from "../engine/engine.js";
import { LANGUAGES } from "../languages.js";
import { MBartTokenizer } from "../tokenizer/mbart.js";
import { describeDecodeDefaults, resolveDecodeDefaults } from "../engine/decode-defaults.js";
import type { DecodeOptions, DeviceMemory, PoolStats, StepEngine } from "../engine/types.js";
import { BatchScheduler, type SchedulerObserver, type SchedulerSnapshot, type StepReport } from "../scheduler/scheduler.js";
import type { AccessRecord } from "./access-log.js";
import { AccessGate } from "./access.js";
import type { AppEnv } from "./access-log.js";
import { ApiDescription } from "./api-description.js";
import { LanguageDetector } from "./detect.js";
import { createApp, mountAdmin } from "./app.js";
import { calibAdminRoutes } from "./routes/calib-admin.js";
import { assertUnchanged, EngineFileError, verifyContent } from "../storage/engine-store.js";
import { EngineRouter, registryLookup, type CalibratedEngineRef, type EngineLookup, type EngineSlot } from "./engines.js";
import { ServerMetrics } from "./metrics.js";
import type { ServerSettings } from "./settings.js";
import { INLINE_PLAN_CHARS, InlinePlanner, PooledPlanner, type UnitPlanner } from "./tokenize-pool.js";
import { TranslationService, type ServingTokenizer } from "./translation-service.js";
import { WorkTracker } from "./work-tracker.js";

export interface Backend {
  engine: StepEngine;
  tokenizer: ServingTokenizer;
  modelName: string;
  /** Folder of the tokenizer.json that tokenizer workers load; without it every text is tokenized on the event loop. */
  tokenizerDir?: string;
  /** Direct pairs and pivot of the model (its folder's directions.json); read from settings.modelDir when absent. */
  directions?: Directions;
  /** Releases the engine's native resources; absent when the caller owns the engine. */
  dispose?: () => void | Promise<void>;
}

export interface StartOptions {
  settings: ServerSettings;
  /**
   * An engine and tokenizer loaded by the caller (tests share one across servers; the server then neither loads
   * nor disposes it); loaded from the settings otherwise. /ready answers 503 until it resolves.
   */
  backend?: Backend | Promise<Backend>;
  /** Decode defaults before the client's options (e.g. a released engine's settings). */
  decodeDefaults?: Partial<DecodeOptions>;
  /**
   * Released calibrated engine per source language; by default read from the registry at settings.dbPath when
   * that file exists (null: serve the reference only).
   */
  engineLookup?: EngineLookup | null;
  /** Loads a calibrated engine (default: Engine.load with its engine file); tests substitute their own. */
  loadCalibrated?: (ref: CalibratedEngineRef) => Promise<Backend>;
  /** Admin sub-app to mount under /admin; by default the calibration-data routes (routes/calib-admin.ts). */
  admin?: Hono;
  log?: (msg: string, err?: unknown) => void;
  /** Receives one access-log record per request (main.ts writes them to stdout); none when absent. */
  access?: (record: AccessRecord) => void;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** Resolves when the engine is loaded and /ready answers 200; rejects when loading failed. */
  readonly ready: Promise<void>;
  readonly metrics: ServerMetrics;
  /** The routes served (for inspection: tests check each is described). */
  readonly app: Hono<AppEnv>;
  /** The description /openapi.json is generated from. */
  readonly api: ApiDescription;
  scheduler(): BatchScheduler | undefined;
  /**
   * Shuts down: /ready answers 503 and new work is refused at once (503, Connection: close); running
   * translations get up to graceMs to finish; what is still running then is dropped (503) and counted.
   */
  close(graceMs?: number): Promise<ShutdownReport>;
}

export interface ShutdownReport {
  /** Translation requests still running when the grace period ended (answered 503). */
  dropped: number;
}


/** The engine options of GLOSSA_DEVICE / GLOSSA_CUDA_COMPUTE / GLOSSA_KV_MEMORY_FRACTION. */
function deviceOptions(settings: ServerSettings): Pick<EngineLoadOptions, "device" | "compute" | "kvMemoryFraction"> {
  return settings.device === "cpu" ? {} : { device: settings.device, compute: settings.cudaCompute, kvMemoryFraction: settings.kvMemoryFraction };
}

/** Device memory of the reference engine (CUDA), for /ready and /metrics. */
function deviceMemoryOf(engine: StepEngine | undefined): DeviceMemory | undefined {
  const e = engine as (StepEngine & { deviceMemory?: () => DeviceMemory }) | undefined;
  return e?.deviceMemory && e.info.device && e.info.device !== "cpu" ? e.deviceMemory() : undefined;
}

/** Loads the engine (src/engine/engine.ts) and tokenizer (src/tokenizer/mbart.ts) for the settings' model. */
export async function loadBackend(settings: ServerSettings): Promise<Backend> {
  const tokenizer = await MBartTokenizer.fromDir(settings.modelDir);
  const engine = await Engine.load({
    modelDir: settings.modelDir,
    threads: settings.threads,
    ...deviceOptions(settings),
    ...(settings.kvBlocks !== undefined ? { kvBlocks: settings.kvBlocks } : {}),
    ...(settings.blockSize !== undefined ? { blockSize: settings.blockSize } : {}),
  });
  const directions = Directions.fromModelDir(settings.modelDir, LANGUAGES.filter((l) => tokenizer.languageIds.has(l.mbart)));
  const disposable = engine as StepEngine & { dispose?: () => void | Promise<void>; close?: () => void | Promise<void> };
  const dispose = disposable.dispose?.bind(engine) ?? disposable.close?.bind(engine);
  return { engine, tokenizer, modelName: basename(settings.modelDir), tokenizerDir: settings.modelDir, directions, ...(dispose ? { dispose } : {}) };
}

/** Requests per second finished recently (exponential moving average), for Retry-After. */
class ThroughputMeter implements SchedulerObserver {
  private rate = 0;
  private last = performance.now();
  onStep(report: StepReport): void {
    const now = performance.now();
    const dt = Math.max(1e-3, (now - this.last) / 1000);
    this.last = now;
    const instant = report.finished / dt;
    this.rate = this.rate === 0 ? instant : 0.9 * this.rate + 0.1 * instant;
  }
  perSecond(): number {
    return this.rate;
  }
}

/** Long texts waiting for a tokenizer thread before more are refused: a few requests' worth per thread. */
function plannerBacklogChars(settings: ServerSettings): number {
  return 4 * settings.maxChars * Math.max(1, settings.tokenizerThreads);
}

/** A scheduler and translation service over one loaded engine. */
function buildSlot(
  name: string,
  engine: StepEngine,
  tokenizer: ServingTokenizer,
  settings: ServerSettings,
  decodeDefaults: Partial<DecodeOptions>,
  observer: SchedulerObserver,
  log: (msg: string, err?: unknown) => void,
  planner: UnitPlanner,
  dispose?: () => void | Promise<void>,
): EngineSlot {
  const pool = engine.poolStats();
  const poolTokens = pool.totalBlocks * pool.blockSize;
  const scheduler = new BatchScheduler(
    engine,
    {
      maxQueued: settings.queueSize,
      maxRunningSequences: settings.maxBatch,
      maxRunningTokens: settings.maxBatchTokens ?? (poolTokens > 0 ? poolTokens : 1 << 30),
      encodeTokenBudget: settings.encodeTokenBudget,
    },
    observer,
    log,
  );
  const info = engine.info;
  // Defaults: operator setting > the engine's release > the model's generation_config.json > built-in.
  const resolved = resolveDecodeDefaults({
    operator: settings.beamSize !== undefined ? { beamSize: settings.beamSize } : {},
    engine: decodeDefaults,
    ...(engine.generationDefaults ? { model: engine.generationDefaults } : {}),
  });
  log(`${name}: decoding defaults ${describeDecodeDefaults(resolved)}`);
  const service = new TranslationService({
    info,
    tokenizer,
    scheduler,
    defaults: resolved.options,
    ...(resolved.maxNewTokens !== undefined ? { maxNewTokensDefault: resolved.maxNewTokens } : {}),
    segmentTokens: Math.min(settings.maxSegmentTokens ?? info.maxSourceTokens, info.maxSourceTokens),
    maxNewTokensCap: Math.max(1, Math.min(settings.maxNewTokens, info.maxPositions - 1)),
    planner,
    maxSegments: Math.min(settings.maxSegments, settings.queueSize),
    plannerBacklogChars: plannerBacklogChars(settings),
    maxPieceChars: tokenizer.maxPieceChars ?? Number.POSITIVE_INFINITY,
  });
  return {
    name,
    service,
    scheduler,
    close: async (graceMs) => {
      await scheduler.close(graceMs);
      await dispose?.();
    },
  };
}

function sumSnapshots(slots: readonly EngineSlot[]): SchedulerSnapshot {
  const total: SchedulerSnapshot = { queued: 0, running: 0, runningSequences: 0, runningTokens: 0, groups: 0 };
  for (const s of slots) {
    const x = s.scheduler.snapshot();
    total.queued += x.queued;
    total.running += x.running;
    total.runningSequences += x.runningSequences;
    total.runningTokens += x.runningTokens;
    total.groups += x.groups;
  }
  return total;
}

function sumPools(slots: readonly EngineSlot[]): PoolStats {
  const total: PoolStats = { blockSize: 0, totalBlocks: 0, usedBlocks: 0, freeBlocks: 0, requests: [] };
  for (const s of slots) {
    const p = s.scheduler.poolStats();
    total.blockSize = p.blockSize;
    total.totalBlocks += p.totalBlocks;
    total.usedBlocks += p.usedBlocks;
    total.freeBlocks += p.freeBlocks;
  }
  return total;
}

export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const { settings } = opts;
  const log = opts.log ?? ((msg: string, err?: unknown) => console.error(`[server] ${msg}`, err ?? ""));
  let router: EngineRouter | undefined;
  let backend: Backend | undefined;
  let planner: UnitPlanner | undefined;
  const meter = new ThroughputMeter();
  const metrics = new ServerMetrics({
    scheduler: () => (router ? sumSnapshots(router.loadedSlots()) : undefined),
    pool: () => (router ? sumPools(router.loadedSlots()) : undefined),
    deviceMemory: () => deviceMemoryOf(backend?.engine),
  });
  const observer: SchedulerObserver = {
    onStep: (r) => {
      metrics.onStep(r);
      meter.onStep(r);
    },
    onGroupSettled: (o) => metrics.onGroupSettled(o),
    onStepError: () => metrics.onStepError(),
  };
  const work = new WorkTracker();
  let closing = false;
  // Read before listening: an invalid directions.json stops the start, naming the file.
  let directions = Directions.fromModelDir(settings.modelDir);
  const registry = opts.engineLookup === undefined ? registryLookup(settings.dbPath, log) : undefined;
  const lookup = opts.engineLookup === undefined ? registry?.lookup : (opts.engineLookup ?? undefined);
  // API keys (GLOSSA_REQUIRE_KEYS): opens the registry now, so a broken database fails the start, not a request.
  const keys = await AccessGate.open({ required: settings.requireKeys, dbPath: settings.dbPath, log });
  const detector = await LanguageDetector.load();
  const api = new ApiDescription();
  const app = createApp({
    api,
    settings,
    metrics,
    keys,
    detector,
    service: () => router?.reference.service,
    route: async (srcIso) => {
      const slot = await router!.slotFor(srcIso);
      return { service: slot.service, engine: slot.name };
    },
    modelName: () => backend?.modelName,
    directions: () => directions,
    engines: () => router?.loadedSlots().map((s) => s.name) ?? [],
    deviceMemory: () => deviceMemoryOf(backend?.engine),
    retryAfterSeconds: () => {
      const queued = router ? sumSnapshots(router.loadedSlots()).queued : 0;
      const rate = meter.perSecond();
      return rate > 0 ? Math.min(60, Math.max(1, Math.ceil(queued / rate))) : 2;
    },
    log,
    draining: () => closing,
    admission: (bytes) => {
      // Only bodies that would go to the tokenizer threads (short ones are tokenized on the event loop).
      if (!planner || bytes <= INLINE_PLAN_CHARS) return undefined;
      // Bodies over the size limit get their 413 from the reader; an idle tokenizer takes any request.
      if (bytes > settings.maxBodyBytes) return undefined;
      const waiting = planner.backlogChars();
      return waiting > 0 && waiting + bytes > plannerBacklogChars(settings) ? `tokenizer busy (${waiting} characters waiting)` : undefined;
    },
    work,
    ...(opts.access ? { access: opts.access } : {}),
  });
  mountAdmin(app, opts.admin ?? calibAdminRoutes({ dbPath: settings.dbPath, settings, log: (line) => log(line) }), settings.adminKey);

  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        port: settings.port,
        hostname: settings.host,
        serverOptions: {
          // Slow or silent clients are cut by these (Node's defaults: 60 s / 300 s, checked every 30 s).
          headersTimeout: settings.headersTimeoutMs,
          requestTimeout: Math.max(settings.receiveTimeoutMs, settings.headersTimeoutMs),
          keepAliveTimeout: settings.keepAliveTimeoutMs,
          connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(settings.headersTimeoutMs / 4))),
        },
      },
      () => resolve(s as Server),
    );
    s.once("error", reject);
  });
  server.on("error", (err) => log("http server error", err));
  // Beyond the cap, new connections are closed as soon as they are accepted.
  server.maxConnections = settings.maxConnections;
  // A connection silent in both directions for longer than any translation may take is dead.
  server.setTimeout(settings.requestTimeoutMs + 10_000);
  const address = server.address() as AddressInfo;
  const hostForUrl = settings.host.includes(":") ? `[${settings.host}]` : settings.host;
  const url = `http://${hostForUrl === "0.0.0.0" ? "127.0.0.1" : hostForUrl}:${address.port}`;

  const ready = (async () => {
    const loaded = await (opts.backend ?? loadBackend(settings));
    backend = loaded;
    if (loaded.directions) directions = loaded.directions;
    if (closing) return;
    const observe = (thread: "event_loop" | "worker", chars: number, seconds: number) => {
      metrics.tokenizedChars.inc({ thread }, chars);
      metrics.tokenizeSeconds.observe({ thread }, seconds);
    };
    const inline = new InlinePlanner(loaded.tokenizer, observe);
    planner = loaded.tokenizerDir ? new PooledPlanner(loaded.tokenizerDir, settings.tokenizerThreads, inline, observe) : inline;
    const reference = buildSlot(loaded.modelName, loaded.engine, loaded.tokenizer, settings, opts.decodeDefaults ?? {}, observer, log, planner);
    const loadCalibrated =
      opts.loadCalibrated ??
      (async (ref: CalibratedEngineRef): Promise<Backend> => {
        // The registry row is what was gated: serve only those exact bytes (src/storage/engine-store.ts).
        if (ref.fileSha256 === undefined) throw new EngineFileError("checksum", ref.file, `engine ${ref.name}: the registry records no sha256 for ${ref.file}`);
        // Released on another machine: fetch the bytes from the artifact store (GLOSSA_ARTIFACTS) first.
        const file = (await registry?.engineFile({ file: ref.file, fileSha256: ref.fileSha256 })) ?? ref.file;
        const verified = await verifyContent(file, ref.fileSha256, `engine ${ref.name}: file`);
        const engine = await Engine.load({
          modelDir: settings.modelDir,
          enginePath: file,
          threads: settings.threads,
          ...deviceOptions(settings),
          ...(settings.kvBlocks !== undefined ? { kvBlocks: settings.kvBlocks } : {}),
          ...(settings.blockSize !== undefined ? { blockSize: settings.blockSize } : {}),
        });
        try {
          await assertUnchanged(file, verified, `engine ${ref.name}: file`);
        } catch (e) {
          engine.dispose();
          throw e;
        }
        return { engine, tokenizer: loaded.tokenizer, modelName: ref.name, dispose: () => engine.dispose() };
      });
    router = new EngineRouter(
      reference,
      lookup,
      async (ref) => {
        if (closing) throw new Error("shutting down");
        const b = await loadCalibrated(ref);
        return buildSlot(ref.name, b.engine, b.tokenizer, settings, { ...opts.decodeDefaults, ...ref.decodeOptions }, observer, log, planner!, b.dispose);
      },
      log,
      undefined,
      undefined,
      (ref, problem) => metrics.engineLoadFailures.inc({ engine: ref.name, problem }),
    );
    // Releases made elsewhere (another replica, glossa gate) reach this replica within a second.
    registry?.watch(() => router?.invalidate());
    metrics.ready.set(1);
  })();
  ready.catch((err: unknown) => log("loading the engine failed", err));

  let closed: Promise<ShutdownReport> | undefined;
  const close = (graceMs = settings.shutdownGraceMs): Promise<ShutdownReport> => {
    closed ??= (async () => {
      // From here /ready answers 503 and new work is refused before anything is done for it (app.ts), while the
      // listener stays open so that load balancers and keep-alive clients get that answer rather than a reset.
      closing = true;
      metrics.ready.set(0);
      server.closeIdleConnections();
      await ready.catch(() => undefined);
      const finished = await work.idle(graceMs);
      const dropped = finished ? 0 : work.count;
      if (dropped > 0) {
        log(`shutdown: ${dropped} translation request(s) still running when the ${graceMs} ms grace period ended were dropped (answered 503)`);
      }
      const serverClosed = new Promise<void>((r) => server.close(() => r()));
      const slots = router ? await router.slots() : [];
      await Promise.all(slots.map((s) => s.close(0)));
      await registry?.close();
      await planner?.close();
      await keys.close();
      // Keep-alive connections go as soon as they are idle (their last answer written); after 2 s, all go.
      const idleSweep = setInterval(() => server.closeIdleConnections(), 25);
      const forced = setTimeout(() => server.closeAllConnections(), 2000);
      server.closeIdleConnections();
      await serverClosed;
      clearInterval(idleSweep);
      clearTimeout(forced);
      if (!opts.backend) await backend?.dispose?.();
      return { dropped };
    })();
    return closed;
  };

  return { url, port: address.port, ready, metrics, app, api, scheduler: () => router?.reference.scheduler, close };
}
