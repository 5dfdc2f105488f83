/**
 * The registry's whole API gives the same results on SQLite and on PostgreSQL: one scenario calls every
 * repository function (storage, gate, routing, calibration store) on a fresh database of each dialect, and the
 * two logs must be equal (timestamps aside). Also: the PostgreSQL migrations create every declared table and
 * column, and the drizzle-kit input for PostgreSQL lists every table. Needs PostgreSQL (see test/helpers/postgres.ts
 * for when a missing server fails or skips).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { getTableConfig as getPgTableConfig, PgTable } from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";
import { inTransaction, openRegistry, violatedConstraint, type Registry } from "../src/storage/db.js";
import {
  engineById, engineDecodeOptions, ensureModel, ensureReferenceEngine, findEngine, listEngines, referenceEngineOf, registerEngine, verifyEngineFiles,
} from "../src/storage/engines.js";
import { ensureEvalSet, insertEvalRun, latestRunsOfEngine, runsOfEngine } from "../src/storage/evaluation.js";
import { gateDecisionsOf, gateReasonsOf, isReleased, listReleases, recordGateDecision, releasedEngines } from "../src/storage/releases.js";
import { releasedEngineFor } from "../src/calib/released.js";
import { gateEngine, parseTolerances } from "../src/eval/gate.js";
import {
  applyMembershipChange, exclusionsOfLang, exclusionsOfSet, insertSet, membersOf, poolEntries, poolOf, poolSourcesOf, replacePool, setByName, setsAll,
} from "../src/calib/data/store.js";
import type { Pool } from "../src/calib/data/pool.js";
import type { Member } from "../src/calib/data/sample.js";
import * as schema from "../src/storage/schema/index.js";
import * as pgKitTables from "../src/storage/postgres/tables.js";
import { sha256Bytes } from "../src/storage/hashing.js";
import { admitRequest, apiKeyUsageOf, createApiKey, findApiKey, listApiKeys, refundCharacters, revokeApiKey } from "../src/storage/keys.js";
import { dashboardData } from "../src/storage/dashboard.js";
import { benchResults, engineProfileOf, engineProfiles, recordBenchResults, recordEngineProfile } from "../src/storage/benchmarks.js";
import { createTestDatabase, pgSkip } from "./helpers/postgres.js";

const skip = await pgSkip();
const tmp = mkdtempSync(join(tmpdir(), "glossa-dialects-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
writeFileSync(join(tmp, "de.bin"), "de");

const TIME_KEYS = /(At|Time|_at)$/;

/** JSON with timestamps replaced (they are "now" at each call), Buffers as hex. */
function normalize(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return `buffer:${v.toString("hex")}`;
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => [k, normalize(x)]);
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = TIME_KEYS.test(k) && typeof x === "string" ? "<time>" : normalize(x);
    return out;
  }
  return v;
}

/** One fake checkpoint for both runs (its files' mtimes are part of a model row). */
const MODEL_DIR = makeModelDir();

function makeModelDir(): string {
  const dir = join(tmp, "model");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "mbart", d_model: 8 }));
  writeFileSync(join(dir, "model.safetensors"), "weights: self-written bytes");
  return dir;
}

const member = (file: string, line: number, bucket: Member["bucket"], target = true): Member => ({
  file,
  line,
  sha256: sha256Bytes(`${file}:${line}`),
  normHash: sha256Bytes(`norm ${file}:${line}`),
  units: line % 17,
  scriptShare: (line % 10) / 10 + 0.05,
  bucket,
  ...(target ? { target: { lang: "en", file: file.replace(/\.de$/, ".en"), line, sha256: sha256Bytes(`en ${line}`) } } : {}),
});

/** Calls every registry function; returns what each gave. */
async function scenario(reg: Registry): Promise<Array<[string, unknown]>> {
  const log: Array<[string, unknown]> = [];
  const rec = async (label: string, p: unknown): Promise<void> => {
    try {
      log.push([label, normalize(await p)]);
    } catch (e) {
      // Driver errors differ in wording (and show each dialect's SQL): compare what was violated.
      const kind = violatedConstraint(e);
      log.push([label, kind ? `error: ${kind} constraint` : `error: ${(e as Error).message.split("\n")[0]}`]);
    }
  };
  const db = reg.db;
  const dir = MODEL_DIR;
  const model = await ensureModel(db, dir);
  await rec("ensureModel", model);
  await rec("ensureModel again", ensureModel(db, dir));
  const ref = await ensureReferenceEngine(db, dir);
  await rec("ensureReferenceEngine", ref);
  await rec("referenceEngineOf", referenceEngineOf(db, model.id));
  const base = { modelId: model.id, recipe: "int8", sizeBytes: 3_000_000_000 };
  const de = await registerEngine(db, { ...base, name: "m/int8-de", file: join(tmp, "de.bin"), language: "de", fileSha256: sha256Bytes("de"), decodeOptions: { beamSize: 2, earlyStopping: true } });
  const de4 = await registerEngine(db, { ...base, name: "m/awq-int4-de", recipe: "awq-int4", file: join(tmp, "de4.bin"), language: "de", fileSha256: sha256Bytes("de4"), calibrationSha256: "cal" });
  const fr = await registerEngine(db, { ...base, name: "m/int8-fr", file: join(tmp, "fr.bin"), language: "fr", fileSha256: sha256Bytes("fr") });
  await rec("registerEngine", [de, de4, fr]);
  await rec("registerEngine duplicate", registerEngine(db, { ...base, name: "m/int8-de", file: "x", language: "de", fileSha256: "x" }));
  await rec("engineDecodeOptions", engineDecodeOptions(de));
  await rec("findEngine by name", findEngine(db, "m/int8-fr"));
  await rec("findEngine by id", findEngine(db, String(de.id)));
  await rec("findEngine missing", findEngine(db, "nope"));
  await rec("engineById", engineById(db, de4.id));
  await rec("listEngines", listEngines(db));
  await rec("verifyEngineFiles ok", verifyEngineFiles(db, de).then(() => "ok"));
  await rec("verifyEngineFiles reference", verifyEngineFiles(db, ref).then(() => "ok"));

  const sets = [];
  for (const pair of ["de-en", "en-de", "fr-en"]) {
    const [s, t] = pair.split("-") as [string, string];
    sets.push(
      await ensureEvalSet(db, { name: "flores", pair, srcLang: s, tgtLang: t, sourceFile: `dev.${s}`, refFile: `dev.${t}`, lines: 997, sourceSha256: `src-${pair}`, refSha256: `ref-${pair}` }),
    );
  }
  await rec("ensureEvalSet", sets);
  await rec("ensureEvalSet again", ensureEvalSet(db, { ...sets[0]! }));
  // Scores with full double precision: both dialects must give back the same bits.
  const scores = [[35.123456789012345, 61.98765432109876], [1 / 3, Math.PI], [0.1 + 0.2, 2 ** -40]];
  for (const engine of [ref, de, de4, fr]) {
    for (const [i, set] of sets.entries()) {
      for (const lineLimit of [null, 200]) {
        const worse = engine.isReference ? 0 : engine.id === de4.id ? 3 : 0.25;
        await rec(
          `insertEvalRun ${engine.name} ${set.pair} ${lineLimit}`,
          insertEvalRun(db, {
            engineId: engine.id, evalSetId: set.id, pair: set.pair, bleu: scores[i]![0]! - worse, chrf: scores[i]![1]! - worse,
            bleuSignature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", chrfSignature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0",
            sentences: lineLimit ?? 997, lineLimit, wallSeconds: 12.5 + i, decodeOptions: JSON.stringify({ beamSize: 1 }), hypSha256: sha256Bytes(`${engine.id}${set.pair}${lineLimit}`),
          }),
        );
      }
    }
  }
  await rec("runsOfEngine", runsOfEngine(db, de.id));
  await rec("latestRunsOfEngine", latestRunsOfEngine(db, ref.id));

  const reason = {
    pair: "de-en", setName: "flores", evalSetId: sets[0]!.id, engineRunId: null, referenceRunId: null,
    engineBleu: 20.25, referenceBleu: 20.5, engineChrf: 50.125, referenceChrf: 50.5, passed: true, reason: "ok",
  };
  await rec("isReleased before", Promise.all([isReleased(db, ref.id), isReleased(db, de.id), isReleased(db, 999)]));
  const g1 = await recordGateDecision(db, { engineId: fr.id, referenceEngineId: ref.id, decision: "pass", tolerances: { default: 1 }, summary: "pass", reasons: [reason, { ...reason, pair: "en-de" }] });
  await rec("recordGateDecision pass", g1);
  await rec("recordGateDecision pass again", recordGateDecision(db, { engineId: fr.id, referenceEngineId: ref.id, decision: "pass", tolerances: {}, summary: "pass 2", reasons: [reason] }));
  const tolerances = parseTolerances({ default: { maxBleuDrop: 1, maxChrfDrop: 1 } }, "test");
  await rec("gateEngine de (pass)", gateEngine(db, de, tolerances, { sets: ["flores"] }));
  await rec("gateEngine de4 (pass)", gateEngine(db, de4, parseTolerances({ default: { maxBleuDrop: 5, maxChrfDrop: 5 } }, "t"), { sets: ["flores"] }));
  await rec("releasedEngineFor de (INT4 first)", releasedEngineFor(db, "de"));
  await rec("gateEngine de4 (fail, revokes)", gateEngine(db, de4, tolerances, { sets: ["flores"] }));
  await rec("releasedEngineFor de", releasedEngineFor(db, "de"));
  await rec("releasedEngineFor fr", releasedEngineFor(db, "fr"));
  await rec("releasedEngineFor en", releasedEngineFor(db, "en"));
  await rec("gateReasonsOf", gateReasonsOf(db, g1.decision.id));
  await rec("gateDecisionsOf", gateDecisionsOf(db, de4.id));
  await rec("listReleases", listReleases(db));
  await rec("listReleases all", listReleases(db, { all: true }));
  await rec("releasedEngines", releasedEngines(db));
  const profile = (precision: string) => ({
    klEstimate: 1 / 3,
    klMeasured: 2 ** -12,
    examples: 16,
    layers: [{ unit: "encoder.0.fc1", precision, kl: { "int4-g128": Math.PI / 1000, "int8-w8a16": 1e-7 / 3 }, awqAlpha: 0.35 }],
  });
  await rec("recordEngineProfile", recordEngineProfile(db, de4.id, profile("int4-g128")));
  await rec("recordEngineProfile replaces", recordEngineProfile(db, de4.id, JSON.stringify(profile("int8-w8a16"))));
  await rec("engineProfileOf", engineProfileOf(db, de4.id));
  await rec("engineProfileOf missing", engineProfileOf(db, fr.id));
  await rec("engineProfiles", engineProfiles(db));
  const bench = (engineId: number | null, engineName: string, batch: number, rate: number) => ({
    run: "2026-01-02T03:04:05.000Z/7", bench: "engine", engineId, engineName, model: "m", mode: "greedy", batch, sentences: batch * 2,
    tokens: 64 * batch, wallSeconds: (64 * batch) / rate, tokensPerSecond: rate, latencyMeanS: 1 / 7, latencyP50S: null, latencyMaxS: 0.5,
    threads: 2, kernels: "avx512", loadAverage: 1.25, host: "h",
  });
  await rec("recordBenchResults", recordBenchResults(db, [bench(ref.id, ref.name, 1, 123.456789012345), bench(de.id, de.name, 32, 1e3 / 3), bench(null, "file.safetensors", 8, 2 ** 0.5)]));
  await rec("recordBenchResults none", recordBenchResults(db, []));
  await rec("benchResults", benchResults(db));
  await rec("dashboardData", dashboardData(db, { now: () => new Date("2026-01-02T03:04:05Z") }));
  await rec("isReleased after", Promise.all([isReleased(db, ref.id), isReleased(db, de.id), isReleased(db, de4.id), isReleased(db, fr.id)]));

  // Calibration store. File names mix case, digits and non-ASCII so that text ordering is tested too.
  const files = ["train/en-de/Zeta.de", "train/en-de/alpha.de", "train/en-de/Ärger.de", "train/en-de/beta_2.de", "train/en-de/beta-2.de"];
  const pool: Pool = {
    lang: "de",
    unit: "whitespace-token",
    options: { minScriptShare: 0.6, minUnits: 2, maxUnits: 150, minSegmentChars: 20 },
    candidates: files.flatMap((file, f) => Array.from({ length: 7 }, (_, i) => member(file, 3 + i * (f + 1), "short"))),
    rejected: { empty: 1, eval_overlap_list: 2, script: 3, traditional_chinese: 0, too_short: 4, too_long: 5, eval_match: 6, eval_segment_match: 0, target_eval_match: 7, duplicate: 8 } as Pool["rejected"],
    sources: files.map((file, f) => ({ file, fileSha256: sha256Bytes(file), lines: 1000 + f, accepted: 7, ...(f % 2 ? {} : { target: { lang: "en", file: file.replace(/\.de$/, ".en"), fileSha256: sha256Bytes(`en ${file}`) } }) })),
    evalFingerprint: "fp",
  };
  const evalInfo = { fingerprint: "fp", files: 12, sentences: 3456 };
  await rec("replacePool", replacePool(db, pool, evalInfo));
  const poolRow = await replacePool(db, { ...pool, candidates: pool.candidates.slice(3) }, evalInfo);
  await rec("replacePool again", poolRow);
  await rec("poolOf", poolOf(db, "de"));
  await rec("poolOf missing", poolOf(db, "sw"));
  const sources = await poolSourcesOf(db, poolRow.id);
  await rec("poolSourcesOf", sources);
  await rec("poolEntries", poolEntries(sources));
  const members = files.flatMap((file, f) => [member(file, 10 + f, "short", f % 2 === 0), member(file, 2 + f, "long"), member(file, 100 - f, "very_long")]);
  const newSet = {
    name: "de", lang: "de", seed: "s", requestedSize: 16, setHash: "h1", unit: "whitespace-token", bucketEdges: [3, 6, 9],
    options: { minScriptShare: 0.6 }, evalFingerprint: "fp", manifestPath: "calib-data/de.json", members,
  };
  const set = await insertSet(db, newSet, false);
  await rec("insertSet", set);
  await rec("insertSet other", insertSet(db, { ...newSet, name: "Alpha", members: members.slice(0, 4) }, false));
  const replaced = await insertSet(db, { ...newSet, name: "Alpha", setHash: "h2", members: members.slice(2, 9) }, true);
  await rec("insertSet replace", replaced);
  await rec("setByName", setByName(db, "de"));
  await rec("setsAll", setsAll(db));
  await rec("membersOf", membersOf(db, set.id));
  await rec(
    "applyMembershipChange",
    applyMembershipChange(db, { set, removed: members.slice(0, 2), added: [member("train/en-de/gamma.de", 5, "medium")], reason: "noisy", newSetHash: "h3", newSize: members.length - 1 }),
  );
  await rec("membersOf after", membersOf(db, set.id));
  await rec("exclusionsOfLang", exclusionsOfLang(db, "de"));
  await rec("exclusionsOfSet", exclusionsOfSet(db, set.id));

  // API keys: limits, usage, refunds, revocation (the secrets are random: only what follows from them is logged).
  const quota = await createApiKey(db, { name: "quota", charsPerMonth: 20, requestsPerMinute: 2 });
  const open = await createApiKey(db, { name: "open" });
  await rec("createApiKey", [quota.row.name, quota.row.charsPerMonth, quota.row.requestsPerMinute, open.row.charsPerMonth, open.row.requestsPerMinute]);
  const nov = Date.UTC(2026, 10, 15);
  for (const [chars, dt] of [[8, 0], [8, 1000], [8, 2000], [4, 61_000], [1, 61_500]] as const) {
    await rec(`admitRequest ${chars} at +${dt} ms`, admitRequest(db, quota.key, chars, { nowMs: nov + dt }));
  }
  await rec("apiKeyUsageOf", apiKeyUsageOf(db, quota.row.id, "2026-11"));
  await rec("refundCharacters", refundCharacters(db, quota.row.id, "2026-11", 5).then(() => apiKeyUsageOf(db, quota.row.id, "2026-11")));
  await rec("revokeApiKey", revokeApiKey(db, String(open.row.id)).then((r) => r.revokedAt !== null));
  await rec("admitRequest revoked", admitRequest(db, open.key, 1));
  await rec("listApiKeys", listApiKeys(db, { period: "2026-11", all: true }).then((l) => l.map((k) => [k.row.name, k.characters, k.requests, k.row.revokedAt !== null])));
  await rec("findApiKey", findApiKey(db, quota.key).then((r) => r?.name));

  // Failed inserts come last: PostgreSQL consumes a sequence value even for a rolled-back insert (SQLite does
  // not), so ids written after one would differ by the gap.
  await rec("insertSet existing name", insertSet(db, newSet, false));
  await rec("setsAll after a refused insert", setsAll(db));
  // A transaction that fails half-way leaves nothing behind.
  await rec(
    "rolled back",
    inTransaction(db, async (tx) => {
      await tx.orm.insert(tx.t.models).values({ name: "ghost", dir: "/ghost", configSha256: "c", weightsSha256: "w", weightsFingerprint: "[]", createdAt: "t" });
      await recordGateDecision(tx, { engineId: 424242, referenceEngineId: ref.id, decision: "pass", tolerances: {}, summary: "x", reasons: [] });
    }),
  );
  await rec("after rollback", db.orm.select({ name: db.t.models.name }).from(db.t.models));
  return log;
}

describe("registry on SQLite and PostgreSQL", { skip }, () => {
  it("gives the same results for the whole API", async () => {
    const sqlite = await openRegistry({ path: join(tmp, "dialects.sqlite") });
    // An ICU "en" collation sorts "alpha" < "Ärger" < "Zeta": text ordering must not depend on it.
    const pgdb = await createTestDatabase("dialects", { icuLocale: "en" });
    try {
      const postgres = await openRegistry({ path: pgdb.url });
      try {
        assert.equal(postgres.dialect, "postgres");
        assert.ok(!postgres.location.includes("@") || !/:[^/@]+@/.test(postgres.location.replace(":***@", "@")), "password not shown");
        const a = await scenario(sqlite);
        const b = await scenario(postgres);
        assert.equal(a.length, b.length);
        for (let i = 0; i < a.length; i++) assert.deepEqual(b[i], a[i], `step ${i}: ${a[i]![0]}`);
        // The scenario really wrote: spot checks that would catch an empty log on both sides.
        const labels = new Map(a);
        assert.match(String(labels.get("registerEngine duplicate")), /already exists/);
        assert.equal(labels.get("rolled back"), "error: foreign_key constraint");
        assert.equal(labels.get("insertSet existing name"), "error: unique constraint");
        assert.equal((labels.get("releasedEngineFor de (INT4 first)") as { name: string }).name, "m/awq-int4-de");
        assert.equal((labels.get("releasedEngineFor de") as { name: string }).name, "m/int8-de");
        assert.deepEqual((labels.get("setsAll") as Array<{ name: string }>).map((s) => s.name), ["Alpha", "de"]);
      } finally {
        await postgres.close();
      }
    } finally {
      await sqlite.close();
      await pgdb.drop();
    }
  });

  it("creates every declared table and column on PostgreSQL; drizzle-kit's PostgreSQL input lists every table", async () => {
    const pgdb = await createTestDatabase("schema");
    try {
      const reg = await openRegistry({ path: pgdb.url });
      try {
        const cols = (await (reg.db.orm as unknown as { execute(q: unknown): Promise<{ rows: Array<{ table_name: string; column_name: string; data_type: string }> }> }).execute(
          sql`select table_name, column_name, data_type from information_schema.columns where table_schema = 'public'`,
        )).rows;
        const declared = (Object.values(schema) as unknown[]).filter((v): v is SQLiteTable => v instanceof SQLiteTable);
        assert.ok(declared.length >= 12);
        for (const t of declared) {
          const cfg = getTableConfig(t);
          for (const c of cfg.columns) {
            const found = cols.find((r) => r.table_name === cfg.name && r.column_name === c.name);
            assert.ok(found, `${cfg.name}.${c.name} missing on PostgreSQL: run npm run db:generate`);
          }
        }
        const kit = (Object.values(pgKitTables) as unknown[]).filter((v): v is PgTable => v instanceof PgTable).map((t) => getPgTableConfig(t).name).sort();
        assert.deepEqual(kit, declared.map((t) => getTableConfig(t).name).sort(), "src/storage/postgres/tables.ts must export every table");
        const scoreType = cols.find((r) => r.table_name === "eval_runs" && r.column_name === "bleu")!.data_type;
        assert.equal(scoreType, "double precision");
      } finally {
        await reg.close();
      }
    } finally {
      await pgdb.drop();
    }
  });
});
