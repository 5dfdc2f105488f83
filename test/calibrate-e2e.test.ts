/**
 * End to end on the reference model: small calibrated engines built from the golden sentences (the
 * team's fixture) translate all golden sources sensibly against the float engine's own output
 * (corpus chrF), batch invariance holds for the quantized kernels, and AWQ scales folded into the
 * LayerNorms / v_proj rows leave the float model's logits unchanged.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

import { Engine } from "../src/engine/engine.js";
import { readEngineHeader } from "../src/engine/engine-file.js";
import type { GenerateRequest } from "../src/engine/types.js";
import { corpusChrf } from "../src/metrics/chrf.js";
import { MBartTokenizer } from "../src/tokenizer/mbart.js";
import { buildTestEngine, goldenCases, MODEL, SKIP } from "./calib-fixture.js";

const dir = mkdtempSync(join(tmpdir(), "glossa-calibrate-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function requests(): GenerateRequest[] {
  return goldenCases().map((c) => ({
    srcIds: Int32Array.from(c.src_ids),
    forcedBosId: c.forced_bos_id,
    options: Engine.decodeOptions({ beamSize: 1, maxNewTokens: 64 }),
  }));
}

let floatTexts: Promise<string[]> | undefined;
async function translateAll(enginePath?: string): Promise<string[]> {
  const tok = await MBartTokenizer.fromDir(MODEL);
  const e = await Engine.load({ modelDir: MODEL, ...(enginePath ? { enginePath } : {}), threads: 2 });
  try {
    return (await e.generate(requests())).map((r) => tok.decode(r.ids));
  } finally {
    await e.dispose();
  }
}
const floatOutputs = (): Promise<string[]> => (floatTexts ??= translateAll());

let int8Build: ReturnType<typeof buildTestEngine> | undefined;
const int8Engine = (): ReturnType<typeof buildTestEngine> => (int8Build ??= buildTestEngine(dir, "int8", 24));

test("a calibrated INT8 engine translates the golden sentences like the float engine (chrF >= 90)", { skip: SKIP }, async () => {
  const built = await int8Engine();
  const [ref, hyp] = await Promise.all([floatOutputs(), translateAll(built.path)]);
  const chrf = corpusChrf(hyp, [ref]).score;
  assert.ok(chrf >= 90, `chrF of INT8 vs float outputs ${chrf.toFixed(1)}`);
  assert.ok(built.result.units.every((u) => /^int8-w8a(8|16)$|^f32$/.test(u.precision)), "every layer has a recorded precision");
});

let int4Build: ReturnType<typeof buildTestEngine> | undefined;
const int4Engine = (): ReturnType<typeof buildTestEngine> => (int4Build ??= buildTestEngine(dir, "awq-int4", 24));

test("quantized kernels are batch invariant: an AWQ INT4 engine gives the same tokens batched and one by one", { skip: SKIP }, async () => {
  const int4 = await int4Engine();
  const e = await Engine.load({ modelDir: MODEL, enginePath: int4.path, threads: 2 });
  try {
    const reqs = requests().slice(0, 6);
    const batched = await e.generate(reqs);
    for (let i = 0; i < reqs.length; i++) {
      const [alone] = await e.generate([reqs[i]!]);
      assert.deepEqual([...alone!.ids], [...batched[i]!.ids], `case ${i}`);
    }
  } finally {
    await e.dispose();
  }
});

test("an AWQ INT4 engine translates the golden sentences sensibly (chrF >= 60 against the float engine)", { skip: SKIP }, async () => {
  const built = await int4Engine();
  const [ref, hyp] = await Promise.all([floatOutputs(), translateAll(built.path)]);
  const chrf = corpusChrf(hyp, [ref]).score;
  assert.ok(chrf >= 60, `chrF of INT4 vs float outputs ${chrf.toFixed(1)}`);
  assert.ok(built.result.units.some((u) => u.precision === "int4-g128-a8"), "AWQ INT4 layers run as W4A8");
  assert.ok(built.result.units.every((u) => u.precision !== "int4-g128"), "no W4A16 layer unless asked for");
  for (const u of built.result.units) if (!u.unit.endsWith("fc2") && u.precision.startsWith("int4")) assert.ok(u.awqAlpha !== undefined, `${u.unit} has a searched AWQ alpha`);
});

test("--lm-head int8: an extra int8 lm_head next to the F16 embeddings, translating like the float engine", { skip: SKIP }, async () => {
  const built = await buildTestEngine(join(dir, "lmhead"), "int8", 24, { lmHead: "int8" }); // own folder: same file name
  const h = readEngineHeader(built.path);
  assert.equal(h.entries.get("lm_head.weight")?.dtype, "I8");
  assert.equal(h.precision["lm_head.weight"], "int8-w8a8");
  assert.equal(h.entries.get("model.shared.weight")?.dtype, "F16", "embeddings stay F16");
  const [ref, hyp] = await Promise.all([floatOutputs(), translateAll(built.path)]);
  const chrf = corpusChrf(hyp, [ref]).score;
  assert.ok(chrf >= 90, `chrF of INT8 + int8 LM head vs float outputs ${chrf.toFixed(1)}`);
  // The same int8 layers with the F16 head: the first-step logits differ (the int8 head is the one in use) but stay close.
  const plain = await Engine.load({ modelDir: MODEL, enginePath: (await int8Engine()).path, threads: 2 });
  const e = await Engine.load({ modelDir: MODEL, enginePath: built.path, threads: 2 });
  try {
    const src = Int32Array.from(goldenCases()[0]!.src_ids);
    const a = plain.debugForward(src).logits;
    const b = e.debugForward(src).logits;
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(a[i]!));
    }
    assert.ok(maxDiff > 0 && maxDiff < 0.1 * maxAbs, `int8 vs F16 LM head logits: max diff ${maxDiff} (max |logit| ${maxAbs})`);
    const reqs = requests().slice(0, 4);
    const batched = await e.generate(reqs);
    for (let i = 0; i < reqs.length; i++) assert.deepEqual([...(await e.generate([reqs[i]!]))[0]!.ids], [...batched[i]!.ids], `case ${i}`);
  } finally {
    await e.dispose();
    await plain.dispose();
  }
});

test("AWQ scales folded into LayerNorms and v_proj rows leave the float logits unchanged", { skip: SKIP }, async () => {
  const built = await buildTestEngine(dir, "fold-only", 16, { sensitivity: false });
  const scaled = built.result.units.filter((u) => (u.awqAlpha ?? 0) > 0);
  assert.ok(scaled.length > 0, "the search picked non-trivial scales for some groups");
  const f = await Engine.load({ modelDir: MODEL, threads: 1 });
  const q = await Engine.load({ modelDir: MODEL, enginePath: built.path, threads: 1 });
  try {
    for (const c of goldenCases().slice(0, 4)) {
      const a = f.debugForward(Int32Array.from(c.src_ids)).logits;
      const b = q.debugForward(Int32Array.from(c.src_ids)).logits;
      let maxDiff = 0;
      let maxAbs = 0;
      for (let i = 0; i < a.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
        maxAbs = Math.max(maxAbs, Math.abs(a[i]!));
      }
      assert.ok(maxDiff <= 1e-4 * Math.max(1, maxAbs), `${c.id}: max logit difference ${maxDiff}`);
    }
  } finally {
    await f.dispose();
    await q.dispose();
  }
});

test("INT8 / INT4 engines give the same tokens with the generic, AVX2 and AVX-512 kernel tables", { skip: SKIP }, async () => {
  const reqs = requests().slice(0, 6);
  for (const built of [await int8Engine(), await int4Engine()]) {
    const outs: number[][][] = [];
    for (const kernels of ["generic", "avx2", "avx512"]) {
      const e = await Engine.load({ modelDir: MODEL, enginePath: built.path, threads: 2, kernels });
      try {
        outs.push((await e.generate(reqs)).map((r) => [...r.ids]));
      } finally {
        await e.dispose();
      }
    }
    assert.deepEqual(outs[1], outs[0], `${built.path}: avx2 vs generic`);
    assert.deepEqual(outs[2], outs[0], `${built.path}: avx512 vs generic`);
  }
});
