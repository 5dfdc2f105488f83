/**
 * The release chain (issue 9 items 1, 3, 4): the bytes served are the bytes gated.
 *
 * - Engine files are content-addressed (<GLOSSA_ENGINES_DIR>/<sha256>.safetensors), written tmp + fsync + rename:
 *   a rebuild never writes over a released file, a killed write never leaves a file under a content name.
 * - The server serves a released engine only when its file hashes to the registry's sha256; a missing or
 *   different file is logged as a broken release, counted in /metrics (glossa_engine_load_failures_total) and the
 *   reference serves instead; `glossa releases` shows it BROKEN (--check exits 1).
 * - A registry created after the server started is read (and the log says so).
 * - Committed calibration manifests are listed, verified and used by a fresh registry without an import.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import type { BuiltEngine } from "../src/calib/build.js";
import { adoptCommittedManifests, listSets, readStoredSetText, sampleSet, setStats, type CalibDataContext } from "../src/calib/data/service.js";
import { CorpusChangedError } from "../src/calib/data/errors.js";
import { releasesCommand } from "../src/cli/commands/releases.js";
import { repoRoot } from "../src/config.js";
import { openRegistry } from "../src/storage/db.js";
import { ensureModel, ensureReferenceEngine, registerEngine } from "../src/storage/engines.js";
import { commitTemp, contentPath, EngineFileError, newTempPath, sha256OfFile, sweepTemps, verifyContent } from "../src/storage/engine-store.js";
import { recordGateDecision } from "../src/storage/releases.js";
import { buildTestEngine, MODEL, SKIP } from "./calib-fixture.js";
import { makeFakeCorpora, type FakeCorpora } from "./calib-data-fixture.js";
import { postJson, SharedBackend } from "./helpers/http.js";

const tmp = mkdtempSync(join(tmpdir(), "glossa-release-chain-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

describe("content-addressed engine store", () => {
  it("names files by their bytes; the same bytes twice give the same file, other bytes another", async () => {
    const root = join(tmp, `store${n++}`);
    const put = async (text: string): Promise<string> => {
      const t = await newTempPath(root);
      writeFileSync(t, text);
      return (await commitTemp(t, root)).path;
    };
    const a = await put("engine bytes A");
    assert.equal(a, contentPath(root, await sha256OfFile(a)));
    assert.equal(await put("engine bytes A"), a);
    const b = await put("engine bytes B");
    assert.notEqual(b, a);
    assert.equal(readFileSync(a, "utf8"), "engine bytes A", "storing other bytes never touches an existing file");
    assert.deepEqual(readdirSync(root).sort(), [a, b].map((p) => p.slice(root.length + 1)).sort(), "no temporary left");
    // A writer whose hash disagrees with the bytes on disk stores nothing.
    const t = await newTempPath(root);
    writeFileSync(t, "torn write");
    await assert.rejects(commitTemp(t, root, "0".repeat(64)), /nothing stored/);
    assert.equal(existsSync(t), false);
  });

  it("verifyContent refuses a missing file and other bytes, naming the file and both hashes", async () => {
    const root = join(tmp, `store${n++}`);
    const t = await newTempPath(root);
    writeFileSync(t, "released bytes");
    const { path, sha256 } = await commitTemp(t, root);
    await verifyContent(path, sha256);
    writeFileSync(path, "rebuilt bytes");
    await assert.rejects(verifyContent(path, sha256), (e: unknown) => {
      assert.ok(e instanceof EngineFileError);
      assert.equal(e.problem, "checksum");
      assert.ok(e.message.includes(path) && e.message.includes(sha256), e.message);
      return true;
    });
    rmSync(path);
    await assert.rejects(verifyContent(path, sha256), (e: unknown) => e instanceof EngineFileError && e.problem === "missing" && e.message.includes(path));
  });

  it("a writer killed in the middle leaves no file under a content name; its temporary is swept", async () => {
    const root = join(tmp, `store${n++}`);
    mkdirSync(root);
    const script = join(tmp, `killed${n++}.mjs`);
    writeFileSync(
      script,
      `import { openSync, writeSync } from "node:fs";
const { newTempPath } = await import(${JSON.stringify(pathToFileURL(join(repoRoot(), "dist", "src", "storage", "engine-store.js")).href)});
const t = await newTempPath(${JSON.stringify(root)});
const fd = openSync(t, "w");
writeSync(fd, Buffer.alloc(2_700_000, 7));
console.log("half written");
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (b: Buffer) => b.toString().includes("half written") && resolve());
      child.on("exit", (code) => reject(new Error(`writer exited early (${code})`)));
    });
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    const names = readdirSync(root);
    assert.equal(names.length, 1);
    assert.match(names[0]!, /^\.tmp-/, "only a temporary name");
    assert.deepEqual(await sweepTemps(root), names, "a dead writer's temporary is removed");
    assert.deepEqual(readdirSync(root), []);
  });
});

describe("released engines: rebuilds, tampering, missing files", { skip: SKIP }, () => {
  const enginesDir = join(tmp, "engines");
  let first: BuiltEngine;
  let second: BuiltEngine;
  const shared = new SharedBackend();

  before(async () => {
    first = await buildTestEngine(enginesDir, "int8", 8);
    second = await buildTestEngine(enginesDir, "int8", 10);
  });

  /** A registry at dbPath where `file` (sha256 `sha`) is released for English as "glossa-mini-50/int8-en". */
  async function releasedRegistry(dbPath: string, file: string, sha: string): Promise<void> {
    const reg = await openRegistry({ path: dbPath });
    try {
      const model = await ensureModel(reg.db, MODEL);
      const ref = await ensureReferenceEngine(reg.db, MODEL);
      const e = await registerEngine(reg.db, { name: "glossa-mini-50/int8-en", modelId: model.id, file, recipe: "int8", language: "en", fileSha256: sha, sizeBytes: 1 });
      await recordGateDecision(reg.db, { engineId: e.id, referenceEngineId: ref.id, decision: "pass", tolerances: {}, summary: "pass", reasons: [] });
    } finally {
      await reg.close();
    }
  }

  async function serve(dbPath: string): Promise<{ engine: string; metrics: string; log: string[] }> {
    const log: string[] = [];
    return shared.with(
      { dbPath },
      async (base) => {
        const a = await postJson(base, "/translate", { text: "Good morning.", source_lang: "en", target_lang: "de" });
        assert.equal(a.status, 200, JSON.stringify(a.json));
        const metrics = await (await fetch(`${base}/metrics`)).text();
        return { engine: a.json.engine as string, metrics, log };
      },
      { log: (msg, err) => log.push(`${msg}${err ? `: ${(err as Error).message}` : ""}`) },
    );
  }

  async function releases(dbPath: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const saved = process.env.GLOSSA_DB;
    process.env.GLOSSA_DB = dbPath;
    try {
      const code = await releasesCommand(args, { stdout: { write: (s: string) => ((out += s), true) }, stderr: { write: (s: string) => ((err += s), true) } } as never);
      return { code, out, err };
    } finally {
      if (saved === undefined) delete process.env.GLOSSA_DB;
      else process.env.GLOSSA_DB = saved;
    }
  }

  it("a rebuild of the same language and recipe gets its own file and never touches the released one", async () => {
    assert.notEqual(first.fileSha256, second.fileSha256, "different examples, different bytes");
    assert.equal(first.path, contentPath(enginesDir, first.fileSha256));
    assert.equal(second.path, contentPath(enginesDir, second.fileSha256));
    assert.equal(await sha256OfFile(first.path), first.fileSha256, "the first build's file still holds its bytes");
    assert.deepEqual(readdirSync(enginesDir).filter((f) => f.startsWith(".tmp-")), []);
  });

  it("serves a released engine whose file holds the gated bytes", async () => {
    const db = join(tmp, `ok${n++}.sqlite`);
    await releasedRegistry(db, first.path, first.fileSha256);
    const r = await serve(db);
    assert.equal(r.engine, "glossa-mini-50/int8-en");
    assert.doesNotMatch(r.metrics, /glossa_engine_load_failures_total\{/);
    const rel = await releases(db, "--check");
    assert.equal(rel.code, 0, rel.err);
    assert.match(rel.out, /glossa-mini-50\/int8-en .* released /);
  });

  it("refuses a released file overwritten by other bytes: error log, metric, reference serves, releases says BROKEN", async () => {
    const file = join(tmp, `legacy-name-${n++}.safetensors`);
    copyFileSync(first.path, file);
    const db = join(tmp, `tampered${n++}.sqlite`);
    await releasedRegistry(db, file, first.fileSha256);
    copyFileSync(second.path, file); // what a rebuild writing to a fixed name did
    const r = await serve(db);
    assert.equal(r.engine, "glossa-mini-50", "the reference serves");
    assert.ok(r.log.some((l) => /ERROR broken release: engine glossa-mini-50\/int8-en \(checksum\)/.test(l) && l.includes(file) && l.includes(first.fileSha256)), r.log.join("\n"));
    assert.match(r.metrics, /glossa_engine_load_failures_total\{engine="glossa-mini-50\/int8-en",problem="checksum"\} 1/);
    const rel = await releases(db);
    assert.equal(rel.code, 0);
    assert.match(rel.out, /released BROKEN \(file checksum\)/);
    assert.match(rel.err, /BROKEN release: engine #\d+: .*has changed since it was registered/);
    const check = await releases(db, "--check", "--json");
    assert.equal(check.code, 1);
    const json = JSON.parse(check.out) as { releases: Array<{ files: string; broken: boolean; sha256: string }> };
    assert.deepEqual([json.releases[0]!.files, json.releases[0]!.broken, json.releases[0]!.sha256], ["checksum", true, first.fileSha256]);
  });

  it("refuses a released engine whose file is missing", async () => {
    const file = join(tmp, `gone-${n++}.safetensors`);
    copyFileSync(first.path, file);
    const db = join(tmp, `missing${n++}.sqlite`);
    await releasedRegistry(db, file, first.fileSha256);
    rmSync(file);
    const r = await serve(db);
    assert.equal(r.engine, "glossa-mini-50");
    assert.match(r.metrics, /glossa_engine_load_failures_total\{engine="glossa-mini-50\/int8-en",problem="missing"\} 1/);
    assert.match((await releases(db)).out, /released BROKEN \(file missing\)/);
  });

  it("reads a registry created after the server started, and says so", async () => {
    const db = join(tmp, `later${n++}.sqlite`);
    const log: string[] = [];
    await shared.with(
      { dbPath: db },
      async (base) => {
        const before = await postJson(base, "/translate", { text: "Guten Morgen.", source_lang: "de", target_lang: "en" });
        assert.equal(before.json.engine, "glossa-mini-50");
        assert.equal(existsSync(db), false, "the server does not create a registry");
        assert.ok(log.some((l) => l.includes(`registry ${db} does not exist yet`)), log.join("\n"));
        await releasedRegistry(db, first.path, first.fileSha256);
        const afterIt = await postJson(base, "/translate", { text: "Good morning.", source_lang: "en", target_lang: "de" });
        assert.equal(afterIt.json.engine, "glossa-mini-50/int8-en");
        assert.ok(log.some((l) => l.includes(`registry ${db} appeared`)), log.join("\n"));
      },
      { log: (msg) => log.push(msg) },
    );
  });
});

describe("committed calibration manifests in a fresh registry", () => {
  let fx: FakeCorpora;
  before(() => {
    fx = makeFakeCorpora();
  });
  after(() => rmSync(fx.root, { recursive: true, force: true }));

  const ctxOf = async (dbPath: string, log: string[] = []): Promise<{ ctx: CalibDataContext; close: () => Promise<void> }> => {
    const reg = await openRegistry({ path: dbPath });
    return {
      ctx: { db: reg.db, corpora: fx.corpora, repoRoot: fx.repo, manifestDir: fx.manifestDir, evalDir: fx.evalDir, log: (l) => log.push(l) },
      close: () => reg.close(),
    };
  };

  it("lists, describes and verifies a set that exists only as a committed manifest", async () => {
    const a = await ctxOf(join(fx.root, "first.sqlite"));
    const drawn = await sampleSet(a.ctx, { lang: "de", size: 64, seed: "t1" });
    await a.close();
    // A fresh clone: the manifest is committed, the registry is new.
    const log: string[] = [];
    const b = await ctxOf(join(fx.root, "fresh.sqlite"), log);
    try {
      const sets = await listSets(b.ctx);
      assert.deepEqual(sets.map((s) => [s.name, s.size, s.setHash]), [["de", 64, drawn.setHash]]);
      assert.deepEqual(sets[0]!.buckets, drawn.buckets);
      assert.ok(log.some((l) => /de: adopted the committed manifest/.test(l)), log.join("\n"));
      const stats = await setStats(b.ctx, "de");
      assert.equal(stats.withoutTarget + Object.values(stats.targets).reduce((x, y) => x + y, 0), 64);
      assert.equal((await readStoredSetText(b.ctx, "de")).length, 64);
      assert.deepEqual(await adoptCommittedManifests(b.ctx), [], "adopted once");
    } finally {
      await b.close();
    }
  });

  it("a manifest whose corpus line changed is refused for verify, naming file and line, and skipped by list", async () => {
    const m = JSON.parse(readFileSync(join(fx.manifestDir, "de.json"), "utf8")) as { members: Array<{ file: string; line: number }> };
    const victim = m.members[5]!;
    const path = join(fx.corpora, victim.file);
    const lines = readFileSync(path, "utf8").split("\n");
    lines[victim.line - 1] = `${lines[victim.line - 1]} (edited)`;
    writeFileSync(path, lines.join("\n"));
    const log: string[] = [];
    const c = await ctxOf(join(fx.root, `edited${n++}.sqlite`), log);
    try {
      assert.deepEqual(await listSets(c.ctx), []);
      assert.ok(log.some((l) => /de: committed manifest not adopted/.test(l)), log.join("\n"));
      await assert.rejects(readStoredSetText(c.ctx, "de"), (e: unknown) => e instanceof CorpusChangedError && e.message.includes(victim.file) && e.message.includes(String(victim.line)));
    } finally {
      await c.close();
    }
  });
});

describe("the repository's committed calibration sets", { skip: existsSync(join(repoRoot(), "..", "shared", "corpora")) || process.env.GLOSSA_CORPORA ? false : "no corpora folder" }, () => {
  it("`glossa calib-data verify de` works on a fresh registry", async () => {
    const { spawnSync } = await import("node:child_process");
    const r = spawnSync(process.execPath, [join(repoRoot(), "dist", "src", "cli", "glossa.js"), "calib-data", "verify", "de"], {
      encoding: "utf8",
      env: { ...process.env, GLOSSA_DB: join(tmp, `fresh-clone${n++}.sqlite`) },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /de: 512 sentences and 512 references re-read, every sha256 matches/);
  });
});
