/**
 * The paged KV cache, driven through the step API of the native engine on a tiny random mBART:
 * allocation, copy-on-write beam forks, freeing on cancel and finish, exhaustion with preemption
 * (results unchanged vs. a big pool) and a randomized add/step/cancel interleaving checked with the
 * native refcount validator after every operation.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Engine } from "../src/engine/engine.js";
import type { DecodeOptions, GenerateRequest, GenerateResult, StepOutput } from "../src/engine/types.js";
import { writeTinyModel } from "./fixtures/tiny-mbart.js";

const tmp = mkdtempSync(join(tmpdir(), "glossa-kv-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const MODEL = writeTinyModel(join(tmp, "tiny"));

function request(i: number, options: Partial<DecodeOptions> = {}): GenerateRequest {
  const len = 3 + ((i * 5) % 11);
  const src = [90 + (i % 5)];
  for (let j = 0; j < len; j++) src.push(4 + ((i * 13 + j * 7) % 80));
  src.push(2);
  return { srcIds: new Int32Array(src), forcedBosId: 91 + (i % 4), options: Engine.decodeOptions({ maxNewTokens: 12, ...options }) };
}

function assertConsistent(e: Engine, where: string): void {
  assert.deepEqual(e.checkConsistency(), [], `KV bookkeeping after ${where}`);
}

/** Steps until every listed id finished; returns results by id. */
async function runAll(e: Engine, ids: number[], onStep?: (o: StepOutput) => void): Promise<Map<number, GenerateResult>> {
  const done = new Map<number, GenerateResult>();
  for (let guard = 0; done.size < ids.length; guard++) {
    assert.ok(guard < 2000, "engine made no progress");
    const out = await e.step({ encodeTokenBudget: 64 });
    assert.deepEqual(out.failed, []);
    for (const f of out.finished) done.set(f.id, f.result);
    onStep?.(out);
    assertConsistent(e, "step");
  }
  return done;
}

test("allocates cross blocks per request and self blocks as sequences grow", async () => {
  const e = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 64, blockSize: 4 });
  const req = request(3, { maxNewTokens: 10 });
  e.add(1, req);
  let s = e.poolStats();
  assert.equal(s.usedBlocks, 0);
  assert.deepEqual(s.requests, [{ id: 1, state: "waiting", selfBlocks: 0, crossBlocks: 0 }]);
  const crossBlocks = Math.ceil(req.srcIds.length / 4);
  const out = await e.step();
  assert.deepEqual(out.encoded, [1]);
  assert.equal(out.encodedTokens, req.srcIds.length);
  s = e.poolStats();
  // after the first step the decoder start token's K/V sit in one self block
  assert.deepEqual(s.requests, [{ id: 1, state: "running", selfBlocks: 1, crossBlocks }]);
  assert.equal(s.usedBlocks, crossBlocks + 1);
  for (let i = 0; i < 4; i++) await e.step();
  s = e.poolStats();
  // 5 tokens fed (start + 4 generated) -> 2 blocks of 4
  assert.equal(s.requests[0]!.selfBlocks, 2);
  assertConsistent(e, "growth");
  await runAll(e, [1]);
  assert.equal(e.poolStats().usedBlocks, 0, "blocks return to the pool on finish");
  assert.equal(e.pending(), 0);
});

test("beams share blocks copy-on-write", async () => {
  const e = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 128, blockSize: 4 });
  e.add(7, request(2, { beamSize: 4, maxNewTokens: 14 }));
  let sawSharing = false;
  for (let i = 0; i < 9; i++) {
    const out = await e.step();
    assertConsistent(e, `beam step ${i}`);
    if (out.finished.length) break;
    const r = e.poolStats().requests[0]!;
    // 4 beams each holding ceil(fed / 4) blocks if nothing were shared
    const fed = i + 1;
    const unshared = 4 * Math.ceil(fed / 4);
    if (i >= 2) {
      assert.ok(r.selfBlocks <= unshared, "never more blocks than unshared beams");
      if (r.selfBlocks < unshared) sawSharing = true;
    }
  }
  assert.ok(sawSharing, "beams forked from one prefix share its full blocks");
  e.cancel(7);
  assert.equal(e.poolStats().usedBlocks, 0);
});

test("cancel frees a request's blocks at once (waiting, running, and during a step)", async () => {
  const e = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 64, blockSize: 4 });
  e.add(1, request(1));
  e.add(2, request(2, { beamSize: 3 }));
  assert.equal(e.cancel(1), true);
  assert.equal(e.cancel(1), false, "unknown after cancel");
  await e.step();
  await e.step();
  assert.ok(e.poolStats().usedBlocks > 0);
  assert.equal(e.cancel(2), true);
  assert.equal(e.poolStats().usedBlocks, 0);
  assertConsistent(e, "cancel");
  // cancel while a step is in flight: applied when the step returns, result dropped
  e.add(3, request(3));
  await e.step();
  const inFlight = e.step();
  assert.equal(e.cancel(3), true);
  const out = await inFlight;
  assert.ok(!out.finished.some((f) => f.id === 3));
  assert.equal(e.poolStats().usedBlocks, 0);
  assert.equal(e.pending(), 0);
  assertConsistent(e, "cancel in flight");
});

test("exhaustion: more requests than blocks all finish with the same results as a big pool", async () => {
  const reqs = Array.from({ length: 10 }, (_, i) => request(i, { beamSize: i % 3 === 0 ? 3 : 1, maxNewTokens: 16 }));
  const big = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 512, blockSize: 4 });
  const expected = await big.generate(reqs);
  const small = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 24, blockSize: 4 });
  reqs.forEach((r, i) => small.add(i, r));
  let preempted = 0;
  let maxUsed = 0;
  const got = await runAll(small, reqs.map((_, i) => i), (o) => {
    preempted += o.preempted.length;
    maxUsed = Math.max(maxUsed, small.poolStats().usedBlocks);
  });
  assert.ok(preempted > 0, "the small pool forced preemption");
  assert.ok(maxUsed <= 24);
  reqs.forEach((_, i) => assert.deepEqual(got.get(i), expected[i], `request ${i}`));
  assert.equal(small.poolStats().usedBlocks, 0);
});

test("a request that can never fit fails cleanly and frees its blocks", async () => {
  const e = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 3, blockSize: 2 });
  e.add(1, request(5, { maxNewTokens: 20 })); // needs more than 3 blocks of 2 tokens
  let failed: string | undefined;
  for (let i = 0; i < 50 && failed === undefined; i++) {
    const out = await e.step();
    failed = out.failed.find((f) => f.id === 1)?.error;
  }
  assert.match(failed ?? "", /KV blocks/);
  assert.equal(e.poolStats().usedBlocks, 0);
  assert.equal(e.pending(), 0);
  assertConsistent(e, "failure");
});

test("randomized add/step/cancel interleaving never loses or wrongly shares a block", async () => {
  const e = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 40, blockSize: 4 });
  let seed = 42;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const live = new Set<number>();
  let next = 0;
  let finished = 0;
  for (let op = 0; op < 150; op++) {
    const r = rnd();
    if (r < 0.35) {
      const id = next++;
      e.add(id, request(id, { beamSize: 1 + Math.floor(rnd() * 3), maxNewTokens: 4 + Math.floor(rnd() * 12), noRepeatNgramSize: rnd() < 0.3 ? 2 : 0 }));
      live.add(id);
    } else if (r < 0.5 && live.size > 0) {
      const ids = [...live];
      const id = ids[Math.floor(rnd() * ids.length)]!;
      assert.equal(e.cancel(id), true);
      live.delete(id);
    } else if (r < 0.6 && live.size > 0) {
      // cancel and add while a step is in flight
      const p = e.step({ encodeTokenBudget: 1 + Math.floor(rnd() * 40) });
      const ids = [...live];
      const victim = ids[Math.floor(rnd() * ids.length)]!;
      e.cancel(victim);
      live.delete(victim);
      const id = next++;
      e.add(id, request(id));
      live.add(id);
      const out = await p;
      for (const f of out.finished) {
        assert.ok(live.delete(f.id), `finished ${f.id} was live`);
        finished++;
      }
      assert.deepEqual(out.failed, []);
    } else {
      const out = await e.step({ encodeTokenBudget: 1 + Math.floor(rnd() * 40) });
      for (const f of out.finished) {
        assert.ok(live.delete(f.id), `finished ${f.id} was live`);
        finished++;
      }
      assert.deepEqual(out.failed, []);
    }
    assertConsistent(e, `op ${op}`);
    const s = e.poolStats();
    assert.equal(s.usedBlocks + s.freeBlocks, s.totalBlocks);
    assert.equal(e.pending(), live.size);
  }
  assert.ok(finished > 0);
  await runAll(e, []);
  while (e.pending() > 0) {
    const out = await e.step();
    for (const f of out.finished) live.delete(f.id);
    assertConsistent(e, "drain");
  }
  assert.equal(e.poolStats().usedBlocks, 0);
});

test("a preempted beam request resumes with its beams sharing the common prefix blocks, same result", async () => {
  const A: GenerateRequest = { srcIds: new Int32Array([90, 10, 11, 12, 13, 14, 15, 2]), forcedBosId: 91, options: Engine.decodeOptions({ maxNewTokens: 40 }) };
  const B: GenerateRequest = {
    srcIds: new Int32Array([92, 40, 41, 50, 2]),
    forcedBosId: 93,
    options: Engine.decodeOptions({ maxNewTokens: 30, beamSize: 4, earlyStopping: false }),
  };
  const expected = await (await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 512, blockSize: 2 })).generate([A, B]);
  const e = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 48, blockSize: 2 });
  e.add(1, A);
  e.add(2, B);
  let stepsRun = 0;
  let admissions = 0;
  let resumedBlocks: { used: number; unshared: number } | undefined;
  const got = new Map<number, number[]>();
  while (e.pending() > 0) {
    const out = await e.step();
    assert.deepEqual(out.failed, []);
    if (out.encoded.includes(2) && ++admissions === 2) {
      // all beams re-fed stepsRun + 1 tokens in this pass (and hold one more token each)
      const used = e.poolStats().requests.find((r) => r.id === 2)!.selfBlocks;
      resumedBlocks = { used, unshared: 4 * Math.ceil((stepsRun + 1) / 2) };
    }
    if (out.progress.some((p) => p.id === 2)) stepsRun++;
    for (const f of out.finished) got.set(f.id, f.result.ids);
    assertConsistent(e, "resume step");
  }
  assert.ok(resumedBlocks, "request 2 was preempted and resumed");
  assert.ok(resumedBlocks.used < resumedBlocks.unshared, `resumed beams share blocks (${resumedBlocks.used} < ${resumedBlocks.unshared})`);
  assert.deepEqual(got.get(1), expected[0]!.ids);
  assert.deepEqual(got.get(2), expected[1]!.ids);
});
