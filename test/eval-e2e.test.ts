/**
 * End to end: `glossa eval`, `glossa gate` and `glossa releases` as subprocesses, with the real engine and
 * the reference model (models/glossa-mini-50, or GLOSSA_MODEL), on the self-written set in
 * test/fixtures/eval-mini. Checks the database rows and the gate's decisions: a passing engine (a twin of
 * the reference), a deliberately degraded engine (maxNewTokens 3) and an impossible tolerance (-100 BLEU),
 * both rejected with their reasons recorded.
 *
 * The model is required: without it this test fails, saying where it looked.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { modelDir, repoRoot } from "../src/config.js";
import { openRegistry, type Registry } from "../src/storage/db.js";
import { findEngine, registerEngine } from "../src/storage/engines.js";
import { isReleased, releasedEngines } from "../src/storage/releases.js";

const root = repoRoot();
const fixture = join(root, "test", "fixtures", "eval-mini");
const tmp = mkdtempSync(join(tmpdir(), "glossa-e2e-"));
const dbFile = join(tmp, "registry.sqlite");
const env = {
  ...process.env,
  GLOSSA_DB: dbFile,
  GLOSSA_CORPORA: join(fixture, "corpus"),
  GLOSSA_EVAL_DIR: join(fixture, "eval"),
  GLOSSA_MODEL: modelDir(),
};
// Run the CLI the way this test itself runs: from source under tsx, or built under dist/.
const fromSource = import.meta.url.endsWith(".ts");
const cliArgs = fromSource ? ["--import", "tsx", join(root, "src", "cli", "glossa.ts")] : [join(root, "dist", "src", "cli", "glossa.js")];

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function glossa(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [...cliArgs, ...args], { cwd: root, env, encoding: "utf8", timeout: 15 * 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

interface RunJson {
  id: number;
  set: string;
  pair: string;
  bleu: number;
  chrf: number;
  bleuSignature: string;
  chrfSignature: string;
  sentences: number;
  lineLimit: number | null;
  decodeOptions: string;
  hypSha256: string;
}

function evalJson(engine: string, ...extra: string[]): RunJson[] {
  const r = ok(glossa("eval", "--engine", engine, "--json", ...extra), `glossa eval --engine ${engine}`);
  const parsed = JSON.parse(r.stdout) as { engine: { name: string }; runs: RunJson[] };
  assert.equal(parsed.engine.name === engine || engine === "reference", true);
  // The progress bar went to stderr and reached the total.
  assert.match(r.stderr, /\[#+\] \d+\/\d+ sentences .* sent\/s/);
  return parsed.runs;
}

let reg: Registry;
const byPair = (runs: RunJson[]): Map<string, RunJson> => new Map(runs.map((r) => [r.pair, r]));

before(async () => {
  assert.ok(
    existsSync(join(modelDir(), "config.json")),
    `the end-to-end eval/gate test needs the reference model at ${modelDir()} (models/glossa-mini-50 or GLOSSA_MODEL); it is missing`,
  );
  reg = await openRegistry({ path: dbFile });
});
after(async () => {
  await reg?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe("glossa eval / gate / releases end to end", () => {
  let reference: RunJson[] = [];

  it("evaluates the reference engine, created from the model folder on first use", async () => {
    reference = evalJson("reference");
    assert.deepEqual(reference.map((r) => `${r.set}/${r.pair}`), ["mini/de-en", "mini/en-de", "mini/en-zh"]);
    const ref = (await findEngine(reg.db, "glossa-mini-50")) ?? (await releasedEngines(reg.db))[0]!.engine;
    assert.equal(ref.isReference, true);
    assert.equal(ref.recipe, "fp32");
    for (const r of reference) {
      assert.equal(r.sentences, 10);
      assert.equal(r.lineLimit, null);
      assert.ok(r.bleu >= 0 && r.bleu <= 100 && r.chrf >= 0 && r.chrf <= 100);
      assert.match(r.chrfSignature, /^nrefs:1\|case:mixed\|eff:yes\|nc:6\|nw:2\|space:no\|version:2\.6\.0$/);
      assert.match(r.bleuSignature, new RegExp(`\\|tok:${r.pair === "en-zh" ? "zh" : "13a"}\\|`));
    }
    // A real translation of simple sentences shares a good part of its character n-grams with the reference.
    for (const r of reference) assert.ok(r.chrf > 25, `${r.pair}: chrF++ ${r.chrf} is too low for a working reference engine`);
    const rows = reg.sqlite!.prepare("SELECT count(*) AS n FROM eval_runs WHERE engine_id = ?").get(ref.id) as { n: number };
    assert.equal(rows.n, 3);
    const sets = reg.sqlite!.prepare("SELECT name, pair, lines, source_file, ref_file FROM eval_sets ORDER BY pair").all();
    assert.deepEqual(sets, [
      { name: "mini", pair: "de-en", lines: 10, source_file: "mini.de", ref_file: "mini.en" },
      { name: "mini", pair: "en-de", lines: 10, source_file: "mini.en", ref_file: "mini.de" },
      { name: "mini", pair: "en-zh", lines: 10, source_file: "mini.en", ref_file: "mini.zh" },
    ]);
  });

  it("records --limit and prints a readable table", async () => {
    const r = ok(glossa("eval", "--engine", "reference", "--pairs", "de-en", "--limit", "4"), "eval --limit");
    assert.match(r.stdout, /^engine: .*reference\)\n/);
    assert.match(r.stdout, /set\s+pair\s+sentences\s+limit\s+BLEU\s+chrF\+\+\s+seconds\s+sent\/s\s+run/);
    assert.match(r.stdout, /\nmini\s+de-en\s+4\s+4\s+\d+\.\d\d\s+\d+\.\d\d/);
    assert.match(r.stdout, /signatures:\n {2}nrefs:1\|case:mixed\|eff:no\|tok:13a\|smooth:exp\|version:2\.6\.0\n/);
    const row = reg.sqlite!.prepare("SELECT sentences, line_limit FROM eval_runs ORDER BY id DESC LIMIT 1").get();
    assert.deepEqual(row, { sentences: 4, line_limit: 4 });
  });

  it("passes and releases an engine that translates like the reference", async () => {
    const ref = (await releasedEngines(reg.db)).find((r) => r.basis.kind === "reference")!.engine;
    await registerEngine(reg.db, {
      name: "mini-twin", modelId: ref.modelId, file: ref.file, recipe: "fp32", language: null, fileSha256: ref.fileSha256, sizeBytes: ref.sizeBytes,
    });
    const twin = byPair(evalJson("mini-twin"));
    for (const r of reference) assert.equal(twin.get(r.pair)!.hypSha256, r.hypSha256, `${r.pair}: same weights and options, same output`);
    const g = ok(glossa("gate", "--engine", "mini-twin", "--json"), "gate mini-twin");
    const out = JSON.parse(g.stdout) as { decision: string; decisionId: number; releaseId: number | null; reasons: Array<{ passed: boolean; pair: string }> };
    assert.equal(out.decision, "pass");
    assert.notEqual(out.releaseId, null);
    // The reference's extra --limit 4 run is not required: both sides have whole-set runs, which are compared.
    const engine = (await findEngine(reg.db, "mini-twin"))!;
    assert.equal(await isReleased(reg.db, engine.id), true);
    const decision = reg.sqlite!.prepare("SELECT decision, reference_engine_id FROM gate_decisions WHERE id = ?").get(out.decisionId);
    assert.deepEqual(decision, { decision: "pass", reference_engine_id: ref.id });
    const reasons = reg.sqlite!.prepare("SELECT pair, passed FROM gate_reasons WHERE decision_id = ? ORDER BY pair").all(out.decisionId);
    assert.deepEqual(reasons, [{ pair: "de-en", passed: 1 }, { pair: "en-de", passed: 1 }, { pair: "en-zh", passed: 1 }]);
    // Gating the same bytes on the same runs again changes nothing and says so (issue 9 item 5: no churn).
    const count = (table: string): number => (reg.sqlite!.prepare(`SELECT count(*) AS n FROM ${table} WHERE engine_id = ?`).get(engine.id) as { n: number }).n;
    const again = ok(glossa("gate", "--engine", "mini-twin"), "gate mini-twin again");
    assert.match(again.stdout, new RegExp(`unchanged: decision #${out.decisionId} already released these bytes \\(release #${out.releaseId}\\) on the same runs; nothing recorded`));
    const againJson = JSON.parse(ok(glossa("gate", "--engine", "mini-twin", "--json"), "gate --json again").stdout) as { unchanged: boolean; decisionId: number; releaseId: number };
    assert.deepEqual([againJson.unchanged, againJson.decisionId, againJson.releaseId], [true, out.decisionId, out.releaseId]);
    assert.equal(count("gate_decisions"), 1);
    assert.equal(count("releases"), 1);
    assert.equal(await isReleased(reg.db, engine.id), true);
  });

  it("rejects a deliberately degraded engine, recording a reason for every failing pair", async () => {
    const ref = (await releasedEngines(reg.db)).find((r) => r.basis.kind === "reference")!.engine;
    await registerEngine(reg.db, {
      name: "mini-short", modelId: ref.modelId, file: ref.file, recipe: "fp32", language: null, fileSha256: ref.fileSha256, sizeBytes: ref.sizeBytes,
      decodeOptions: { maxNewTokens: 3 },
    });
    const short = byPair(evalJson("mini-short"));
    for (const r of reference) {
      const s = short.get(r.pair)!;
      assert.equal((JSON.parse(s.decodeOptions) as { maxNewTokens: number }).maxNewTokens, 3);
      assert.ok(s.chrf < r.chrf - 1, `${r.pair}: truncated output (chrF++ ${s.chrf}) should score below the reference (${r.chrf})`);
    }
    const g = glossa("gate", "--engine", "mini-short");
    assert.equal(g.code, 1, `a rejection exits 1\n${g.stdout}\n${g.stderr}`);
    assert.match(g.stdout, /pair\s+set\s+BLEU\s+ref BLEU\s+dBLEU\s+chrF\+\+\s+ref chrF\+\+\s+dchrF\+\+\s+result\s+reason/);
    const failing = [...short.values()].filter((s) => s.chrf < byPair(reference).get(s.pair)!.chrf - 1).map((s) => s.pair);
    assert.match(g.stdout, new RegExp(`decision #\\d+: FAIL: rejected: ${failing.join(", ")}\n`));
    const engine = (await findEngine(reg.db, "mini-short"))!;
    assert.equal(await isReleased(reg.db, engine.id), false);
    const d = reg.sqlite!.prepare("SELECT id, decision, summary FROM gate_decisions WHERE engine_id = ?").get(engine.id) as { id: number; decision: string; summary: string };
    assert.equal(d.decision, "fail");
    for (const p of failing) assert.match(d.summary, new RegExp(`${p} \\(mini: `));
    const reasons = reg.sqlite!.prepare("SELECT pair, passed, reason, engine_run_id, reference_run_id FROM gate_reasons WHERE decision_id = ? ORDER BY pair").all(d.id) as Array<{
      pair: string; passed: number; reason: string; engine_run_id: number; reference_run_id: number;
    }>;
    assert.deepEqual(reasons.map((r) => r.pair), ["de-en", "en-de", "en-zh"]);
    for (const r of reasons) {
      assert.equal(r.engine_run_id, short.get(r.pair)!.id);
      assert.equal(r.reference_run_id, byPair(reference).get(r.pair)!.id);
      if (failing.includes(r.pair)) {
        assert.equal(r.passed, 0);
        assert.match(r.reason, /chrF\+\+ \d+\.\d\d vs \d+\.\d\d \(-\d+\.\d\d < -1\.00\)/);
      }
    }
    assert.equal((reg.sqlite!.prepare("SELECT count(*) AS n FROM releases WHERE engine_id = ?").get(engine.id) as { n: number }).n, 0);
  });

  it("rejects under an impossible tolerance and revokes the earlier release", async () => {
    const strict = join(tmp, "strict-gates.json");
    writeFileSync(strict, JSON.stringify({ default: { maxBleuDrop: -100, maxChrfDrop: 1 } }));
    const g = glossa("gate", "--engine", "mini-twin", "--tolerances", strict, "--json");
    assert.equal(g.code, 1, g.stderr);
    const out = JSON.parse(g.stdout) as { decision: string; failingPairs: string[]; endedReleaseIds: number[]; reasons: Array<{ passed: boolean; reason: string }> };
    assert.equal(out.decision, "fail");
    assert.deepEqual(out.failingPairs, ["de-en", "en-de", "en-zh"]);
    assert.equal(out.endedReleaseIds.length, 1);
    assert.ok(out.reasons.every((r) => !r.passed && /< \+100\.00/.test(r.reason)));
    assert.equal(await isReleased(reg.db, (await findEngine(reg.db, "mini-twin"))!.id), false);
  });

  it("lists releases: the reference as baseline, ended releases with --all", async () => {
    const active = JSON.parse(ok(glossa("releases", "--json"), "releases").stdout) as { references: Array<{ engine: string }>; releases: unknown[] };
    assert.equal(active.references.length, 1);
    assert.deepEqual(active.releases, []);
    const all = JSON.parse(ok(glossa("releases", "--all", "--json"), "releases --all").stdout) as {
      releases: Array<{ engine: string; active: boolean; endedByDecisionId: number | null }>;
    };
    assert.equal(all.releases.length, 1);
    assert.equal(all.releases[0]!.engine, "mini-twin");
    assert.equal(all.releases[0]!.active, false);
    assert.notEqual(all.releases[0]!.endedByDecisionId, null);
    const table = ok(glossa("releases", "--all"), "releases table").stdout;
    assert.match(table, /reference \(baseline\)/);
    assert.match(table, /mini-twin\s+\d+\s+fp32\s+all\s+ended by decision #\d+/);
    const refGate = ok(glossa("gate", "--engine", "reference"), "gate reference").stdout;
    assert.match(refGate, /released by definition/);
  });

  it("answers bad input with a clear error, not a crash", async () => {
    const unknown = glossa("eval", "--engine", "no-such-engine");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^error: no engine "no-such-engine" in the registry \(known: 1:/);
    const badSet = glossa("eval", "--engine", "reference", "--sets", "nope");
    assert.equal(badSet.code, 1);
    assert.match(badSet.stderr, /error: unknown evaluation set "nope"; known: mini/);
    const badLimit = glossa("eval", "--engine", "reference", "--limit", "0");
    assert.equal(badLimit.code, 2);
    assert.match(badLimit.stderr, /--limit expects a positive integer/);
    const badFlag = glossa("gate", "--engine", "mini-twin", "--frobnicate");
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /usage: glossa gate/);
  });
});
