/**
 * Scheduler unit tests against a small deterministic StepEngine double (defined here).
 * The double "translates" [lang, ...pieces, eos] into [start, forcedBos, ...pieces reversed (+1000), eos], one token
 * per step, keeps a paged KV pool with preemption, and throws if the scheduler breaks the StepEngine contract
 * (add or cancel while a step is in flight, duplicate ids, unknown request ids).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_DECODE_OPTIONS,
  EngineError,
  type GenerateRequest,
  type GenerateResult,
  type ModelInfo,
  type PoolStats,
  type StepEngine,
  type StepOptions,
  type StepOutput,
} from "../src/engine/types.js";
import { BatchScheduler, type SchedulerLimits, type StepReport } from "../src/scheduler/scheduler.js";
import { SchedulerError } from "../src/scheduler/errors.js";

const EOS = 2;
const START = 2;
const POISON = 666;

interface DoubleSeq {
  id: number;
  req: GenerateRequest;
  state: "waiting" | "running";
  out: number[];
  target: number[];
}

class DoubleEngine implements StepEngine {
  readonly info: ModelInfo = {
    modelType: "double",
    dModel: 8,
    encoderLayers: 1,
    decoderLayers: 1,
    attentionHeads: 1,
    vocabSize: 4000,
    maxPositions: 64,
    maxSourceTokens: 64,
    padId: 1,
    eosId: EOS,
    decoderStartId: START,
    precision: "f32",
    kernels: "generic",
    cpuFeatures: [],
    threads: 1,
  };
  readonly blockSize = 4;
  private seqs = new Map<number, DoubleSeq>();
  private order: number[] = [];
  inStep = false;
  violations: string[] = [];
  maxBatchSeen = 0;
  cancels: number[] = [];
  failNextStep = false;
  stepDelayMs = 1;

  constructor(readonly totalBlocks = 64) {}

  add(id: number, req: GenerateRequest): void {
    if (this.inStep) this.violations.push(`add(${id}) during step`);
    if (this.seqs.has(id)) this.violations.push(`duplicate id ${id}`);
    if (req.srcIds.includes(POISON)) throw new EngineError("poisoned source");
    const pieces = Array.from(req.srcIds.slice(1, -1));
    const target = [START, req.forcedBosId, ...pieces.reverse().map((p) => p + 1000), EOS].slice(
      0,
      req.options.maxNewTokens + 1,
    );
    this.seqs.set(id, { id, req, state: "waiting", out: [], target });
    this.order.push(id);
  }

  cancel(id: number): boolean {
    if (this.inStep) this.violations.push(`cancel(${id}) during step`);
    this.cancels.push(id);
    const had = this.seqs.delete(id);
    this.order = this.order.filter((x) => x !== id);
    return had;
  }

  pending(): number {
    return this.seqs.size;
  }

  private blocksOf(s: DoubleSeq): number {
    if (s.state !== "running") return 0;
    return Math.ceil(s.req.srcIds.length / this.blockSize) + Math.ceil(Math.max(1, s.out.length) / this.blockSize);
  }

  poolStats(): PoolStats {
    const requests = [...this.seqs.values()].map((s) => ({
      id: s.id,
      state: s.state,
      selfBlocks: s.state === "running" ? Math.ceil(Math.max(1, s.out.length) / this.blockSize) : 0,
      crossBlocks: s.state === "running" ? Math.ceil(s.req.srcIds.length / this.blockSize) : 0,
    }));
    const used = [...this.seqs.values()].reduce((a, s) => a + this.blocksOf(s), 0);
    return { blockSize: this.blockSize, totalBlocks: this.totalBlocks, usedBlocks: used, freeBlocks: this.totalBlocks - used, requests };
  }

  async step(opts?: StepOptions): Promise<StepOutput> {
    if (this.inStep) this.violations.push("concurrent step");
    this.inStep = true;
    try {
      await new Promise((r) => setTimeout(r, this.stepDelayMs));
      if (this.failNextStep) {
        this.failNextStep = false;
        throw new Error("simulated kernel failure");
      }
      const out: StepOutput = { progress: [], finished: [], failed: [], encoded: [], preempted: [], batchSize: 0, encodedTokens: 0 };
      let budget = opts?.encodeTokenBudget ?? Infinity;
      // Encode waiting requests in arrival order under the budget, when their blocks fit.
      for (const id of this.order) {
        const s = this.seqs.get(id)!;
        if (s.state !== "waiting") continue;
        const need = Math.ceil(s.req.srcIds.length / this.blockSize) + 1;
        if (need > this.totalBlocks) {
          out.failed.push({ id, error: "request can never fit in the KV pool" });
          this.seqs.delete(id);
          continue;
        }
        if (s.req.srcIds.length > budget && out.encodedTokens > 0) break;
        if (this.poolStats().freeBlocks < need) break;
        s.state = "running";
        out.encoded.push(id);
        out.encodedTokens += s.req.srcIds.length;
        budget -= s.req.srcIds.length;
      }
      this.order = this.order.filter((id) => this.seqs.has(id));
      // Decode one token for every running sequence, preempting the newest when the pool runs out.
      const running = this.order.map((id) => this.seqs.get(id)!).filter((s) => s.state === "running");
      for (const s of running) {
        if (s.state !== "running") continue;
        if (s.out.length === 0) s.out.push(s.target[0]!);
        const needsBlock = s.out.length % this.blockSize === 0;
        while (needsBlock && this.poolStats().freeBlocks < 1) {
          const victim = [...running].reverse().find((v) => v.state === "running" && v !== s);
          if (!victim) break;
          victim.state = "waiting";
          victim.out = [];
          out.preempted.push(victim.id);
        }
        const tok = s.target[s.out.length]!;
        s.out.push(tok);
        out.progress.push({ id: s.id, tokens: [tok] });
        out.batchSize++;
        if (s.out.length === s.target.length) {
          const result: GenerateResult = {
            ids: [...s.out],
            score: -s.out.length,
            finishReason: tok === EOS ? "eos" : "length",
          };
          out.finished.push({ id: s.id, result });
          this.seqs.delete(s.id);
        }
      }
      this.order = this.order.filter((id) => this.seqs.has(id));
      this.maxBatchSeen = Math.max(this.maxBatchSeen, out.batchSize);
      return out;
    } finally {
      this.inStep = false;
    }
  }
}

function request(pieces: number[], maxNewTokens = 64, tgt = 250004): GenerateRequest {
  return {
    srcIds: Int32Array.from([250001, ...pieces, EOS]),
    forcedBosId: tgt,
    options: { ...DEFAULT_DECODE_OPTIONS, maxNewTokens },
  };
}

function expected(pieces: number[], tgt = 250004): number[] {
  return [START, tgt, ...[...pieces].reverse().map((p) => p + 1000), EOS];
}

const LIMITS: SchedulerLimits = { maxQueued: 1000, maxRunningSequences: 16, maxRunningTokens: 100000, encodeTokenBudget: 64 };

function piecesFor(i: number): number[] {
  return Array.from({ length: 1 + ((i * 7) % 13) }, (_, k) => 10 + ((i * 31 + k * 17) % 900));
}

async function rejection(p: Promise<unknown>): Promise<SchedulerError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SchedulerError, `expected SchedulerError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected the promise to reject");
}

test("a single group resolves with the engine's output, in order", async () => {
  const engine = new DoubleEngine();
  const s = new BatchScheduler(engine, LIMITS);
  const results = await s.submit([request([5, 6, 7]), request([9])]);
  assert.deepEqual(results.map((r) => r.ids), [expected([5, 6, 7]), expected([9])]);
  assert.equal(results[0]!.finishReason, "eos");
  assert.deepEqual(engine.violations, []);
  assert.equal(engine.pending(), 0);
});

test("concurrent groups are batched together and each gets the output it gets alone", async () => {
  const engine = new DoubleEngine(512);
  const reports: StepReport[] = [];
  const s = new BatchScheduler(engine, LIMITS, { onStep: (r) => reports.push(r) });
  const alone: number[][] = [];
  for (let i = 0; i < 40; i++) alone.push((await s.submit([request(piecesFor(i))]))[0]!.ids);
  const together = await Promise.all(Array.from({ length: 40 }, (_, i) => s.submit([request(piecesFor(i))])));
  assert.deepEqual(together.map((r) => r[0]!.ids), alone);
  assert.ok(engine.maxBatchSeen > 1, "requests were decoded together");
  assert.ok(engine.maxBatchSeen <= LIMITS.maxRunningSequences, `batch ${engine.maxBatchSeen} within the limit`);
  assert.ok(Math.max(...reports.map((r) => r.batchSize)) > 1);
  assert.deepEqual(engine.violations, []);
});

test("a short request submitted after a long one finishes first (finished sequences leave at once)", async () => {
  const engine = new DoubleEngine(512);
  const s = new BatchScheduler(engine, LIMITS);
  const order: string[] = [];
  const long = s.submit([request(Array.from({ length: 40 }, (_, k) => k + 10))]).then(() => order.push("long"));
  await new Promise((r) => setTimeout(r, 5));
  const short = s.submit([request([3])]).then(() => order.push("short"));
  await Promise.all([long, short]);
  assert.deepEqual(order, ["short", "long"]);
});

test("a small request is not held behind all the sentences of an earlier large one", async () => {
  const engine = new DoubleEngine(1024);
  const s = new BatchScheduler(engine, { ...LIMITS, maxRunningSequences: 4 });
  const order: string[] = [];
  const big = s.submit(Array.from({ length: 40 }, (_, i) => request(piecesFor(i)))).then(() => order.push("big"));
  const small = s.submit([request([3, 4])]).then(() => order.push("small"));
  assert.equal(s.snapshot().queued, 37, "4 sentences of the large request started; 36 and the small one wait");
  await Promise.all([big, small]);
  assert.deepEqual(order, ["small", "big"]);
  assert.ok(engine.maxBatchSeen <= 4);
});

test("admission respects the running-sequence and token budgets", async () => {
  const engine = new DoubleEngine(512);
  const s = new BatchScheduler(engine, { ...LIMITS, maxRunningSequences: 3 });
  await Promise.all(Array.from({ length: 12 }, (_, i) => s.submit([request(piecesFor(i))])));
  assert.ok(engine.maxBatchSeen <= 3 && engine.maxBatchSeen >= 2, `max batch ${engine.maxBatchSeen}`);

  const e2 = new DoubleEngine(512);
  // Each request is estimated at srcLen + maxNewTokens + 1 = 3 + 8 + 1 = 12 tokens: a budget of 24 admits two.
  const s2 = new BatchScheduler(e2, { ...LIMITS, maxRunningTokens: 24 });
  await Promise.all(Array.from({ length: 6 }, () => s2.submit([request([4], 8)])));
  assert.equal(e2.maxBatchSeen, 2);
});

test("a full queue refuses the whole group at once; a group larger than the queue is too_large", async () => {
  const engine = new DoubleEngine();
  const s = new BatchScheduler(engine, { ...LIMITS, maxQueued: 2, maxRunningSequences: 1 });
  const first = s.submit([request([1, 2]), request([3, 4])]); // one admitted, one queued
  assert.equal(s.snapshot().queued, 1);
  assert.throws(
    () => s.submit([request([5]), request([6])]),
    (e: unknown) => e instanceof SchedulerError && e.kind === "queue_full",
  );
  assert.throws(
    () => s.submit([request([5]), request([6]), request([7])]),
    (e: unknown) => e instanceof SchedulerError && e.kind === "too_large",
  );
  assert.equal(s.snapshot().queued, 1, "the refused groups left nothing in the queue");
  const fits = s.submit([request([5])]);
  assert.equal(s.snapshot().queued, 2);
  assert.deepEqual((await first).map((r) => r.ids), [expected([1, 2]), expected([3, 4])]);
  assert.deepEqual((await fits)[0]!.ids, expected([5]));
  // Once drained, the queue has room again.
  assert.equal((await s.submit([request([5]), request([6])])).length, 2);
});

test("aborting cancels the group's sequences in the engine between steps and frees their blocks", async () => {
  const engine = new DoubleEngine(256);
  const s = new BatchScheduler(engine, LIMITS);
  const ac = new AbortController();
  const longPieces = Array.from({ length: 50 }, (_, k) => k + 10);
  const p = s.submit([request(longPieces, 60), request(longPieces, 60)], { signal: ac.signal });
  const other = s.submit([request([7, 8])]);
  while (engine.poolStats().usedBlocks === 0) await new Promise((r) => setTimeout(r, 1));
  ac.abort();
  const err = await rejection(p);
  assert.equal(err.kind, "cancelled");
  assert.deepEqual((await other)[0]!.ids, expected([7, 8]));
  await s.whenIdle();
  assert.equal(engine.pending(), 0);
  assert.equal(s.poolStats().usedBlocks, 0);
  assert.equal(engine.cancels.length, 2);
  assert.deepEqual(engine.violations, []);
});

test("an already-aborted signal rejects without touching the engine", async () => {
  const engine = new DoubleEngine();
  const s = new BatchScheduler(engine, LIMITS);
  const ac = new AbortController();
  ac.abort();
  assert.equal((await rejection(s.submit([request([1])], { signal: ac.signal }))).kind, "cancelled");
  assert.equal(engine.pending(), 0);
});

test("a group past its deadline fails with deadline and its blocks are freed", async () => {
  const engine = new DoubleEngine(256);
  engine.stepDelayMs = 2;
  const s = new BatchScheduler(engine, LIMITS);
  const err = await rejection(s.submit([request(Array.from({ length: 50 }, (_, k) => k + 10), 60)], { timeoutMs: 10 }));
  assert.equal(err.kind, "deadline");
  await s.whenIdle();
  assert.equal(s.poolStats().usedBlocks, 0);
  assert.equal(engine.pending(), 0);
  assert.deepEqual(engine.violations, []);
});

test("a request the engine refuses fails alone; the rest of its group is cancelled; others proceed", async () => {
  const engine = new DoubleEngine();
  const s = new BatchScheduler(engine, LIMITS);
  const bad = s.submit([request([1, 2, 3]), request([POISON])]);
  const good = s.submit([request([4])]);
  const err = await rejection(bad);
  assert.equal(err.kind, "rejected");
  assert.match(err.message, /poisoned source/);
  assert.deepEqual((await good)[0]!.ids, expected([4]));
  await s.whenIdle();
  assert.equal(engine.pending(), 0);
  assert.deepEqual(engine.violations, []);
});

test("a step that throws fails the running groups but the loop keeps serving", async () => {
  const engine = new DoubleEngine();
  const errors: unknown[] = [];
  const s = new BatchScheduler(engine, LIMITS, { onStepError: (e) => errors.push(e) }, () => {});
  engine.failNextStep = true;
  const err = await rejection(s.submit([request([1, 2])]));
  assert.equal(err.kind, "engine");
  assert.equal(errors.length, 1);
  assert.equal(engine.pending(), 0, "the failed request was cancelled in the engine");
  assert.deepEqual((await s.submit([request([3])]))[0]!.ids, expected([3]));
});

test("a request the engine fails (never fits the pool) is reported as an engine error", async () => {
  const engine = new DoubleEngine(8);
  const s = new BatchScheduler(engine, LIMITS);
  const err = await rejection(s.submit([request(Array.from({ length: 60 }, (_, k) => k + 10))]));
  assert.equal(err.kind, "engine");
  assert.match(err.message, /never fit/);
  assert.deepEqual((await s.submit([request([3])]))[0]!.ids, expected([3]));
});

test("preemption under a small pool does not change any output", async () => {
  const engine = new DoubleEngine(24);
  const s = new BatchScheduler(engine, LIMITS);
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => s.submit([request(piecesFor(i + 3))])));
  results.forEach((r, i) => assert.deepEqual(r[0]!.ids, expected(piecesFor(i + 3))));
  assert.deepEqual(engine.violations, []);
});

test("per-step tokens stream to the listener and add up to the final sequence; throwing listeners are contained", async () => {
  const engine = new DoubleEngine();
  const s = new BatchScheduler(engine, LIMITS, {}, () => {});
  const streamed: number[][] = [[], []];
  const finished: number[] = [];
  const results = await s.submit([request([1, 2, 3]), request([4, 5])], {
    onTokens: (i, toks) => {
      streamed[i]!.push(...toks);
      if (toks[0] === EOS) throw new Error("listener bug");
    },
    onFinished: (i) => finished.push(i),
  });
  results.forEach((r, i) => assert.deepEqual([START, ...streamed[i]!], r.ids));
  assert.deepEqual(finished.sort(), [0, 1]);
  assert.deepEqual((await s.submit([request([9])]))[0]!.ids, expected([9]));
});

test("close lets running work finish within the grace period and refuses new work", async () => {
  const engine = new DoubleEngine();
  const s = new BatchScheduler(engine, LIMITS);
  const p = s.submit([request([1, 2, 3, 4])]);
  await s.close(5000);
  assert.deepEqual((await p)[0]!.ids, expected([1, 2, 3, 4]));
  assert.throws(() => s.submit([request([1])]), (e: unknown) => e instanceof SchedulerError && e.kind === "closed");
});

test("close past its grace period fails what is left with closed and leaves the engine empty", async () => {
  const engine = new DoubleEngine(256);
  engine.stepDelayMs = 3;
  const s = new BatchScheduler(engine, LIMITS);
  const p = s.submit([request(Array.from({ length: 50 }, (_, k) => k + 10), 60)]);
  const failed = rejection(p);
  await new Promise((r) => setTimeout(r, 10));
  await s.close(5);
  assert.equal((await failed).kind, "closed");
  assert.equal(engine.pending(), 0);
  assert.deepEqual(engine.violations, []);
});
