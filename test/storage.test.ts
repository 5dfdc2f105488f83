import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { copyMigrationsPrefix, inTransaction, migrationTags, openRegistry, StorageError, type Registry, type RegistryDb } from "../src/storage/db.js";
import {
  EngineFileMismatchError, ensureModel, ensureReferenceEngine, findEngine, ModelMissingError, registerEngine, verifyEngineFiles,
} from "../src/storage/engines.js";
import { sha256Bytes } from "../src/storage/hashing.js";
import { ensureEvalSet, insertEvalRun, latestRunsOfEngine } from "../src/storage/evaluation.js";
import { isReleased, listReleases, recordGateDecision, releasedEngines } from "../src/storage/releases.js";

const tmp = mkdtempSync(join(tmpdir(), "glossa-storage-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
const freshPath = (): string => join(tmp, `db${++counter}.sqlite`);

/** Every table the schema files under src/storage/schema/ declare (works from test/ and dist/test/). */
async function schemaTables(): Promise<SQLiteTable[]> {
  const dir = new URL("../src/storage/schema/", import.meta.url);
  const files = readdirSync(dir).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith(".d.ts"));
  const tables: SQLiteTable[] = [];
  for (const f of files) {
    const mod = (await import(new URL(f, dir).href)) as Record<string, unknown>;
    for (const v of Object.values(mod)) if (v instanceof SQLiteTable) tables.push(v);
  }
  return tables;
}

function tableColumns(reg: Registry, table: string): string[] {
  return (reg.sqlite!.prepare(`PRAGMA table_info(${JSON.stringify(table)})`).all() as Array<{ name: string }>).map((c) => c.name);
}

/** A tiny fake checkpoint folder: config.json plus one weights file (self-written bytes). */
function fakeModelDir(name: string, weights = "weights-v1"): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "mbart", d_model: 8 }));
  writeFileSync(join(dir, "model.safetensors"), weights);
  return dir;
}

describe("registry database", () => {
  it("applies every migration to an empty database, in WAL mode with foreign keys on", async () => {
    const reg = await openRegistry({ path: freshPath() });
    try {
      assert.equal(reg.sqlite!.pragma("journal_mode", { simple: true }), "wal");
      assert.equal(reg.sqlite!.pragma("foreign_keys", { simple: true }), 1);
      const applied = reg.sqlite!.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number };
      assert.equal(applied.n, migrationTags().length);
      // The migrations are in sync with the schema files: every declared table and column exists.
      const tables = await schemaTables();
      assert.ok(tables.length >= 7, `expected the registry tables, found ${tables.length}`);
      for (const t of tables) {
        const cfg = getTableConfig(t);
        const cols = tableColumns(reg, cfg.name);
        assert.ok(cols.length > 0, `table ${cfg.name} missing: run npm run db:generate`);
        for (const c of cfg.columns) assert.ok(cols.includes(c.name), `column ${cfg.name}.${c.name} missing: run npm run db:generate`);
      }
    } finally {
      await reg.close();
    }
  });

  it("upgrades a database left at every earlier migration, keeping its rows", async () => {
    const total = migrationTags().length;
    assert.ok(total >= 2, "expected at least two migrations");
    for (let n = 1; n < total; n++) {
      const path = freshPath();
      const older = join(tmp, `migrations-${n}-${counter}`);
      copyMigrationsPrefix(n, older);
      const old = await openRegistry({ path, migrationsFolder: older });
      const appliedOld = old.sqlite!.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number };
      assert.equal(appliedOld.n, n);
      // Rows written by the older version (the first migration holds models and engines).
      old.sqlite!
        .prepare("INSERT INTO models (name, dir, config_sha256, weights_sha256, weights_fingerprint, created_at) VALUES (?,?,?,?,?,?)")
        .run("m", "/m", "c", "w", "[]", "2026-01-01T00:00:00Z");
      await old.close();
      const reg = await openRegistry({ path });
      try {
        const applied = reg.sqlite!.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number };
        assert.equal(applied.n, total, `from migration ${n}`);
        const models = reg.sqlite!.prepare("SELECT name FROM models").all() as Array<{ name: string }>;
        assert.deepEqual(models.map((m) => m.name), ["m"]);
        assert.ok(tableColumns(reg, "releases").includes("active"));
      } finally {
        await reg.close();
      }
    }
  });

  it("reopening an up-to-date database applies nothing", async () => {
    const path = freshPath();
    await (await openRegistry({ path })).close();
    const reg = await openRegistry({ path });
    const applied = reg.sqlite!.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number };
    await reg.close();
    assert.equal(applied.n, migrationTags().length);
  });

  it("refuses a migrations prefix longer than the journal", () => {
    assert.throws(() => copyMigrationsPrefix(migrationTags().length + 1, join(tmp, "too-many")), StorageError);
  });
});

describe("models and engines", () => {
  it("creates the reference engine from a model folder once, hashing weights", async () => {
    const reg = await openRegistry({ path: freshPath() });
    try {
      const dir = fakeModelDir("ckpt-a");
      const e1 = await ensureReferenceEngine(reg.db, dir);
      const e2 = await ensureReferenceEngine(reg.db, dir);
      assert.equal(e1.id, e2.id);
      assert.equal(e1.name, "ckpt-a");
      assert.equal(e1.isReference, true);
      assert.equal(e1.recipe, "fp32");
      assert.equal(e1.language, null);
      assert.equal(e1.sizeBytes, "weights-v1".length);
      assert.match(e1.fileSha256, /^[0-9a-f]{64}$/);
      assert.equal((await findEngine(reg.db, "ckpt-a"))?.id, e1.id);
      assert.equal((await findEngine(reg.db, String(e1.id)))?.id, e1.id);
      assert.equal(await findEngine(reg.db, "nope"), undefined);
      // Same bytes, touched file: same model row.
      utimesSync(join(dir, "model.safetensors"), new Date(2020, 1, 1), new Date(2020, 1, 1));
      assert.equal((await ensureModel(reg.db, dir)).id, (await ensureModel(reg.db, dir)).id);
      assert.equal((reg.sqlite!.prepare("SELECT count(*) AS n FROM models").get() as { n: number }).n, 1);
      // Changed weights: a new model row and a new reference engine with a distinct name.
      writeFileSync(join(dir, "model.safetensors"), "weights-v2-longer");
      const e3 = await ensureReferenceEngine(reg.db, dir);
      assert.notEqual(e3.id, e1.id);
      assert.notEqual(e3.fileSha256, e1.fileSha256);
      assert.match(e3.name, /^ckpt-a@[0-9a-f]{12}$/);
    } finally {
      await reg.close();
    }
  });

  it("fails clearly when the model folder is missing", async () => {
    const reg = await openRegistry({ path: freshPath() });
    try {
      await assert.rejects(ensureReferenceEngine(reg.db, join(tmp, "no-such-model")), (e: unknown) => {
        assert.ok(e instanceof ModelMissingError);
        assert.match(e.message, /config\.json missing/);
        return true;
      });
    } finally {
      await reg.close();
    }
  });

  it("registers engines with validated names, languages and decode options", async () => {
    const reg = await openRegistry({ path: freshPath() });
    try {
      const ref = await ensureReferenceEngine(reg.db, fakeModelDir("ckpt-b"));
      const base = { modelId: ref.modelId, file: "/x/e.safetensors", recipe: "int8", fileSha256: "ab", sizeBytes: 10 };
      const e = await registerEngine(reg.db, { ...base, name: "ckpt-b/int8-de", language: "de", decodeOptions: { maxNewTokens: 3 } });
      assert.equal(e.decodeOptions, JSON.stringify({ maxNewTokens: 3 }));
      await assert.rejects(registerEngine(reg.db, { ...base, name: "ckpt-b/int8-de", language: "de" }), /already exists/);
      await assert.rejects(registerEngine(reg.db, { ...base, name: "42", language: null }), /not all digits/);
      await assert.rejects(registerEngine(reg.db, { ...base, name: "x", language: "xx" }), /invalid engine language/);
      await assert.rejects(registerEngine(reg.db, { ...base, name: "y", language: null, decodeOptions: { beams: 2 } as never }), /unknown decode option/);
      await assert.rejects(registerEngine(reg.db, { ...base, name: "z", language: null, decodeOptions: { maxNewTokens: "3" } as never }), /must be a number/);
    } finally {
      await reg.close();
    }
  });
});

describe("engine file verification", () => {
  it("accepts unchanged files and refuses changed or missing ones", async () => {
    const reg = await openRegistry({ path: freshPath() });
    try {
      const dir = fakeModelDir("ckpt-v");
      const ref = await ensureReferenceEngine(reg.db, dir);
      await verifyEngineFiles(reg.db, ref);
      // Touched but identical: re-hashed, accepted.
      utimesSync(join(dir, "model.safetensors"), new Date(2021, 1, 1), new Date(2021, 1, 1));
      await verifyEngineFiles(reg.db, ref);
      writeFileSync(join(dir, "model.safetensors"), "other weights");
      await assert.rejects(verifyEngineFiles(reg.db, ref), (e: unknown) => e instanceof EngineFileMismatchError && /has changed since it was registered/.test(e.message));

      const file = join(tmp, "engine-int8.safetensors");
      writeFileSync(file, "int8 bytes");
      const e = await registerEngine(reg.db, {
        name: "v/int8", modelId: ref.modelId, file, recipe: "int8", language: "de", fileSha256: sha256Bytes("int8 bytes"), sizeBytes: 10,
      });
      await verifyEngineFiles(reg.db, e);
      writeFileSync(file, "int8 bytes, tampered");
      await assert.rejects(verifyEngineFiles(reg.db, e), EngineFileMismatchError);
      rmSync(file);
      await assert.rejects(verifyEngineFiles(reg.db, e), /does not exist/);
    } finally {
      await reg.close();
    }
  });
});

describe("runs, gate decisions and releases", () => {
  it("keeps the newest run per set, pair and limit", async () => {
    const reg = await openRegistry({ path: freshPath() });
    try {
      const ref = await ensureReferenceEngine(reg.db, fakeModelDir("ckpt-c"));
      const set = await ensureEvalSet(reg.db, {
        name: "s", pair: "de-en", srcLang: "de", tgtLang: "en", sourceFile: "a", refFile: "b", lines: 3, sourceSha256: "1", refSha256: "2",
      });
      assert.equal((await ensureEvalSet(reg.db, { ...set })).id, set.id);
      const run = (bleu: number, lineLimit: number | null) =>
        insertEvalRun(reg.db, {
          engineId: ref.id, evalSetId: set.id, pair: "de-en", bleu, chrf: bleu + 10, bleuSignature: "b", chrfSignature: "c",
          sentences: 3, lineLimit, wallSeconds: 1, decodeOptions: "{}", hypSha256: "h",
        });
      await run(10, null);
      const newest = await run(11, null);
      const limited = await run(12, 2);
      const latest = await latestRunsOfEngine(reg.db, ref.id);
      assert.equal(latest.size, 2);
      const ids = [...latest.values()].map((r) => r.run.id).sort();
      assert.deepEqual(ids, [newest.id, limited.id].sort());
    } finally {
      await reg.close();
    }
  });

  it("releases on pass, supersedes, revokes on fail; the reference is released by definition", async () => {
    const reg = await openRegistry({ path: freshPath() });
    try {
      const ref = await ensureReferenceEngine(reg.db, fakeModelDir("ckpt-d"));
      const e = await registerEngine(reg.db, {
        name: "ckpt-d/int8", modelId: ref.modelId, file: "/e", recipe: "int8", language: null, fileSha256: "ab", sizeBytes: 1,
      });
      assert.equal(await isReleased(reg.db, ref.id), true);
      assert.equal(await isReleased(reg.db, e.id), false);
      assert.equal(await isReleased(reg.db, 9999), false);
      const reason = {
        pair: "de-en", setName: "s", evalSetId: null, engineRunId: null, referenceRunId: null,
        engineBleu: 20, referenceBleu: 20.5, engineChrf: 50, referenceChrf: 50.2, passed: true, reason: "ok",
      };
      const g1 = await recordGateDecision(reg.db, { engineId: e.id, referenceEngineId: ref.id, decision: "pass", tolerances: {}, summary: "pass", reasons: [reason] });
      assert.ok(g1.release?.active);
      assert.equal(g1.reasons.length, 1);
      assert.equal(await isReleased(reg.db, e.id), true);
      // The same decision on the same runs is a no-op (issue 9 item 5): nothing recorded, the release stays.
      const same = await recordGateDecision(reg.db, { engineId: e.id, referenceEngineId: ref.id, decision: "pass", tolerances: {}, summary: "pass", reasons: [reason] });
      assert.equal(same.unchanged, true);
      assert.equal(same.decision.id, g1.decision.id);
      assert.equal(same.release?.id, g1.release!.id);
      assert.deepEqual(same.ended, []);
      // A decision on other terms (here other tolerances) supersedes the release.
      const g2 = await recordGateDecision(reg.db, { engineId: e.id, referenceEngineId: ref.id, decision: "pass", tolerances: { default: 0.5 }, summary: "pass", reasons: [reason] });
      assert.equal(g2.unchanged, false);
      assert.deepEqual(g2.ended.map((r) => r.id), [g1.release!.id]);
      assert.equal((await listReleases(reg.db)).length, 1);
      assert.equal((await listReleases(reg.db, { all: true })).length, 2);
      assert.deepEqual(
        (await releasedEngines(reg.db)).map((r) => [r.engine.name, r.basis.kind]),
        [["ckpt-d", "reference"], ["ckpt-d/int8", "release"]],
      );
      const g3 = await recordGateDecision(reg.db, {
        engineId: e.id, referenceEngineId: ref.id, decision: "fail", tolerances: {}, summary: "fail: de-en",
        reasons: [{ ...reason, passed: false, reason: "BLEU too low" }],
      });
      assert.equal(g3.release, undefined);
      assert.deepEqual(g3.ended.map((r) => r.id), [g2.release!.id]);
      assert.equal(await isReleased(reg.db, e.id), false);
      assert.deepEqual((await releasedEngines(reg.db)).map((r) => r.engine.name), ["ckpt-d"]);
      const row = reg.sqlite!.prepare("SELECT active, ended_by_decision_id FROM releases WHERE id = ?").get(g2.release!.id) as {
        active: number; ended_by_decision_id: number;
      };
      assert.deepEqual(row, { active: 0, ended_by_decision_id: g3.decision.id });
    } finally {
      await reg.close();
    }
  });

  it("rolls back a gate decision whose reasons cannot be written", async () => {
    const reg = await openRegistry({ path: freshPath() });
    try {
      const ref = await ensureReferenceEngine(reg.db, fakeModelDir("ckpt-e"));
      await assert.rejects(
        recordGateDecision(reg.db, {
          engineId: ref.id, referenceEngineId: ref.id, decision: "pass", tolerances: {}, summary: "x",
          // A reason naming a run that does not exist violates its foreign key.
          reasons: [{ pair: "de-en", setName: "s", evalSetId: null, engineRunId: 12345, referenceRunId: null, engineBleu: null, referenceBleu: null, engineChrf: null, referenceChrf: null, passed: true, reason: "x" }],
        }),
      );
      assert.equal((reg.sqlite!.prepare("SELECT count(*) AS n FROM gate_decisions").get() as { n: number }).n, 0);
      assert.equal((reg.sqlite!.prepare("SELECT count(*) AS n FROM releases").get() as { n: number }).n, 0);
    } finally {
      await reg.close();
    }
  });
});

describe("asynchronous registry API and transactions", () => {
  it("commits a transaction's writes together and rolls them all back when its body throws", async () => {
    const reg = await openRegistry({ path: freshPath() });
    try {
      const { models } = reg.db.t;
      const row = (name: string) => ({ name, dir: `/${name}`, configSha256: "c", weightsSha256: "w", weightsFingerprint: "[]", createdAt: "t" });
      await inTransaction(reg.db, async (tx) => {
        assert.equal(tx.inTransaction, true);
        await tx.orm.insert(models).values(row("a"));
        await tx.orm.insert(models).values(row("b"));
      });
      await assert.rejects(
        inTransaction(reg.db, async (tx) => {
          await tx.orm.insert(models).values(row("c"));
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.deepEqual((await reg.db.orm.select({ name: models.name }).from(models).orderBy(models.name)).map((r) => r.name), ["a", "b"]);
      assert.equal(reg.sqlite!.inTransaction, false);
    } finally {
      await reg.close();
    }
  });

  it("serializes concurrent transactions of one process; plain queries wait for the open transaction", async () => {
    const reg = await openRegistry({ path: freshPath() });
    try {
      const { models } = reg.db.t;
      const seen: string[] = [];
      // Each transaction reads the row count and writes a row named after it: interleaving would give duplicates.
      const bump = (who: string) =>
        inTransaction(reg.db, async (tx) => {
          const n = (await tx.orm.select({ id: models.id }).from(models)).length;
          await new Promise((r) => setTimeout(r, 5));
          await tx.orm.insert(models).values({ name: `m${n}`, dir: `/${who}`, configSha256: "c", weightsSha256: "w", weightsFingerprint: "[]", createdAt: "t" });
          seen.push(who);
        });
      const outside = (async () => {
        await new Promise((r) => setTimeout(r, 1));
        // Runs while a transaction is open: it must see only committed rows, never a half-done transaction.
        return (await reg.db.orm.select({ id: models.id }).from(models)).length;
      })();
      await Promise.all([bump("x"), bump("y"), bump("z"), outside]);
      const names = (await reg.db.orm.select({ name: models.name }).from(models).orderBy(models.name)).map((r) => r.name);
      assert.deepEqual(names, ["m0", "m1", "m2"]);
      assert.deepEqual(seen, ["x", "y", "z"]);
      assert.ok([0, 1, 2, 3].includes(await outside));
    } finally {
      await reg.close();
    }
  });

  it("refuses a query on the outer handle inside a transaction instead of deadlocking", async () => {
    const reg = await openRegistry({ path: freshPath() });
    try {
      await assert.rejects(
        inTransaction(reg.db, async () => {
          await reg.db.orm.select().from(reg.db.t.models);
        }),
        // drizzle wraps driver errors ("Failed query: ..."); the cause is ours.
        (e: unknown) => e instanceof Error && e.cause instanceof StorageError && /use the transaction's handle/.test(e.cause.message),
      );
      let leaked: RegistryDb | undefined;
      await inTransaction(reg.db, async (tx) => {
        leaked = tx;
      });
      await assert.rejects(leaked!.orm.select().from(reg.db.t.models), (e: unknown) => e instanceof Error && /after the transaction ended/.test(String(e.cause)));
      // A transaction handle passed to inTransaction joins that transaction.
      await inTransaction(reg.db, async (tx) => {
        await inTransaction(tx, async (inner) => {
          assert.equal(inner, tx);
        });
      });
    } finally {
      await reg.close();
    }
  });

  it("repository code awaits whole queries: no SQLite-only .get()/.all()/.run(), and tables from db.t", () => {
    const root = new URL("../src/", import.meta.url);
    const offenders: string[] = [];
    const walk = (dir: URL): void => {
      for (const ent of readdirSync(dir, { withFileTypes: true })) {
        if (ent.isDirectory()) walk(new URL(`${ent.name}/`, dir));
        else if (/\.(ts|js)$/.test(ent.name) && !ent.name.endsWith(".d.ts")) {
          const text = readFileSync(new URL(ent.name, dir), "utf8");
          if (!/from "drizzle-orm/.test(text) || dir.href.includes("/storage/schema/")) continue;
          if (ent.name.startsWith("db.")) continue;
          const where = `${dir.pathname.slice(root.pathname.length)}${ent.name}`;
          if (/\.(get|all|run)\(\s*\)/.test(text)) offenders.push(`${where}: .get()/.all()/.run()`);
          if (/import \{[^}]*\w[^}]*\} from "[./]*(?:[\w-]+\/)*schema\/[\w-]+\.js"/.test(text.replace(/import type \{[^}]*\}[^;]*;/g, ""))) {
            offenders.push(`${where}: imports table values from src/storage/schema (use db.t)`);
          }
        }
      }
    };
    walk(root);
    assert.deepEqual(offenders, []);
  });
});
