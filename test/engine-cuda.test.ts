/**
 * The CUDA backend through the TypeScript engine, where a GPU is usable (skipped with the reason elsewhere; CI has
 * no GPU). FP32 mode gives HF's golden tokens; FP16 deterministic mode is batch invariant; device search and CUDA
 * graphs give the same tokens as the eager path; /ready-style info reports the device and its memory.
 * The same checks run without Node.js in native/tools/gpu (glossa_gpu golden / engine-check / conformance).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Engine } from "../src/engine/engine.js";
import { nativeAddon } from "../src/engine/native.js";
import type { DecodeOptions, GenerateRequest } from "../src/engine/types.js";
import { GOLDEN_FILE, MODEL_DIR, loadGolden } from "./helpers/golden.js";
import { existsSync } from "node:fs";
import { writeTinyModel } from "./fixtures/tiny-mbart.js";

const status = nativeAddon().cudaStatus();
const skip = status.available ? false : `no usable CUDA device: ${status.reason}`;
const tmp = mkdtempSync(join(tmpdir(), "glossa-cuda-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

function request(i: number, options: Partial<DecodeOptions> = {}): GenerateRequest {
  const src = [90 + (i % 5)];
  for (let j = 0; j < 3 + ((i * 7) % 17); j++) src.push(4 + ((i * 11 + j * 3) % 80));
  src.push(2);
  return { srcIds: new Int32Array(src), forcedBosId: 91 + (i % 4), options: Engine.decodeOptions({ maxNewTokens: 18, ...options }) };
}

test("FP32 mode gives HF's golden tokens (greedy and beam 4, batched)", { skip: skip || (!existsSync(GOLDEN_FILE) || !existsSync(MODEL_DIR) ? "no golden model" : false) }, async () => {
  const golden = loadGolden();
  const e = await Engine.load({ modelDir: MODEL_DIR, device: "cuda", compute: "f32", kvBlocks: 4096 });
  assert.equal(e.info.device, "cuda:0");
  const opts = (beamSize: number) => Engine.decodeOptions({ beamSize, maxNewTokens: 64, earlyStopping: true });
  const reqs = [
    ...golden.cases.map((c) => ({ srcIds: Int32Array.from(c.src_ids), forcedBosId: c.forced_bos_id, options: opts(1) })),
    ...golden.cases.map((c) => ({ srcIds: Int32Array.from(c.src_ids), forcedBosId: c.forced_bos_id, options: opts(4) })),
  ];
  const out = await e.generate(reqs);
  golden.cases.forEach((c, i) => {
    assert.deepEqual(out[i]!.ids, c.greedy.ids, `${c.id} greedy`);
    assert.deepEqual(out[golden.cases.length + i]!.ids, c.beam4.ids, `${c.id} beam4`);
  });
  await e.dispose();
});

test("FP16 deterministic mode: batched == one by one; graphs == eager; device memory reported", { skip }, async () => {
  const model = writeTinyModel(join(tmp, "tiny"), { dModel: 64, heads: 4, ffn: 128 });
  const det = await Engine.load({ modelDir: model, device: "cuda", deterministic: true, kvBlocks: 512, blockSize: 8 });
  const eager = await Engine.load({ modelDir: model, device: "cuda", deterministic: true, cudaGraphs: false, kvBlocks: 512, blockSize: 8 });
  const settings: Array<Partial<DecodeOptions>> = [{}, { beamSize: 4 }, { beamSize: 2, noRepeatNgramSize: 2, repetitionPenalty: 1.3 }];
  const reqs = Array.from({ length: 12 }, (_, i) => request(i, settings[i % settings.length]));
  const alone = [];
  for (const r of reqs) alone.push((await det.generate([r]))[0]!);
  assert.deepEqual(await det.generate(reqs), alone);
  assert.deepEqual(await eager.generate(reqs), alone);
  const m = det.deviceMemory();
  assert.ok(m.totalBytes > 0 && m.usedBytes > 0 && m.freeBytes <= m.totalBytes);
  await det.dispose();
  await eager.dispose();
});
