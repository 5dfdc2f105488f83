/**
 * watchReleases: a release change made through another connection is reported: on PostgreSQL by LISTEN/NOTIFY
 * alone (polling set to a minute, so only the notification can explain a prompt report), on SQLite by polling.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { openRegistry } from "../src/storage/db.js";
import { ensureReferenceEngine, registerEngine } from "../src/storage/engines.js";
import { recordGateDecision } from "../src/storage/releases.js";
import { watchReleases } from "../src/storage/release-watch.js";
import { createTestDatabase, pgSkip } from "./helpers/postgres.js";

const skipPg = await pgSkip();
const tmp = mkdtempSync(join(tmpdir(), "glossa-watch-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function changesSeen(location: string, pollMs: number): Promise<string[]> {
  const writer = await openRegistry({ path: location });
  const watcher = await openRegistry({ path: location });
  const seen: string[] = [];
  let wake: (() => void) | undefined;
  const watch = await watchReleases(watcher, () => {
    seen.push("change");
    wake?.();
  }, { pollMs });
  const next = (what: string) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no report of ${what} within 10 s`)), 10_000);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  try {
    const dir = join(tmp, `m${Math.random().toString(36).slice(2)}`);
    mkdirSync(dir);
    writeFileSync(join(dir, "config.json"), "{}");
    writeFileSync(join(dir, "model.safetensors"), "w");
    const ref = await ensureReferenceEngine(writer.db, dir);
    const e = await registerEngine(writer.db, { name: "e", modelId: ref.modelId, file: "/e", recipe: "int8", language: "de", fileSha256: "e", sizeBytes: 1 });
    assert.deepEqual(seen, [], "registering an engine is no release change");
    const released = next("a release");
    await recordGateDecision(writer.db, { engineId: e.id, referenceEngineId: ref.id, decision: "pass", tolerances: {}, summary: "p", reasons: [] });
    await released;
    const revoked = next("a revocation");
    await recordGateDecision(writer.db, { engineId: e.id, referenceEngineId: ref.id, decision: "fail", tolerances: {}, summary: "f", reasons: [] });
    await revoked;
    return seen;
  } finally {
    await watch.close();
    await watcher.close();
    await writer.close();
  }
}

describe("release watch", () => {
  it("SQLite: polling reports a release and a revocation", async () => {
    assert.deepEqual(await changesSeen(join(tmp, "w.sqlite"), 100), ["change", "change"]);
  });

  it("PostgreSQL: LISTEN/NOTIFY reports them without waiting for a poll", { skip: skipPg }, async () => {
    const db = await createTestDatabase("watch");
    try {
      const started = Date.now();
      assert.deepEqual(await changesSeen(db.url, 60_000), ["change", "change"]);
      assert.ok(Date.now() - started < 60_000, "reported before the first poll");
    } finally {
      await db.drop();
    }
  });
});
