import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { readCheckpoint } from "../src/engine/loader.js";
import { repoRoot } from "../src/config.js";

const dir = join(repoRoot(), "models", "glossa-mini-50");

test("shipped checkpoint: every tensor present, F16, with the shape config.json implies", () => {
  const ckpt = readCheckpoint(dir);
  const c = ckpt.config;
  assert.deepEqual(ckpt.dtypes, ["F16"]);
  const byName = new Map(ckpt.tensors.map((t) => [t.name, t]));
  const d = 512;
  const expect: Array<[string, number[]]> = [
    ["model.shared.weight", [16000, d]],
    ["model.encoder.embed_positions.weight", [256 + 2, d]],
    ["model.decoder.embed_positions.weight", [256 + 2, d]],
    ["model.encoder.layers.4.fc1.weight", [2048, d]],
    ["model.encoder.layers.4.fc2.weight", [d, 2048]],
    ["model.decoder.layers.1.encoder_attn.k_proj.weight", [d, d]],
    ["model.decoder.layers.1.self_attn.out_proj.bias", [d]],
    ["model.decoder.layer_norm.weight", [d]],
    ["model.encoder.layernorm_embedding.bias", [d]],
  ];
  for (const [name, shape] of expect) {
    const t = byName.get(name);
    assert.ok(t, `${name} present`);
    assert.deepEqual(t.shape, shape, name);
    assert.equal(t.bytes, shape.reduce((a, b) => a * b, 2), `${name} byte size`);
  }
  assert.equal(c.encoderLayers, 5);
  assert.equal(c.decoderLayers, 2);
  // 5 encoder layers x 16 tensors + 2 decoder layers x 26 + embeddings/norms
  const layerTensors = ckpt.tensors.filter((t) => /\.layers\.\d+\./.test(t.name)).length;
  assert.equal(layerTensors, 5 * 16 + 2 * 26);
});

test("shipped checkpoint: shards under 16 MiB, whole model under 64 MiB, HF mBART-50 conventions", () => {
  let total = 0;
  for (const f of readdirSync(dir)) {
    const size = statSync(join(dir, f)).size;
    total += size;
    if (f.endsWith(".safetensors")) assert.ok(size <= 16 * 2 ** 20, `${f} is ${size} bytes`);
  }
  assert.ok(total <= 64 * 2 ** 20, `model folder is ${total} bytes`);
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  assert.equal(config.model_type, "mbart");
  assert.deepEqual(config.architectures, ["MBartForConditionalGeneration"]);
  assert.equal(config.scale_embedding, true);
  assert.equal(config.decoder_start_token_id, 2);
  const gen = JSON.parse(readFileSync(join(dir, "generation_config.json"), "utf8"));
  assert.equal(gen.decoder_start_token_id, 2);
  assert.equal(gen.forced_eos_token_id, 2);
});
