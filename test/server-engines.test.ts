/**
 * Engine routing from the registry: a calibrated engine serves its source language only while it has an active
 * release; the server never creates a registry; lookups are cached per language and failures fall back to the
 * reference. Registry rows are built with the storage API on a tiny checkpoint (no real model needed).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRegistry } from "../src/storage/db.js";
import { ensureReferenceEngine, registerEngine } from "../src/storage/engines.js";
import { recordGateDecision } from "../src/storage/releases.js";
import { EngineRouter, registryLookup, type EngineSlot } from "../src/server/engines.js";
import { writeTinyModel } from "./fixtures/tiny-mbart.js";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "glossa-routing-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("registryLookup: released engines by source language, revocations, no registry file created", async () => {
  const absent = registryLookup(join(dir, "absent.sqlite"), () => {});
  assert.equal(await absent.lookup("fr"), undefined, "no registry: the reference serves");
  assert.equal(existsSync(join(dir, "absent.sqlite")), false, "the server never creates a registry");

  const dbFile = join(dir, "registry.sqlite");
  const reg = await openRegistry({ path: dbFile });
  const model = writeTinyModel(join(dir, "tiny"));
  const reference = await ensureReferenceEngine(reg.db, model);
  const int8 = await registerEngine(reg.db, {
    name: "tiny/int8-fr",
    modelId: reference.modelId,
    file: join(dir, "tiny-fr-int8.engine"),
    recipe: "int8",
    language: "fr",
    fileSha256: "0".repeat(64),
    sizeBytes: 123,
    decodeOptions: { beamSize: 2 },
  });
  const gate = (decision: "pass" | "fail") =>
    recordGateDecision(reg.db, { engineId: int8.id, referenceEngineId: reference.id, decision, tolerances: {}, summary: decision, reasons: [] });

  const source = registryLookup(dbFile, () => {})!;
  assert.equal(await source.lookup("fr"), undefined, "registered but not released");
  await gate("pass");
  const ref = await source.lookup("fr");
  assert.deepEqual(ref, { id: int8.id, name: "tiny/int8-fr", file: int8.file, recipe: "int8", decodeOptions: { beamSize: 2 }, fileSha256: "0".repeat(64) });
  assert.equal(await source.lookup("de"), undefined, "other languages stay on the reference");
  assert.equal(await source.lookup("en"), undefined);
  await gate("fail");
  assert.equal(await source.lookup("fr"), undefined, "a failed gate revokes the release");
  await source.close();
  await reg.close();
});

function fakeSlot(name: string): EngineSlot {
  return { name, service: undefined as never, scheduler: undefined as never, close: async () => {} };
}

test("EngineRouter: caches choices, loads each engine once, falls back on lookup or load failures", async () => {
  const reference = fakeSlot("ref");
  let lookups = 0;
  let now = 0;
  const realNow = Date.now;
  Date.now = () => now;
  try {
    let released = true;
    const loads: string[] = [];
    const router = new EngineRouter(
      reference,
      (iso) => {
        lookups++;
        if (iso === "xx") throw new Error("registry locked");
        if (iso === "fr" && released) return { id: 1, name: "fr-int8", file: "f", recipe: "int8", decodeOptions: {} };
        if (iso === "de") return { id: 2, name: "de-int4", file: "g", recipe: "awq-int4", decodeOptions: {} };
        return undefined;
      },
      async (ref) => {
        loads.push(ref.name);
        if (ref.id === 2) throw new Error("bad engine file");
        return fakeSlot(ref.name);
      },
      () => {},
      1000,
      5000,
    );
    const [a, b] = await Promise.all([router.slotFor("fr"), router.slotFor("fr")]);
    assert.equal(a.name, "fr-int8");
    assert.equal(b, a);
    assert.equal((await router.slotFor("en")).name, "ref");
    assert.equal((await router.slotFor("xx")).name, "ref", "a registry error serves the reference");
    assert.equal((await router.slotFor("de")).name, "ref", "a load failure serves the reference");
    assert.equal((await router.slotFor("de")).name, "ref");
    assert.deepEqual(loads, ["fr-int8", "de-int4"], "no reload storm after a failure");
    assert.deepEqual(router.loadedSlots().map((s) => s.name), ["ref", "fr-int8"]);
    const lookupsBefore = lookups;
    await router.slotFor("fr");
    assert.equal(lookups, lookupsBefore, "choice cached");
    released = false;
    now = 2000; // past the cache time: the revocation is seen
    assert.equal((await router.slotFor("fr")).name, "ref");
    now = 10_000; // past the retry time: the broken engine is tried again
    await router.slotFor("de");
    assert.deepEqual(loads, ["fr-int8", "de-int4", "de-int4"]);
  } finally {
    Date.now = realNow;
  }
});
