/**
 * Non-finite weights are refused at load (issue 9 item 2): a NaN or +-inf anywhere in a reference checkpoint
 * (F32, F16, BF16; weights, biases, layer norms, positions, embeddings) or in a calibrated engine file
 * (kept-F16 embeddings, int8 scales, biases) makes Engine.load fail with a message naming the
 * file, the tensor and the element. Extreme finite values (65504, subnormals, -0) still load.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Engine } from "../src/engine/engine.js";
import { readEngineHeader, sha256Hex } from "../src/engine/engine-file.js";
import { readSafetensorsHeader } from "../src/engine/loader.js";
import { writeTinyModel, type TinyDType } from "./fixtures/tiny-mbart.js";
import { buildTestEngine, MODEL, SKIP } from "./calib-fixture.js";

const tmp = mkdtempSync(join(tmpdir(), "glossa-nonfinite-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

const RAW: Record<TinyDType, Record<"nan" | "inf" | "-inf", number[]>> = {
  F32: { nan: [0x00, 0x00, 0xc0, 0x7f], inf: [0x00, 0x00, 0x80, 0x7f], "-inf": [0x00, 0x00, 0x80, 0xff] },
  F16: { nan: [0x00, 0x7e], inf: [0x00, 0x7c], "-inf": [0x00, 0xfc] },
  BF16: { nan: [0xc0, 0x7f], inf: [0x80, 0x7f], "-inf": [0x80, 0xff] },
};
const SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

/** Overwrites element `index` of a tensor in a safetensors file with raw little-endian bytes. */
function poke(file: string, tensor: string, index: number, bytes: number[]): void {
  const t = readSafetensorsHeader(file).get(tensor);
  assert.ok(t && "offset" in t, `${tensor} in ${file}`);
  const buf = readFileSync(file);
  Buffer.from(bytes).copy(buf, t.offset + index * SIZE[t.dtype]!);
  writeFileSync(file, buf);
}

async function refused(opts: Parameters<typeof Engine.load>[0], file: string, tensor: string, what: RegExp): Promise<void> {
  await assert.rejects(Engine.load({ threads: 1, kvBlocks: 16, ...opts }), (err: Error) => {
    assert.ok(err.message.includes(file), `names the file: ${err.message}`);
    assert.ok(err.message.includes(`tensor ${tensor}`), `names the tensor: ${err.message}`);
    assert.match(err.message, what);
    assert.match(err.message, /non-finite/);
    return true;
  });
}

for (const dtype of ["F32", "F16", "BF16"] as const) {
  test(`${dtype} checkpoint: NaN / inf / -inf in weights, biases, norms, positions and embeddings are refused`, async () => {
    const cases: Array<[string, number, "nan" | "inf" | "-inf", RegExp]> = [
      ["model.encoder.layers.0.fc1.weight", 0, "nan", /element \[0, 0\] is NaN/],
      ["model.decoder.layers.1.encoder_attn.k_proj.weight", 35, "inf", /element \[1, 3\] is inf/],
      ["model.encoder.layers.1.self_attn.out_proj.bias", 5, "-inf", /element \[5\] is -inf/],
      ["model.decoder.layer_norm.weight", 31, "nan", /element \[31\] is NaN/],
      ["model.encoder.embed_positions.weight", 40, "inf", /is inf/],
      ["model.shared.weight", 96 * 32 - 1, "-inf", /element \[95, 31\] is -inf/],
      ["final_logits_bias", 7, "nan", /element \[0, 7\] is NaN/],
    ];
    for (const [tensor, index, kind, what] of cases) {
      const dir = writeTinyModel(join(tmp, `m${n++}`), { dtype });
      const file = join(dir, "model.safetensors");
      poke(file, tensor, index, RAW[dtype][kind]);
      await refused({ modelDir: dir }, file, tensor, what);
    }
  });
}

test("extreme finite values load: F16 65504, the smallest subnormal, -0", async () => {
  const dir = writeTinyModel(join(tmp, `m${n++}`), { dtype: "F16" });
  const file = join(dir, "model.safetensors");
  poke(file, "model.encoder.layers.0.fc1.weight", 0, [0xff, 0x7b]);
  poke(file, "model.encoder.layers.0.fc1.weight", 1, [0x01, 0x00]);
  poke(file, "model.encoder.layers.0.fc1.weight", 2, [0x00, 0x80]);
  poke(file, "model.encoder.layers.0.fc1.weight", 3, [0xff, 0xfb]);
  const e = await Engine.load({ modelDir: dir, threads: 1, kvBlocks: 16 });
  e.dispose();
});

test("the shipped model with one NaN in model.encoder.layers.0.fc1.weight is refused", { skip: SKIP }, async () => {
  const copy = join(tmp, "mini-copy");
  mkdirSync(copy);
  const index = JSON.parse(readFileSync(join(MODEL, "model.safetensors.index.json"), "utf8")) as { weight_map: Record<string, string> };
  const shard = index.weight_map["model.encoder.layers.0.fc1.weight"]!;
  for (const f of readdirSync(MODEL)) {
    if (f === shard) copyFileSync(join(MODEL, f), join(copy, f));
    else symlinkSync(join(MODEL, f), join(copy, f));
  }
  poke(join(copy, shard), "model.encoder.layers.0.fc1.weight", 1234, RAW.F16.nan);
  await refused({ modelDir: copy }, join(copy, shard), "model.encoder.layers.0.fc1.weight", /element \[2, 210\] is NaN/);
});

/** Writes raw bytes into an engine file's tensor and re-seals data_sha256, as a build that wrote them would. */
function pokeEngine(src: string, dst: string, tensor: string, index: number, bytes: number[]): void {
  const h = readEngineHeader(src);
  const e = h.entries.get(tensor);
  assert.ok(e, `${tensor} in ${src}`);
  const buf = Buffer.from(readFileSync(src));
  Buffer.from(bytes).copy(buf, h.dataStart + e.data_offsets[0] + index * SIZE[e.dtype]!);
  const oldSum = h.metadata.data_sha256!;
  const newSum = sha256Hex(buf.subarray(h.dataStart));
  const header = buf.subarray(8, h.dataStart).toString("utf8");
  assert.ok(header.includes(oldSum));
  buf.write(header.replace(oldSum, newSum), 8, "utf8");
  writeFileSync(dst, buf);
}

test("engine files: NaN in the kept-F16 embeddings, inf in an INT8 scale, -inf in a bias are refused", { skip: SKIP }, async () => {
  // INT4 scales (F16) and zero points go through the same TensorRef::toFloat as every scale and bias here.
  const int8 = await buildTestEngine(join(tmp, "engines"), "int8", 8);
  const cases: Array<[string, number, number[], RegExp]> = [
    ["model.shared.weight", 512 * 3 + 7, RAW.F16.nan, /element \[3, 7\] is NaN/],
    ["model.encoder.layers.0.fc1.weight_scale", 9, RAW.F32.inf, /element \[9\] is inf/],
    ["model.decoder.layers.0.fc2.bias", 2, RAW.F32["-inf"], /element \[2\] is -inf/],
  ];
  for (const [tensor, index, bytes, what] of cases) {
    const dst = join(tmp, `engine-${n++}.safetensors`);
    pokeEngine(int8.path, dst, tensor, index, bytes);
    await refused({ modelDir: MODEL, enginePath: dst }, dst, tensor, what);
  }
  // The untouched file still loads.
  (await Engine.load({ modelDir: MODEL, enginePath: int8.path, threads: 1, kvBlocks: 16 })).dispose();
});

test("the engine-file writer refuses non-finite tensors before writing anything", async () => {
  const { writeEngineFile } = await import("../src/engine/engine-file.js");
  const meta = { model_name: "m", model_config_sha256: "", model_weights_sha256: "", model_dir: "", language: "en", recipe: "int8", calibration_set: "t", calibration_sha256: "", report: "{}" };
  const path = join(tmp, `writer-${n++}.safetensors`);
  const f16 = Buffer.from([0x00, 0x3c, 0x00, 0x7e]); // 1.0, NaN
  assert.throws(
    () => writeEngineFile(path, [{ name: "model.shared.weight", dtype: "F16", shape: [2], data: f16, precision: "f16" }], meta),
    (e: Error) => e.message.includes("model.shared.weight") && /element 1 is not finite/.test(e.message),
  );
  assert.equal(existsSync(path), false);
  const f32 = Buffer.alloc(8);
  f32.writeFloatLE(2.5, 0);
  f32.writeFloatLE(Number.NEGATIVE_INFINITY, 4);
  assert.throws(() => writeEngineFile(path, [{ name: "b", dtype: "F32", shape: [2], data: f32, precision: "f32" }], meta), /tensor b: element 1 is not finite/);
  f32.writeFloatLE(-0, 4);
  writeEngineFile(path, [{ name: "b", dtype: "F32", shape: [2], data: f32, precision: "f32" }], meta);
  assert.ok(existsSync(path));
});
