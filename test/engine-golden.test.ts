/**
 * Exactness against Hugging Face: greedy and beam-4 token ids from transformers (CPU, FP32) for every
 * fixture sentence must come out token for token, run one by one and all batched together; encoder
 * output and first-step logits must match closely. Needs models/glossa-mini-50 and
 * test/fixtures/golden/golden.json (skipped with a note when they are absent).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";

import { Engine } from "../src/engine/engine.js";
import type { DecodeOptions, GenerateRequest } from "../src/engine/types.js";
import { GOLDEN_FILE as GOLDEN, MODEL_DIR as MODEL, loadGolden, type GoldenCase } from "./helpers/golden.js";

const ready = existsSync(join(MODEL, "config.json")) && existsSync(GOLDEN);
const golden = ready ? loadGolden() : undefined;

function num(v: unknown): number | undefined {
  return typeof v === "number" ? v : undefined;
}

/**
 * HF generate() options for the golden run: settings.greedy / settings.beam4 (the kwargs passed to generate),
 * then the generation config the goldens were made with, then generation_config.json, then HF defaults.
 */
function options(e: Engine, mode: "greedy" | "beam4"): DecodeOptions {
  const s = golden!.settings;
  const m = (s[mode] ?? {}) as Record<string, unknown>;
  const gc = (s.generation_config ?? {}) as Record<string, unknown>;
  const g = e.generationDefaults;
  const pick = (key: string): unknown => m[key] ?? gc[key] ?? undefined;
  const maxLength = num(pick("max_length")) ?? g.maxLength ?? 20;
  const early = pick("early_stopping") ?? g.earlyStopping ?? false;
  return {
    beamSize: num(m.num_beams) ?? (mode === "greedy" ? 1 : 4),
    maxNewTokens: num(pick("max_new_tokens")) ?? maxLength - 1,
    lengthPenalty: num(pick("length_penalty")) ?? g.lengthPenalty ?? 1.0,
    earlyStopping: early === true,
    noRepeatNgramSize: num(pick("no_repeat_ngram_size")) ?? g.noRepeatNgramSize ?? 0,
    repetitionPenalty: num(pick("repetition_penalty")) ?? g.repetitionPenalty ?? 1.0,
  };
}

function req(e: Engine, c: GoldenCase, mode: "greedy" | "beam4"): GenerateRequest {
  return { srcIds: Int32Array.from(c.src_ids), forcedBosId: c.forced_bos_id, options: options(e, mode) };
}

const skip = ready ? false : `needs ${MODEL} and ${GOLDEN}`;
let enginePromise: Promise<Engine> | undefined;
const engine = (): Promise<Engine> => (enginePromise ??= Engine.load({ modelDir: MODEL }));

test("greedy matches HF token for token, one by one", { skip }, async () => {
  const e = await engine();
  assert.ok(golden!.cases.length > 0, "golden.json has cases");
  for (const c of golden!.cases) {
    const [r] = await e.generate([req(e, c, "greedy")]);
    assert.deepEqual(r!.ids, c.greedy.ids, `${c.id} (${c.src_lang}->${c.tgt_lang})`);
  }
});

test("beam 4 matches HF token for token, one by one", { skip }, async () => {
  const e = await engine();
  for (const c of golden!.cases) {
    const [r] = await e.generate([req(e, c, "beam4")]);
    assert.deepEqual(r!.ids, c.beam4.ids, `${c.id} (${c.src_lang}->${c.tgt_lang})`);
    assert.ok(Math.abs(r!.score - c.beam4.score) < 1e-4, `${c.id} score ${r!.score} vs ${c.beam4.score}`);
  }
});

test("all cases batched together (greedy and beam 4 mixed) match HF", { skip }, async () => {
  const e = await engine();
  const cases = golden!.cases;
  const results = await e.generate([...cases.map((c) => req(e, c, "greedy")), ...cases.map((c) => req(e, c, "beam4"))]);
  cases.forEach((c, i) => {
    assert.deepEqual(results[i]!.ids, c.greedy.ids, `${c.id} greedy`);
    assert.deepEqual(results[cases.length + i]!.ids, c.beam4.ids, `${c.id} beam4`);
  });
});

test("every kernel set this CPU has (and one thread) matches HF, batched", { skip }, async () => {
  const cases = golden!.cases;
  for (const kernels of ["generic", "avx2", "avx512"]) {
    const e = await Engine.load({ modelDir: MODEL, kernels, threads: kernels === "generic" ? 1 : undefined });
    if (e.info.kernels !== kernels) {
      await e.dispose();
      continue;
    }
    const results = await e.generate([...cases.map((c) => req(e, c, "greedy")), ...cases.map((c) => req(e, c, "beam4"))]);
    cases.forEach((c, i) => {
      assert.deepEqual(results[i]!.ids, c.greedy.ids, `${kernels}: ${c.id} greedy`);
      assert.deepEqual(results[cases.length + i]!.ids, c.beam4.ids, `${kernels}: ${c.id} beam4`);
    });
    await e.dispose();
  }
});

test("a small KV pool (preemption) and a tight encode budget still give HF's tokens", { skip }, async () => {
  const cases = golden!.cases;
  const e = await Engine.load({ modelDir: MODEL, kvBlocks: 48, blockSize: 8 });
  const reqs = [...cases.map((c) => req(e, c, "beam4")), ...cases.map((c) => req(e, c, "greedy"))];
  reqs.forEach((r, i) => e.add(i, r));
  const got = new Map<number, number[]>();
  let preempted = 0;
  while (e.pending() > 0) {
    const out = await e.step({ encodeTokenBudget: 40 });
    assert.deepEqual(out.failed, []);
    preempted += out.preempted.length;
    for (const f of out.finished) got.set(f.id, f.result.ids);
    assert.ok(e.poolStats().usedBlocks <= 48);
  }
  assert.ok(preempted > 0, "the pool was too small for everything at once");
  assert.deepEqual(e.checkConsistency(), []);
  cases.forEach((c, i) => {
    assert.deepEqual(got.get(i), c.beam4.ids, `${c.id} beam4`);
    assert.deepEqual(got.get(cases.length + i), c.greedy.ids, `${c.id} greedy`);
  });
  await e.dispose();
});

test("encoder output and first-step logits match HF", { skip: skip || !golden?.internals?.length ? skip || "no internals in golden.json" : false }, async () => {
  const e = await engine();
  for (const g of golden!.internals!) {
    const c = golden!.cases.find((x) => x.id === g.id);
    assert.ok(c, `internals for unknown case ${g.id}`);
    const { encoderOut, logits } = e.debugForward(Int32Array.from(c.src_ids));
    const [T, d] = g.encoder_out.shape;
    assert.equal(encoderOut.length, T * d);
    let sum = 0;
    let abs = 0;
    for (const v of encoderOut) {
      sum += v;
      abs += Math.abs(v);
    }
    assert.ok(Math.abs(abs - g.encoder_out.abs_sum) <= 1e-4 * g.encoder_out.abs_sum + 1e-3, `${g.id} abs_sum ${abs} vs ${g.encoder_out.abs_sum}`);
    assert.ok(Math.abs(sum - g.encoder_out.sum) <= 1e-4 * g.encoder_out.abs_sum + 1e-3, `${g.id} sum ${sum} vs ${g.encoder_out.sum}`);
    g.encoder_out.first8.forEach((v, i) => assert.ok(Math.abs(encoderOut[i]! - v) < 1e-4, `${g.id} encoder[${i}]`));
    const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!);
    assert.deepEqual(order.slice(0, 5), g.first_step_logits.top5_ids, `${g.id} top5`);
    g.first_step_logits.top5.forEach((v, i) => assert.ok(Math.abs(logits[order[i]!]! - v) < 1e-3, `${g.id} logit ${i}`));
    const mx = logits[order[0]!]!;
    let s = 0;
    for (const v of logits) s += Math.exp(v - mx);
    assert.ok(Math.abs(mx + Math.log(s) - g.first_step_logits.logsumexp) < 1e-3, `${g.id} logsumexp`);
  }
});

test("a step runs off the event loop: timers keep firing while it computes", { skip }, async () => {
  const e = await engine();
  const cases = golden!.cases;
  cases.forEach((c, i) => e.add(10_000 + i, req(e, c, "beam4")));
  let ticks = 0;
  let running = true;
  const spin = (): void => {
    if (!running) return;
    ticks++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const first = await e.step(); // encodes 48 sources and decodes their first token: far more than one loop turn
  running = false;
  assert.equal(first.encoded.length, cases.length);
  assert.ok(ticks > 0, "the event loop turned while the step computed");
  for (let i = 0; i < cases.length; i++) e.cancel(10_000 + i);
  assert.equal(e.pending(), 0);
});
