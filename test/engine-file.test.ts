/**
 * Engine files (src/engine/engine-file.ts): a small INT8 engine built from the reference model loads;
 * a tampered copy (one data byte flipped), a truncated copy and a copy whose metadata names another
 * model are refused with a message naming the file.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import type { BuiltEngine } from "../src/calib/build.js";
import { Engine } from "../src/engine/engine.js";
import { readEngineHeader } from "../src/engine/engine-file.js";
import { buildTestEngine, MODEL, SKIP } from "./calib-fixture.js";

const dir = mkdtempSync(join(tmpdir(), "glossa-engine-file-"));
let built: BuiltEngine;

before(async () => {
  if (SKIP) return;
  built = await buildTestEngine(dir, "int8", 12);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("an INT8 engine file is self-describing and loads through Engine.load({modelDir, enginePath})", { skip: SKIP }, async () => {
  const h = readEngineHeader(built.path);
  assert.equal(h.metadata.recipe, "int8");
  assert.equal(h.metadata.language, "en");
  assert.match(h.metadata.data_sha256 ?? "", /^[0-9a-f]{64}$/);
  assert.match(h.metadata.model_config_sha256 ?? "", /^[0-9a-f]{64}$/);
  assert.equal(h.metadata.calibration_sha256, built.calibrationSha256);
  // Embeddings / lm_head stay F16; quantized Linear weights are I8 with F32 per-row scales.
  assert.equal(h.entries.get("model.shared.weight")?.dtype, "F16");
  assert.equal(h.precision["model.shared.weight"], "f16");
  const q = h.entries.get("model.encoder.layers.0.fc1.weight");
  assert.equal(q?.dtype, "I8");
  assert.match(h.precision["model.encoder.layers.0.fc1.weight"] ?? "", /^int8-w8a(8|16)$/);
  assert.equal(h.entries.get("model.encoder.layers.0.fc1.weight_scale")?.dtype, "F32");
  assert.ok(statSync(built.path).size < 0.8 * 65e6, "smaller than the F16 checkpoint");
  const e = await Engine.load({ modelDir: MODEL, enginePath: built.path, threads: 1 });
  try {
    assert.equal(e.info.vocabSize, 16000);
  } finally {
    await e.dispose();
  }
});

test("a tampered engine file (one data byte flipped) is refused, naming the file", { skip: SKIP }, async () => {
  const bad = join(dir, "tampered.safetensors");
  copyFileSync(built.path, bad);
  const h = readEngineHeader(bad);
  const fd = openSync(bad, "r+");
  try {
    const pos = h.dataStart + Math.floor((h.size - h.dataStart) / 2);
    const b = Buffer.alloc(1);
    b[0] = readFileSync(bad)[pos]! ^ 0x01;
    writeSync(fd, b, 0, 1, pos);
  } finally {
    closeSync(fd);
  }
  await assert.rejects(Engine.load({ modelDir: MODEL, enginePath: bad, threads: 1 }), (err: Error) => {
    assert.ok(err.message.includes(bad), `message names the file: ${err.message}`);
    assert.match(err.message, /checksum/);
    return true;
  });
});

test("a truncated engine file and one built for another model are refused, naming the file", { skip: SKIP }, async () => {
  const cut = join(dir, "truncated.safetensors");
  writeFileSync(cut, readFileSync(built.path).subarray(0, 4096));
  await assert.rejects(Engine.load({ modelDir: MODEL, enginePath: cut, threads: 1 }), (err: Error) => err.message.includes(cut));
  // Rewrite the header with another model's config hash (same length, so the data stays in place).
  const other = join(dir, "other-model.safetensors");
  const bytes = Buffer.from(readFileSync(built.path));
  const h = readEngineHeader(built.path);
  const header = bytes.subarray(8, h.dataStart).toString("utf8");
  const sha = h.metadata.model_config_sha256!;
  const replaced = header.replace(sha, sha.split("").reverse().join(""));
  bytes.write(replaced, 8, "utf8");
  writeFileSync(other, bytes);
  await assert.rejects(Engine.load({ modelDir: MODEL, enginePath: other, threads: 1 }), (err: Error) => {
    assert.ok(err.message.includes(other), err.message);
    assert.match(err.message, /another model/);
    return true;
  });
});
