/**
 * Engine behaviour on a tiny random mBART: batch invariance (a request's tokens and score do not depend on
 * what else is in the batch, greedy and beam), the step API (progress, encode budget, queued adds),
 * input validation, and agreement between kernel sets.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Engine } from "../src/engine/engine.js";
import { EngineError, type DecodeOptions, type GenerateRequest } from "../src/engine/types.js";
import { nativeAddon } from "../src/engine/native.js";
import { writeTinyModel } from "./fixtures/tiny-mbart.js";

const tmp = mkdtempSync(join(tmpdir(), "glossa-engine-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const MODEL = writeTinyModel(join(tmp, "tiny"));

function request(i: number, options: Partial<DecodeOptions> = {}): GenerateRequest {
  const len = 2 + ((i * 7) % 17);
  const src = [90 + (i % 5)];
  for (let j = 0; j < len; j++) src.push(4 + ((i * 11 + j * 3) % 80));
  src.push(2);
  return { srcIds: new Int32Array(src), forcedBosId: 91 + (i % 4), options: Engine.decodeOptions({ maxNewTokens: 18, ...options }) };
}

const settings: Array<Partial<DecodeOptions>> = [
  {},
  { beamSize: 4 },
  { beamSize: 3, lengthPenalty: 0.6, earlyStopping: false },
  { beamSize: 2, noRepeatNgramSize: 2, repetitionPenalty: 1.3 },
  { noRepeatNgramSize: 3, repetitionPenalty: 1.2 },
];

test("results are identical one by one and batched together (greedy and beam)", async () => {
  const e = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 1024, blockSize: 8 });
  const reqs = Array.from({ length: 15 }, (_, i) => request(i, settings[i % settings.length]));
  const alone = [];
  for (const r of reqs) alone.push((await e.generate([r]))[0]!);
  const batched = await e.generate(reqs);
  assert.deepEqual(batched, alone);
  for (const r of batched) {
    assert.equal(r.ids[0], 2, "decoder start");
    assert.ok(r.ids[1]! >= 91 && r.ids[1]! <= 94, "forced target code");
    assert.equal(r.ids.at(-1), 2, "forced EOS at the last position or EOS");
    assert.ok(r.ids.length <= 19);
    assert.ok(Number.isFinite(r.score) && r.score <= 0);
  }
  // a batch under a tight encode budget (requests join at different steps) gives the same again
  const staggered = await e.generate(reqs, { encodeTokenBudget: 12 });
  assert.deepEqual(staggered, alone);
});

test("maxNewTokens bounds the output and forced EOS ends it", async () => {
  const e = await Engine.load({ modelDir: MODEL, threads: 1, kvBlocks: 64 });
  for (const maxNewTokens of [1, 2, 5]) {
    for (const beamSize of [1, 3]) {
      const [r] = await e.generate([request(4, { maxNewTokens, beamSize })]);
      assert.ok(r!.ids.length <= maxNewTokens + 1, `${maxNewTokens}/${beamSize}: ${r!.ids}`);
      assert.equal(r!.ids.at(-1), 2);
      if (maxNewTokens === 1) assert.deepEqual(r!.ids, [2, 2], "forced EOS wins over forced BOS at the last position");
      if (maxNewTokens === 2) assert.equal(r!.ids[1], 91 + (4 % 4));
    }
  }
});

test("step API: greedy progress tokens rebuild the result; encode budget staggers admission", async () => {
  const e = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 256 });
  const reqs = [request(1), request(2), request(3)];
  reqs.forEach((r, i) => e.add(i, r));
  const first = await e.step({ encodeTokenBudget: reqs[0]!.srcIds.length });
  assert.deepEqual(first.encoded, [0], "only the first fits in the budget");
  assert.equal(first.batchSize, 1);
  const streamed = new Map<number, number[]>([[0, [2]], [1, [2]], [2, [2]]]);
  for (const p of first.progress) streamed.get(p.id)!.push(...p.tokens);
  const results = new Map<number, number[]>();
  while (e.pending() > 0) {
    const out = await e.step({ encodeTokenBudget: 1 });
    assert.ok(out.encoded.length <= 1, "a budget smaller than any source still admits one request");
    for (const p of out.progress) streamed.get(p.id)!.push(...p.tokens);
    for (const f of out.finished) results.set(f.id, f.result.ids);
  }
  for (let i = 0; i < 3; i++) assert.deepEqual(streamed.get(i), results.get(i));
});

test("adds during a running step are queued; a second concurrent step is refused", async () => {
  const e = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 256 });
  e.add(1, request(1));
  const p = e.step();
  e.add(2, request(2));
  assert.equal(e.pending(), 2);
  await assert.rejects(e.step(), EngineError);
  await p;
  const out = await e.step();
  assert.deepEqual(out.encoded, [2]);
  assert.throws(() => e.add(2, request(2)), /already live/);
});

test("invalid requests are refused with EngineError", async () => {
  const e = await Engine.load({ modelDir: MODEL, threads: 1, kvBlocks: 16 });
  const ok = request(1);
  const bad: Array<[GenerateRequest, RegExp]> = [
    [{ ...ok, srcIds: new Int32Array([]) }, /empty/],
    [{ ...ok, srcIds: new Int32Array([5, 500]) }, /vocabulary/],
    [{ ...ok, srcIds: new Int32Array(49).fill(5) }, /at most 48/],
    [{ ...ok, forcedBosId: 96 }, /forcedBosId/],
    [{ ...ok, options: { ...ok.options, beamSize: 0 } }, /beamSize/],
    [{ ...ok, options: { ...ok.options, maxNewTokens: 48 } }, /maxNewTokens/],
    [{ ...ok, options: { ...ok.options, repetitionPenalty: 0 } }, /repetitionPenalty/],
    [{ ...ok, options: { ...ok.options, noRepeatNgramSize: -1 } }, /noRepeatNgramSize/],
  ];
  for (const [req, msg] of bad) assert.throws(() => e.add(1, req), (err: Error) => err instanceof EngineError && msg.test(err.message));
  assert.equal(e.pending(), 0);
});

test("every kernel set this CPU supports gives the same tokens", async () => {
  const base = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 512, kernels: "generic" });
  assert.equal(base.info.kernels, "generic");
  const reqs = Array.from({ length: 6 }, (_, i) => request(i, settings[i % 2]));
  const expected = (await base.generate(reqs)).map((r) => r.ids);
  for (const kernels of ["avx2", "avx512"]) {
    const e = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 512, kernels });
    if (e.info.kernels !== kernels) continue; // not supported here
    const got = (await e.generate(reqs)).map((r) => r.ids);
    assert.deepEqual(got, expected, kernels);
  }
});

test("the device-search path (row reductions, sparse logits processors) gives the host search's results", async () => {
  // The CPU backend runs the reductions a GPU backend computes (row max / sum exp, best raw candidates, the raw
  // values of the tokens the processors change) and the engine core merges them on the host, as on CUDA.
  const host = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 1024, blockSize: 8 });
  const dev = await Engine.load({ modelDir: MODEL, threads: 2, kvBlocks: 1024, blockSize: 8, hostSearchEmulation: true });
  const more: Array<Partial<DecodeOptions>> = [
    ...settings,
    { repetitionPenalty: 0.8 },
    { beamSize: 4, repetitionPenalty: 0.7, noRepeatNgramSize: 2 },
    { beamSize: 24 }, // 48 candidates + changed tokens exceed the device's 64: the row falls back to the host
    { beamSize: 30, repetitionPenalty: 1.5 },
  ];
  const reqs = Array.from({ length: 18 }, (_, i) => request(i, more[i % more.length]));
  const a = await host.generate(reqs);
  const b = await dev.generate(reqs);
  for (let i = 0; i < reqs.length; i++) {
    assert.deepEqual(b[i]!.ids, a[i]!.ids, `request ${i}`);
    // Beam scores come out bit-identical; a greedy row with penalized tokens recombines its log-probability.
    assert.ok(Math.abs(b[i]!.score - a[i]!.score) < 1e-4, `request ${i}: ${b[i]!.score} vs ${a[i]!.score}`);
    if (reqs[i]!.options.beamSize > 1) assert.equal(b[i]!.score, a[i]!.score, `request ${i} beam score`);
  }
  host.dispose();
  dev.dispose();
});

test("device cuda: refused with the reason where no GPU is usable; CUDA tests run where one is", async (t) => {
  const status = nativeAddon().cudaStatus();
  if (status.available) {
    t.skip("a CUDA device is usable here: see test/engine-cuda.test.ts");
    return;
  }
  await assert.rejects(Engine.load({ modelDir: MODEL, device: "cuda", kvBlocks: 64 }), (e: Error) => {
    assert.ok(e instanceof EngineError);
    assert.ok(e.message.includes("device cuda is not usable") && e.message.includes(status.reason), e.message);
    return true;
  });
  await assert.rejects(Engine.load({ modelDir: MODEL, device: "tpu" }), /cpu, cuda or cuda:N/);
});

test("thread count does not change results", async () => {
  const reqs = Array.from({ length: 5 }, (_, i) => request(i, settings[i % settings.length]));
  const one = await (await Engine.load({ modelDir: MODEL, threads: 1, kvBlocks: 512 })).generate(reqs);
  const three = await (await Engine.load({ modelDir: MODEL, threads: 3, kvBlocks: 512 })).generate(reqs);
  assert.deepEqual(three, one);
});

test("the compute threads' spin before sleeping (GLOSSA_POOL_SPIN_US) does not change results", async () => {
  // Read when an engine's thread pool is made: 0 = hand each task over through the condition variable only,
  // 100 000 = workers never sleep between the calls of a generation. Three threads on any machine, so that
  // every parallelFor hands work to other threads (and on a 2-core machine they also get preempted).
  const reqs = Array.from({ length: 12 }, (_, i) => request(i, settings[i % settings.length]));
  const saved = process.env.GLOSSA_POOL_SPIN_US;
  const results = [];
  try {
    for (const spin of ["0", "100000", "100"]) {
      process.env.GLOSSA_POOL_SPIN_US = spin;
      const e = await Engine.load({ modelDir: MODEL, threads: 3, kvBlocks: 512 });
      results.push(await e.generate(reqs));
      await e.dispose();
    }
  } finally {
    if (saved === undefined) delete process.env.GLOSSA_POOL_SPIN_US;
    else process.env.GLOSSA_POOL_SPIN_US = saved;
  }
  assert.deepEqual(results[1], results[0]);
  assert.deepEqual(results[2], results[0]);
});

test("dispose frees the engine after a running step; later use is refused", async () => {
  const e = await Engine.load({ modelDir: MODEL, threads: 1, kvBlocks: 64 });
  e.add(1, request(1));
  const p = e.step();
  const d = e.dispose();
  await p;
  await d;
  assert.throws(() => e.add(2, request(2)), /disposed/);
  await assert.rejects(e.step(), /disposed/);
  await e.dispose();
});

test("load options are validated", async () => {
  await assert.rejects(Engine.load({ modelDir: MODEL, threads: 0 }), /threads/);
  await assert.rejects(Engine.load({ modelDir: MODEL, threads: 10_000 }), /threads/);
  await assert.rejects(Engine.load({ modelDir: MODEL, kvBlocks: 0 }), /kvBlocks/);
  await assert.rejects(Engine.load({ modelDir: MODEL, blockSize: -1 }), /blockSize/);
  await assert.rejects(Engine.load({ modelDir: join(tmp, "nope") }), /config\.json: cannot read/);
});
