/**
 * bench/record.ts: benchmark rows land in the registry's bench_results with the engine they measured: the model's
 * reference engine, a registered engine file (matched by sha256, even when the benchmark deleted the file before
 * saving), or an unregistered file under its name; GLOSSA_BENCH_RECORD=0 records nothing.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BenchRecorder } from "../bench/record.js";
import { benchResults } from "../src/storage/benchmarks.js";
import { openRegistry } from "../src/storage/db.js";
import { ensureModel, registerEngine } from "../src/storage/engines.js";
import { sha256Bytes } from "../src/storage/hashing.js";

const tmp = mkdtempSync(join(tmpdir(), "glossa-bench-record-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function modelDir(): string {
  const dir = join(tmp, "tiny-model");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "mbart", d_model: 8 }));
  writeFileSync(join(dir, "model.safetensors"), "weights written by the test");
  return dir;
}

const figures = { mode: "greedy", sentences: 8, tokens: 100, wallSeconds: 0.5, threads: 2, kernels: "avx2" };

test("rows name the engine measured: reference, registered file (even deleted), unregistered file", async () => {
  const dbPath = join(tmp, "r.sqlite");
  const dir = modelDir();
  const registeredFile = join(tmp, "int8.safetensors");
  const otherFile = join(tmp, "other.safetensors");
  writeFileSync(registeredFile, "int8 engine bytes");
  writeFileSync(otherFile, "other engine bytes");
  let int8Id: number;
  {
    const reg = await openRegistry({ path: dbPath });
    const model = await ensureModel(reg.db, dir);
    int8Id = (await registerEngine(reg.db, { name: "tiny/int8-de", modelId: model.id, file: "/elsewhere/int8.safetensors", recipe: "int8", language: "de", fileSha256: sha256Bytes("int8 engine bytes"), sizeBytes: 17 })).id;
    await reg.close();
  }
  const rec = new BenchRecorder("engine", "tiny-model");
  rec.add({ ...figures, measured: { kind: "reference", modelDir: dir }, batch: 1, latencies: [0.3, 0.1, 0.2] });
  rec.add({ ...figures, bench: "engine-quant", measured: { kind: "file", path: registeredFile }, batch: 16 });
  rec.add({ ...figures, bench: "engine-quant", measured: { kind: "file", path: otherFile }, batch: 16 });
  rec.add({ ...figures, measured: { kind: "other", name: "synthetic mBART" }, batch: 8 });
  rmSync(registeredFile); // the quantized bench deletes the engine files it built before the run is saved
  assert.match(await rec.save(dbPath), /recorded 4 rows/);
  const reg = await openRegistry({ path: dbPath });
  try {
    const rows = await benchResults(reg.db);
    assert.equal(rows.length, 4);
    assert.ok(rows.every((r) => r.run === rec.run && r.tokensPerSecond === 200 && r.model === "tiny-model"));
    const [ref, int8, other, synth] = rows;
    assert.equal(ref!.engineName, "tiny-model", "the reference engine is registered on first use, named like the model");
    assert.notEqual(ref!.engineId, null);
    assert.equal(ref!.latencyP50S, 0.2);
    assert.ok(Math.abs(ref!.latencyMeanS! - 0.2) < 1e-12);
    assert.equal(ref!.latencyMaxS, 0.3);
    assert.equal(ref!.bench, "engine");
    assert.deepEqual([int8!.engineId, int8!.engineName, int8!.bench], [int8Id, "tiny/int8-de", "engine-quant"]);
    assert.deepEqual([other!.engineId, other!.engineName], [null, "other.safetensors"]);
    assert.deepEqual([synth!.engineId, synth!.engineName, synth!.latencyP50S], [null, "synthetic mBART", null]);
    assert.ok(rows.every((r) => r.loadAverage !== null && r.host.length > 0));
  } finally {
    await reg.close();
  }
});

test("GLOSSA_BENCH_RECORD=0 records nothing and creates no registry", async () => {
  const dbPath = join(tmp, "none.sqlite");
  const rec = new BenchRecorder("engine", "m");
  rec.add({ ...figures, measured: { kind: "other", name: "x" }, batch: 1 });
  process.env.GLOSSA_BENCH_RECORD = "0";
  try {
    assert.match(await rec.save(dbPath), /not recorded/);
  } finally {
    delete process.env.GLOSSA_BENCH_RECORD;
  }
  const { existsSync } = await import("node:fs");
  assert.equal(existsSync(dbPath), false);
});
