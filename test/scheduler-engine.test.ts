/**
 * The scheduler driving the real native engine, on a tiny randomly initialised checkpoint (test/fixtures):
 * continuous batching must not change greedy output, cancellation frees KV blocks, pool pressure (preemption)
 * changes nothing, and the engine's KV bookkeeping stays consistent.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../src/engine/engine.js";
import { DEFAULT_DECODE_OPTIONS, type GenerateRequest } from "../src/engine/types.js";
import { BatchScheduler, type SchedulerLimits, type StepReport } from "../src/scheduler/scheduler.js";
import { SchedulerError } from "../src/scheduler/errors.js";
import { writeTinyModel } from "./fixtures/tiny-mbart.js";

let dir: string;
before(() => {
  dir = writeTinyModel(join(mkdtempSync(join(tmpdir(), "glossa-sched-")), "tiny"), { eosBias: 3 });
});
after(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

const LIMITS: SchedulerLimits = { maxQueued: 1000, maxRunningSequences: 16, maxRunningTokens: 1 << 20, encodeTokenBudget: 64 };

/** Deterministic sources within the tiny vocabulary (ids 4..95), [lang, ...pieces, </s>]. */
function source(i: number, maxNewTokens = 24): GenerateRequest {
  const n = 2 + ((i * 5) % 11);
  const pieces = Array.from({ length: n }, (_, k) => 4 + ((i * 37 + k * 13) % 90));
  return {
    srcIds: Int32Array.from([3, ...pieces, 2]),
    forcedBosId: 5 + (i % 3),
    options: { ...DEFAULT_DECODE_OPTIONS, maxNewTokens },
  };
}

test("batched greedy output equals each request's output alone (real engine)", async () => {
  const engine = await Engine.load({ modelDir: dir, threads: 1, kvBlocks: 512, blockSize: 4 });
  const reports: StepReport[] = [];
  const s = new BatchScheduler(engine, LIMITS, { onStep: (r) => reports.push(r) });
  const alone: number[][] = [];
  for (let i = 0; i < 40; i++) alone.push((await s.submit([source(i)]))[0]!.ids);
  reports.length = 0;
  const together = await Promise.all(Array.from({ length: 40 }, (_, i) => s.submit([source(i)])));
  together.forEach((r, i) => assert.deepEqual(r[0]!.ids, alone[i], `request ${i}`));
  assert.ok(Math.max(...reports.map((r) => r.batchSize)) > 1, "requests were decoded together");
  assert.ok(Math.max(...reports.map((r) => r.batchSize)) <= LIMITS.maxRunningSequences);
  assert.deepEqual(engine.checkConsistency(), []);
  assert.equal(engine.poolStats().usedBlocks, 0);
});

test("cancelling mid-decode frees the request's blocks at once and leaves others intact (real engine)", async () => {
  const engine = await Engine.load({ modelDir: dir, threads: 1, kvBlocks: 256, blockSize: 4 });
  const s = new BatchScheduler(engine, LIMITS);
  const expected = (await s.submit([source(7)]))[0]!.ids;
  const ac = new AbortController();
  const long = s.submit([source(1, 40), source(2, 40), source(3, 40)], { signal: ac.signal });
  const failed = long.then(
    () => assert.fail("should have been cancelled"),
    (e: unknown) => e,
  );
  const other = s.submit([source(7)]);
  while (s.poolStats().usedBlocks === 0) await new Promise((r) => setImmediate(r));
  ac.abort();
  const err = await failed;
  assert.ok(err instanceof SchedulerError && err.kind === "cancelled");
  assert.deepEqual((await other)[0]!.ids, expected);
  await s.whenIdle();
  assert.equal(s.poolStats().usedBlocks, 0);
  assert.equal(engine.pending(), 0);
  assert.deepEqual(engine.checkConsistency(), []);
});

test("a small KV pool (preemption) does not change any output (real engine)", async () => {
  const big = await Engine.load({ modelDir: dir, threads: 1, kvBlocks: 512, blockSize: 4 });
  const sBig = new BatchScheduler(big, LIMITS);
  const reference = await Promise.all(Array.from({ length: 16 }, (_, i) => sBig.submit([source(i + 50, 30)])));
  const small = await Engine.load({ modelDir: dir, threads: 1, kvBlocks: 40, blockSize: 4 });
  let preempted = 0;
  const sSmall = new BatchScheduler(small, LIMITS, { onStep: (r) => (preempted += r.preempted) });
  const squeezed = await Promise.all(Array.from({ length: 16 }, (_, i) => sSmall.submit([source(i + 50, 30)])));
  squeezed.forEach((r, i) => assert.deepEqual(r[0]!.ids, reference[i]![0]!.ids, `request ${i}`));
  assert.ok(preempted > 0, "the small pool forced preemptions");
  assert.deepEqual(small.checkConsistency(), []);
  assert.equal(small.poolStats().usedBlocks, 0);
});
