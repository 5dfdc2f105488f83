/**
 * Eight processes write to one registry at once (SQLite file and PostgreSQL): every write lands, the shared
 * evaluation set is created once, and releases stay consistent with the gate decisions (replaying the decisions
 * in their recorded order gives exactly the releases table; never two active releases of one engine).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, it } from "node:test";
import { asc, eq } from "drizzle-orm";
import { openRegistry } from "../src/storage/db.js";
import { ensureReferenceEngine, registerEngine } from "../src/storage/engines.js";
import { createTestDatabase, pgSkip } from "./helpers/postgres.js";

const WRITERS = 8;
const ROUNDS = 6;
const skipPg = await pgSkip();
const tmp = mkdtempSync(join(tmpdir(), "glossa-writers-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
const writerScript = fileURLToPath(new URL(`./helpers/registry-writer.${ext}`, import.meta.url));

interface WriterOut {
  index: number;
  sets: number[];
  runs: number[];
  decisions: Array<{ id: number; decision: string }>;
  engines: number[];
}

function runWriter(location: string, index: number, engineId: number): Promise<WriterOut> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, writerScript, location, String(index), String(ROUNDS), String(engineId)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`writer ${index} exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as WriterOut);
    });
  });
}

async function eightWriters(location: string): Promise<void> {
  const reg = await openRegistry({ path: location });
  try {
    const dir = join(tmp, `model-${Math.random().toString(36).slice(2)}`);
    mkdirSync(dir);
    writeFileSync(join(dir, "config.json"), "{}");
    writeFileSync(join(dir, "model.safetensors"), "w");
    const ref = await ensureReferenceEngine(reg.db, dir);
    const shared = await registerEngine(reg.db, { name: "shared/int8-de", modelId: ref.modelId, file: "/s", recipe: "int8", language: "de", fileSha256: "s", sizeBytes: 1 });

    const outs = await Promise.all(Array.from({ length: WRITERS }, (_, i) => runWriter(location, i, shared.id)));

    const { evalSets, evalRuns, engines, gateDecisions, releases } = reg.db.t;
    const sets = await reg.db.orm.select().from(evalSets);
    assert.equal(sets.length, 1, "the shared evaluation set is created once");
    assert.ok(outs.every((o) => o.sets.every((id) => id === sets[0]!.id)));
    const runs = await reg.db.orm.select({ id: evalRuns.id }).from(evalRuns);
    assert.equal(runs.length, WRITERS * ROUNDS);
    assert.deepEqual(runs.map((r) => r.id).sort((a, b) => a - b), outs.flatMap((o) => o.runs).sort((a, b) => a - b));
    const names = (await reg.db.orm.select({ name: engines.name }).from(engines)).map((e) => e.name);
    for (let i = 0; i < WRITERS; i++) for (let k = 0; k < ROUNDS; k++) assert.ok(names.includes(`writer-${i}-${k}`));

    const decisions = await reg.db.orm.select().from(gateDecisions).where(eq(gateDecisions.engineId, shared.id)).orderBy(asc(gateDecisions.id));
    assert.equal(decisions.length, WRITERS * ROUNDS);
    assert.deepEqual(decisions.map((d) => d.id), outs.flatMap((o) => o.decisions.map((d) => d.id)).sort((a, b) => a - b));
    // Replay the decisions in order: pass = new active release ending the previous one, fail = end the active one.
    const expected: Array<{ gateDecisionId: number; active: boolean; endedByDecisionId: number | null }> = [];
    for (const d of decisions) {
      const activeOne = expected.find((r) => r.active);
      if (activeOne) {
        activeOne.active = false;
        activeOne.endedByDecisionId = d.id;
      }
      if (d.decision === "pass") expected.push({ gateDecisionId: d.id, active: true, endedByDecisionId: null });
    }
    const actual = (await reg.db.orm.select().from(releases).where(eq(releases.engineId, shared.id)).orderBy(asc(releases.id))).map((r) => ({
      gateDecisionId: r.gateDecisionId,
      active: r.active,
      endedByDecisionId: r.endedByDecisionId,
    }));
    assert.deepEqual(actual, expected);
    assert.ok(actual.filter((r) => r.active).length <= 1);
  } finally {
    await reg.close();
  }
}

describe(`${WRITERS} concurrent writers`, () => {
  it("on one SQLite file", async () => {
    await eightWriters(join(tmp, "writers.sqlite"));
  });

  it("on one PostgreSQL database", { skip: skipPg }, async () => {
    const db = await createTestDatabase("writers");
    try {
      await eightWriters(db.url);
    } finally {
      await db.drop();
    }
  });
});
