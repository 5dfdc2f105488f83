/**
 * Checkpoint loading: sharded/F16/BF16 checkpoints load, and truncated, wrong-dtype, missing-tensor and
 * wrong-shape checkpoints are refused with a message naming the file and the tensor.
 * Uses tiny randomly initialised mBART checkpoints written to a temp dir.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Engine } from "../src/engine/engine.js";
import { CheckpointError, readCheckpoint } from "../src/engine/loader.js";
import { EngineError } from "../src/engine/types.js";
import { writeTinyModel } from "./fixtures/tiny-mbart.js";

const tmp = mkdtempSync(join(tmpdir(), "glossa-loader-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (o: Parameters<typeof writeTinyModel>[1] = {}): string => writeTinyModel(join(tmp, `m${n++}`), o);

/** Rewrites a safetensors header in place through a callback (data offsets kept). */
function editHeader(file: string, edit: (h: Record<string, any>) => void): void {
  const buf = readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + len).toString("utf8")) as Record<string, any>;
  edit(header);
  let json = JSON.stringify(header);
  if (json.length > len) throw new Error("edited header grew");
  json = json.padEnd(len, " ");
  buf.write(json, 8, "utf8");
  writeFileSync(file, buf);
}

const SRC = new Int32Array([90, 10, 11, 12, 13, 2]);

async function logitsOf(dir: string): Promise<Float32Array> {
  const e = await Engine.load({ modelDir: dir, threads: 2, kvBlocks: 16 });
  return e.debugForward(SRC).logits;
}

test("reads config, generation config and tensor locations", () => {
  const dir = fresh();
  const c = readCheckpoint(dir);
  assert.equal(c.config.dModel, 32);
  assert.equal(c.config.forcedEosId, 2);
  assert.equal(c.config.decoderStartId, 2);
  assert.deepEqual(c.dtypes, ["F32"]);
  assert.ok(c.tensors.some((t) => t.name === "final_logits_bias"));
  assert.ok(!c.tensors.some((t) => t.name === "lm_head.weight"), "lm_head is tied and absent");
});

test("sharded checkpoint gives bit-identical logits to the single file", async () => {
  const a = await logitsOf(fresh());
  const b = await logitsOf(fresh({ shards: 3 }));
  assert.deepEqual(Array.from(b), Array.from(a));
});

test("F16 and BF16 checkpoints load and compute close to F32", async () => {
  const f32 = await logitsOf(fresh());
  for (const dtype of ["F16", "BF16"] as const) {
    const dir = fresh({ dtype });
    assert.deepEqual(readCheckpoint(dir).dtypes, [dtype]);
    const l = await logitsOf(dir);
    let maxDiff = 0;
    for (let i = 0; i < l.length; i++) maxDiff = Math.max(maxDiff, Math.abs(l[i]! - f32[i]!));
    assert.ok(maxDiff > 0, `${dtype} weights are rounded, logits must differ a little`);
    assert.ok(maxDiff < (dtype === "F16" ? 0.05 : 0.5), `${dtype} max logit difference ${maxDiff}`);
  }
});

test("absent final_logits_bias means zeros", async () => {
  const dir = fresh({ finalLogitsBias: false });
  assert.ok(!readCheckpoint(dir).tensors.some((t) => t.name === "final_logits_bias"));
  const l = await logitsOf(dir);
  assert.equal(l.length, 96);
});

test("refuses a truncated safetensors file, naming file and tensor", async () => {
  const dir = fresh();
  const file = join(dir, "model.safetensors");
  truncateSync(file, statSync(file).size - 100);
  await assert.rejects(Engine.load({ modelDir: dir }), (e: Error) => {
    assert.ok(e instanceof CheckpointError && e instanceof EngineError);
    assert.match(e.message, /model\.safetensors/);
    assert.match(e.message, /truncated/);
    assert.match(e.message, /tensor model\.decoder\./);
    return true;
  });
});

test("refuses a file truncated inside its header", async () => {
  const dir = fresh();
  truncateSync(join(dir, "model.safetensors"), 50);
  await assert.rejects(Engine.load({ modelDir: dir }), /model\.safetensors: corrupt or truncated: header length/);
});

test("refuses a wrong dtype, naming file and tensor", async () => {
  const dir = fresh();
  editHeader(join(dir, "model.safetensors"), (h) => {
    h["model.encoder.layers.1.fc1.weight"].dtype = "I32";
  });
  await assert.rejects(Engine.load({ modelDir: dir }), (e: Error) => {
    assert.ok(e instanceof CheckpointError);
    assert.match(e.message, /model\.safetensors: tensor model\.encoder\.layers\.1\.fc1\.weight has dtype I32; expected F32, F16 or BF16/);
    return true;
  });
});

test("refuses a missing tensor, naming file and tensor", async () => {
  const dir = fresh();
  editHeader(join(dir, "model.safetensors"), (h) => {
    h["model.decoder.layers.0.encoder_attn.k_proj.renamed"] = h["model.decoder.layers.0.encoder_attn.k_proj.bias"];
    delete h["model.decoder.layers.0.encoder_attn.k_proj.bias"];
  });
  await assert.rejects(Engine.load({ modelDir: dir }), (e: Error) => {
    assert.ok(e instanceof CheckpointError);
    assert.match(e.message, /model\.safetensors: tensor model\.decoder\.layers\.0\.encoder_attn\.k_proj\.bias is missing/);
    return true;
  });
});

test("refuses a missing shard tensor, naming the shard", async () => {
  const dir = fresh({ shards: 2 });
  const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
  const shard = index.weight_map["model.shared.weight"] as string;
  editHeader(join(dir, shard), (h) => {
    h["model.shared.gone"] = h["model.shared.weight"];
    delete h["model.shared.weight"];
  });
  await assert.rejects(Engine.load({ modelDir: dir }), new RegExp(`${shard}: tensor model\\.shared\\.weight is missing`));
});

test("refuses a shape that does not match the config, and a size that does not match the shape", async () => {
  const dir = fresh();
  const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  cfg.encoder_ffn_dim = 128;
  writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
  await assert.rejects(
    Engine.load({ modelDir: dir }),
    /model\.safetensors: tensor model\.encoder\.layers\.0\.fc1\.weight has shape \[64, 32\], expected \[128, 32\]/,
  );
  const dir2 = fresh();
  editHeader(join(dir2, "model.safetensors"), (h) => {
    h["model.encoder.layer_norm.bias"].shape = [31];
  });
  await assert.rejects(Engine.load({ modelDir: dir2 }), /tensor model\.encoder\.layer_norm\.bias: 128 bytes of data for shape \[31\] F32/);
});

test("refuses a corrupt header and a non-mBART config", async () => {
  const dir = fresh();
  const file = join(dir, "model.safetensors");
  const buf = readFileSync(file);
  buf.write("{{{{", 8, "utf8");
  writeFileSync(file, buf);
  await assert.rejects(Engine.load({ modelDir: dir }), /model\.safetensors: corrupt safetensors header/);
  const dir2 = fresh();
  const cfg = JSON.parse(readFileSync(join(dir2, "config.json"), "utf8"));
  cfg.model_type = "t5";
  writeFileSync(join(dir2, "config.json"), JSON.stringify(cfg));
  await assert.rejects(Engine.load({ modelDir: dir2 }), /config\.json: model_type "t5" is not an mBART model/);
});
