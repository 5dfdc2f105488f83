/**
 * releasedEngineFor(db, srcLang): the server's routing rule over the registry — only engines with an
 * active release and built for that source language; INT4 preferred over INT8; a revoked release
 * (failing gate) stops routing; other languages and the reference fall back (undefined).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

import { releasedEngineFor } from "../src/calib/released.js";
import { openRegistry } from "../src/storage/db.js";
import { ensureReferenceEngine, registerEngine } from "../src/storage/engines.js";
import { recordGateDecision } from "../src/storage/releases.js";

const tmp = mkdtempSync(join(tmpdir(), "glossa-released-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("routes a source language to its released calibrated engine, INT4 first, and stops after a failing gate", async () => {
  const modelDir = join(tmp, "model");
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(join(modelDir, "config.json"), "{}");
  writeFileSync(join(modelDir, "model.safetensors"), "w");
  const reg = await openRegistry({ path: join(tmp, "r.sqlite") });
  try {
    const ref = await ensureReferenceEngine(reg.db, modelDir);
    const eng = (name: string, recipe: string, language: string) =>
      registerEngine(reg.db, { name, modelId: ref.modelId, file: join(tmp, `${name}.safetensors`), recipe, language, fileSha256: name, sizeBytes: 1 });
    const gate = (engineId: number, decision: "pass" | "fail") =>
      recordGateDecision(reg.db, { engineId, referenceEngineId: ref.id, decision, tolerances: {}, summary: decision, reasons: [] });
    const de8 = await eng("m/int8-de", "int8", "de");
    const de4 = await eng("m/awq-int4-de", "awq-int4", "de");
    const fr8 = await eng("m/int8-fr", "int8", "fr");
    assert.equal(await releasedEngineFor(reg.db, "de"), undefined, "nothing released yet");
    await gate(de8.id, "pass");
    assert.equal((await releasedEngineFor(reg.db, "de"))?.name, "m/int8-de");
    await gate(de4.id, "pass");
    assert.equal((await releasedEngineFor(reg.db, "de"))?.name, "m/awq-int4-de", "INT4 preferred when both are released");
    await gate(de4.id, "fail");
    assert.equal((await releasedEngineFor(reg.db, "de"))?.name, "m/int8-de", "a revoked INT4 release falls back to INT8");
    await gate(fr8.id, "fail");
    assert.equal(await releasedEngineFor(reg.db, "fr"), undefined, "a rejected engine is never routed to");
    assert.equal(await releasedEngineFor(reg.db, "en"), undefined, "no engine for en: the reference serves");
  } finally {
    await reg.close();
  }
});
