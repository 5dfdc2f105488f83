/**
 * Continuous batching between callers and a StepEngine.
 *
 * Callers submit a group of generation requests (one HTTP request = one group, one request per sentence).
 * A single loop runs while work exists: between engine steps it applies deferred cancellations, admits queued
 * requests in FIFO order under a budget (running sequences and estimated KV tokens), then awaits one
 * `engine.step({encodeTokenBudget})`, so that the encoder work of new arrivals interleaves with the decoding of
 * running sequences. Finished sequences leave at once; a group's promise resolves when its last sequence finishes.
 * A deadline or an abort signal settles the group immediately and cancels its sequences in the engine (between
 * steps, as the StepEngine contract requires), which frees their KV blocks.
 * No failure (engine.add throwing, a failed request, a step throwing, a listener throwing) stops the loop.
 */
import type { GenerateRequest, GenerateResult, PoolStats, StepEngine, StepOutput } from "../engine/types.js";
import { SchedulerError, type SchedulerErrorKind } from "./errors.js";

export interface SchedulerLimits {
  /** Most engine requests waiting for admission (queue size); beyond it submit throws "queue_full". */
  maxQueued: number;
  /** Most sequences (beams counted) admitted into the engine at once. */
  maxRunningSequences: number;
  /** Most estimated KV tokens (source + generated, per beam) admitted into the engine at once. */
  maxRunningTokens: number;
  /** Most source tokens the engine encodes in one step. */
  encodeTokenBudget: number;
}

/** Outcome of a group, reported to the observer (metrics). */
export type GroupOutcome = "ok" | SchedulerErrorKind;

export interface StepReport {
  batchSize: number;
  encodedTokens: number;
  /** Tokens appended to sequences in this step (greedy progress plus finished beam searches). */
  generatedTokens: number;
  finished: number;
  failed: number;
  preempted: number;
  seconds: number;
}

/** Receives the scheduler's events; implementations must not throw (errors are caught and logged). */
export interface SchedulerObserver {
  onStep?(report: StepReport): void;
  onGroupSettled?(outcome: GroupOutcome, seconds: number): void;
  onStepError?(error: unknown): void;
}

export interface SubmitOptions {
  /** Aborting it cancels the group (reason "cancelled"). */
  signal?: AbortSignal;
  /** Milliseconds from submission until the group fails with "deadline". */
  timeoutMs?: number;
  /** Tokens appended to one of the group's sequences in a step (greedy decoding only). */
  onTokens?: (index: number, tokens: readonly number[]) => void;
  /** One of the group's sequences finished. */
  onFinished?: (index: number, result: GenerateResult) => void;
}

type JobState = "queued" | "running" | "done";

interface Job {
  readonly id: number;
  readonly index: number;
  readonly group: Group;
  readonly req: GenerateRequest;
  readonly sequences: number;
  readonly tokens: number;
  state: JobState;
}

interface Group {
  readonly jobs: Job[];
  /** Jobs of this group admitted into the engine and not finished. */
  running: number;
  readonly results: Array<GenerateResult | undefined>;
  remaining: number;
  settled: boolean;
  readonly startedAt: number;
  readonly options: SubmitOptions;
  resolve(results: GenerateResult[]): void;
  reject(error: SchedulerError): void;
  timer: NodeJS.Timeout | undefined;
  detachSignal: (() => void) | undefined;
}

export interface SchedulerSnapshot {
  queued: number;
  running: number;
  runningSequences: number;
  runningTokens: number;
  groups: number;
}

/** Estimated KV tokens of one request: every beam holds the source and its own generated tokens. */
export function estimateTokens(req: GenerateRequest): number {
  const beams = Math.max(1, req.options.beamSize);
  return beams * (req.srcIds.length + req.options.maxNewTokens + 1);
}

export class BatchScheduler {
  private readonly engine: StepEngine;
  private readonly limits: SchedulerLimits;
  private readonly observer: SchedulerObserver;
  private readonly log: (msg: string, err?: unknown) => void;

  private nextId = 1;
  private queue: Job[] = [];
  private readonly running = new Map<number, Job>();
  /** Engine ids to cancel once the step in flight returns. */
  private readonly deferredCancels = new Set<number>();
  private runningSequences = 0;
  private runningTokens = 0;
  private activeGroups = 0;
  private stepping = false;
  private loop: Promise<void> | undefined;
  private closed = false;
  private lastPool: PoolStats;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    engine: StepEngine,
    limits: SchedulerLimits,
    observer: SchedulerObserver = {},
    log: (msg: string, err?: unknown) => void = defaultLog,
  ) {
    for (const [k, v] of Object.entries(limits)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`scheduler limit ${k} must be a positive integer, got ${v}`);
    }
    this.engine = engine;
    this.limits = { ...limits };
    this.observer = observer;
    this.log = log;
    this.lastPool = engine.poolStats();
  }

  /**
   * Queues a group of requests; resolves with their results in order once all finished.
   * Throws SchedulerError synchronously when the queue cannot take the whole group ("queue_full", "too_large")
   * or the scheduler is closed, so that the caller can answer before doing anything else.
   */
  submit(requests: readonly GenerateRequest[], options: SubmitOptions = {}): Promise<GenerateResult[]> {
    if (this.closed) throw new SchedulerError("closed", "the server is shutting down");
    if (requests.length === 0) return Promise.resolve([]);
    if (requests.length > this.limits.maxQueued) {
      throw new SchedulerError(
        "too_large",
        `request needs ${requests.length} sentence slots but the queue holds at most ${this.limits.maxQueued}`,
      );
    }
    if (this.queue.length + requests.length > this.limits.maxQueued) {
      throw new SchedulerError("queue_full", `queue full (${this.queue.length} of ${this.limits.maxQueued} waiting)`);
    }
    if (options.signal?.aborted) return Promise.reject(new SchedulerError("cancelled", "request cancelled"));

    let resolve!: (r: GenerateResult[]) => void;
    let reject!: (e: SchedulerError) => void;
    const promise = new Promise<GenerateResult[]>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const group: Group = {
      jobs: [],
      running: 0,
      results: new Array<GenerateResult | undefined>(requests.length).fill(undefined),
      remaining: requests.length,
      settled: false,
      startedAt: performance.now(),
      options,
      resolve,
      reject,
      timer: undefined,
      detachSignal: undefined,
    };
    requests.forEach((req, index) => {
      const job: Job = {
        id: this.nextId++,
        index,
        group,
        req,
        sequences: Math.max(1, req.options.beamSize),
        tokens: estimateTokens(req),
        state: "queued",
      };
      group.jobs.push(job);
      this.queue.push(job);
    });
    this.activeGroups++;
    if (options.timeoutMs !== undefined) {
      const ms = Math.max(0, options.timeoutMs);
      group.timer = setTimeout(
        () => this.failGroup(group, new SchedulerError("deadline", `request exceeded its deadline of ${ms} ms`)),
        ms,
      );
    }
    if (options.signal) {
      const signal = options.signal;
      const onAbort = () => this.failGroup(group, new SchedulerError("cancelled", "request cancelled"));
      signal.addEventListener("abort", onAbort, { once: true });
      group.detachSignal = () => signal.removeEventListener("abort", onAbort);
    }
    this.kick();
    return promise;
  }

  /** Counts for metrics and readiness. */
  snapshot(): SchedulerSnapshot {
    return {
      queued: this.queue.length,
      running: this.running.size,
      runningSequences: this.runningSequences,
      runningTokens: this.runningTokens,
      groups: this.activeGroups,
    };
  }

  /** KV pool occupancy: live between steps, the last value seen while a step is in flight. */
  poolStats(): PoolStats {
    if (!this.stepping) this.refreshPool();
    return this.lastPool;
  }

  get limitsInUse(): Readonly<SchedulerLimits> {
    return this.limits;
  }

  /**
   * Stops accepting work, lets queued and running groups finish for up to graceMs, then fails the rest with
   * "closed" and waits for the loop to stop (the engine is idle afterwards).
   */
  async close(graceMs = 0): Promise<void> {
    this.closed = true;
    if (this.hasWork()) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, graceMs))));
      await Promise.race([this.whenIdle(), timedOut]);
      clearTimeout(timer);
    }
    for (const job of [...this.queue, ...this.running.values()]) {
      this.failGroup(job.group, new SchedulerError("closed", "the server is shutting down"));
    }
    if (this.loop) await this.loop;
    this.applyDeferredCancels();
  }

  /** Resolves when no work is queued, running or waiting to be cancelled. */
  whenIdle(): Promise<void> {
    if (!this.hasWork() && !this.loop) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private hasWork(): boolean {
    return this.queue.length > 0 || this.running.size > 0 || this.deferredCancels.size > 0;
  }

  private kick(): void {
    if (this.loop) return;
    this.loop = this.runLoop().finally(() => {
      this.loop = undefined;
      if (this.hasWork()) {
        this.kick();
      } else {
        for (const w of this.idleWaiters.splice(0)) w();
      }
    });
  }

  private async runLoop(): Promise<void> {
    while (this.hasWork()) {
      try {
        this.applyDeferredCancels();
        this.admit();
        if (this.running.size === 0) {
          // Nothing admitted (the queue emptied through cancellations): the engine has nothing to do.
          if (this.queue.length === 0) break;
          continue;
        }
        await this.stepOnce();
      } catch (err) {
        // Bookkeeping errors must never stop serving: log and continue with a fresh iteration.
        this.log("scheduler loop error", err);
      }
      // Let HTTP handlers (new arrivals, disconnects, timers) run between steps.
      await new Promise<void>((r) => setImmediate(r));
    }
    this.refreshPool();
  }

  /**
   * Admits queued jobs while they fit; always admits one when nothing runs. Among queued jobs the next one is the
   * oldest of a group with the fewest sequences running, so a request with many sentences shares the batch with
   * later small requests instead of making them wait behind all its sentences.
   */
  private admit(): void {
    while (this.queue.length > 0) {
      const at = this.pickNext();
      const job = this.queue[at]!;
      const fits =
        this.running.size === 0 ||
        (this.runningSequences + job.sequences <= this.limits.maxRunningSequences &&
          this.runningTokens + job.tokens <= this.limits.maxRunningTokens);
      if (!fits) return;
      this.queue.splice(at, 1);
      try {
        this.engine.add(job.id, job.req);
      } catch (err) {
        job.state = "done";
        this.failGroup(job.group, new SchedulerError("rejected", `engine rejected the request: ${errorMessage(err)}`));
        continue;
      }
      job.state = "running";
      job.group.running++;
      this.running.set(job.id, job);
      this.runningSequences += job.sequences;
      this.runningTokens += job.tokens;
    }
  }

  /** Index in the queue of the oldest job whose group has the fewest jobs running. */
  private pickNext(): number {
    let best = 0;
    let fewest = Infinity;
    for (let i = 0; i < this.queue.length; i++) {
      const r = this.queue[i]!.group.running;
      if (r < fewest) {
        fewest = r;
        best = i;
        if (r === 0) break;
      }
    }
    return best;
  }

  private async stepOnce(): Promise<void> {
    const t0 = performance.now();
    let out: StepOutput;
    this.stepping = true;
    try {
      out = await this.engine.step({ encodeTokenBudget: this.limits.encodeTokenBudget });
    } catch (err) {
      this.stepping = false;
      this.log("engine step failed; failing its running requests", err);
      this.safely(() => this.observer.onStepError?.(err));
      const error = new SchedulerError("engine", `engine step failed: ${errorMessage(err)}`);
      for (const job of [...this.running.values()]) {
        this.cancelInEngine(job);
        this.failGroup(job.group, error);
      }
      return;
    }
    this.stepping = false;
    const seconds = (performance.now() - t0) / 1000;
    this.handleStepOutput(out, seconds);
    this.refreshPool();
  }

  private handleStepOutput(out: StepOutput, seconds: number): void {
    let generated = 0;
    for (const p of out.progress ?? []) {
      generated += p.tokens.length;
      const job = this.running.get(p.id);
      if (!job || job.group.settled || p.tokens.length === 0) continue;
      const onTokens = job.group.options.onTokens;
      if (onTokens) this.safely(() => onTokens(job.index, p.tokens));
    }
    for (const { id, result } of out.finished ?? []) {
      const job = this.running.get(id);
      if (!job) continue;
      if (job.sequences > 1) generated += Math.max(0, result.ids.length - 1);
      this.release(job);
      this.deferredCancels.delete(id);
      const group = job.group;
      if (group.settled) continue;
      group.results[job.index] = result;
      group.remaining--;
      const onFinished = group.options.onFinished;
      if (onFinished) this.safely(() => onFinished(job.index, result));
      if (group.remaining === 0) this.resolveGroup(group);
    }
    for (const { id, error } of out.failed ?? []) {
      const job = this.running.get(id);
      if (!job) continue;
      this.release(job); // the engine already freed its blocks
      this.deferredCancels.delete(id);
      this.failGroup(job.group, new SchedulerError("engine", `engine failed the request: ${error}`));
    }
    if (this.running.size > 0 && this.engine.pending() === 0) {
      // The engine no longer knows requests we think are running: fail them rather than loop forever.
      for (const job of [...this.running.values()]) {
        this.release(job);
        this.failGroup(job.group, new SchedulerError("engine", "engine lost the request"));
      }
    }
    const report: StepReport = {
      batchSize: out.batchSize ?? 0,
      encodedTokens: out.encodedTokens ?? 0,
      generatedTokens: generated,
      finished: out.finished?.length ?? 0,
      failed: out.failed?.length ?? 0,
      preempted: out.preempted?.length ?? 0,
      seconds,
    };
    this.safely(() => this.observer.onStep?.(report));
  }

  private resolveGroup(group: Group): void {
    if (group.settled) return;
    this.settle(group);
    this.safely(() => this.observer.onGroupSettled?.("ok", (performance.now() - group.startedAt) / 1000));
    group.resolve(group.results as GenerateResult[]);
  }

  /** Settles the group with an error and removes all its unfinished jobs from the queue and the engine. */
  private failGroup(group: Group, error: SchedulerError): void {
    if (group.settled) return;
    this.settle(group);
    let dropQueued = false;
    for (const job of group.jobs) {
      if (job.state === "queued") {
        job.state = "done";
        dropQueued = true;
      } else if (job.state === "running") {
        this.cancelInEngine(job);
      }
    }
    if (dropQueued) this.queue = this.queue.filter((j) => j.state === "queued");
    this.safely(() => this.observer.onGroupSettled?.(error.kind, (performance.now() - group.startedAt) / 1000));
    group.reject(error);
    if (this.hasWork()) this.kick();
  }

  private settle(group: Group): void {
    group.settled = true;
    this.activeGroups--;
    if (group.timer) clearTimeout(group.timer);
    group.detachSignal?.();
  }

  /** Cancels a running job now between steps, or right after the step in flight. */
  private cancelInEngine(job: Job): void {
    if (job.state !== "running") return;
    if (this.stepping) {
      this.deferredCancels.add(job.id);
      return;
    }
    this.release(job);
    this.safely(() => this.engine.cancel(job.id));
    this.refreshPool();
  }

  private applyDeferredCancels(): void {
    if (this.deferredCancels.size === 0) return;
    for (const id of [...this.deferredCancels]) {
      this.deferredCancels.delete(id);
      const job = this.running.get(id);
      if (job) this.release(job);
      this.safely(() => this.engine.cancel(id));
    }
    this.refreshPool();
  }

  private release(job: Job): void {
    if (job.state !== "running") return;
    job.state = "done";
    job.group.running--;
    this.running.delete(job.id);
    this.runningSequences -= job.sequences;
    this.runningTokens -= job.tokens;
  }

  private refreshPool(): void {
    this.safely(() => {
      this.lastPool = this.engine.poolStats();
    });
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log("scheduler callback failed", err);
    }
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function defaultLog(msg: string, err?: unknown): void {
  console.error(`[scheduler] ${msg}${err === undefined ? "" : `: ${err instanceof Error ? err.stack ?? err.message : String(err)}`}`);
}
