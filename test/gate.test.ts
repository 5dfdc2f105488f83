/**
 * Gate arithmetic and recording, without the engine: runs are built by hand or produced by the runner
 * with in-test translators (a lookup of the references, and a deliberately truncating one).
 * The end-to-end test with the real engine is test/eval-e2e.test.ts.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { repoRoot } from "../src/config.js";
import { decideGate, GateError, gateEngine, parseTolerances, setTextKey, type GateTolerances } from "../src/eval/gate.js";
import { readManifests, selectEntries } from "../src/eval/manifest.js";
import { runEvaluation } from "../src/eval/runner.js";
import type { SentenceTranslator } from "../src/eval/translator.js";
import type { Language } from "../src/languages.js";
import { openRegistry } from "../src/storage/db.js";
import { ensureReferenceEngine, registerEngine } from "../src/storage/engines.js";
import type { RunWithSet } from "../src/storage/evaluation.js";
import { isReleased } from "../src/storage/releases.js";
import type { EvalRunRow, EvalSetRow } from "../src/storage/schema/evaluation.js";
import type { EngineRow } from "../src/storage/schema/models.js";

const tmp = mkdtempSync(join(tmpdir(), "glossa-gate-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const DEFAULT: GateTolerances = { default: { maxBleuDrop: 1, maxChrfDrop: 1 }, pairs: {} };

function engine(id: number, over: Partial<EngineRow> = {}): EngineRow {
  return {
    id, name: `e${id}`, modelId: 1, file: "/f", recipe: "int8", language: null, isReference: false, fileSha256: "x",
    calibrationSha256: null, sizeBytes: 1, decodeOptions: null, createdAt: "t", ...over,
  };
}
const REF = engine(1, { name: "ref", recipe: "fp32", isReference: true });
const ENG = engine(2, { name: "int8" });

let nextRunId = 100;
const setIds = new Map<string, number>();
const setId = (name: string, pair: string): number => {
  const k = `${name}/${pair}`;
  if (!setIds.has(k)) setIds.set(k, setIds.size + 1);
  return setIds.get(k)!;
};
function run(engineId: number, pair: string, bleu: number, chrf: number, setName = "s", lineLimit: number | null = null): [string, RunWithSet] {
  const [src, tgt] = pair.split("-") as [string, string];
  const set: EvalSetRow = {
    id: setId(setName, pair), name: setName, pair, srcLang: src, tgtLang: tgt,
    sourceFile: "a", refFile: "b", lines: 10, sourceSha256: "1", refSha256: "2", createdAt: "t",
  };
  const r: EvalRunRow = {
    id: nextRunId++, engineId, evalSetId: set.id, pair, bleu, chrf, bleuSignature: "b", chrfSignature: "c", sentences: 10,
    lineLimit, wallSeconds: 1, decodeOptions: "{}", hypSha256: "h", createdAt: "t",
  };
  return [`${set.id}|${pair}|${lineLimit ?? "all"}`, { run: r, set }];
}
const runs = (...xs: Array<[string, RunWithSet]>): Map<string, RunWithSet> => new Map(xs);

describe("gate arithmetic", () => {
  it("passes drops up to the tolerance and fails beyond it, for BLEU and chrF++ separately", () => {
    const ref = runs(run(1, "de-en", 30, 60), run(1, "en-de", 25, 55), run(1, "en-zh", 20, 40));
    const within = runs(run(2, "de-en", 29.01, 59.5), run(2, "en-de", 24, 54), run(2, "en-zh", 21, 41));
    const g = decideGate(ENG, REF, within, ref, DEFAULT);
    assert.equal(g.decision, "pass");
    assert.equal(g.reasons.length, 3);
    assert.ok(g.reasons.every((r) => r.passed));
    assert.match(g.summary, /^pass: 3 set\/pair comparisons over 3 pairs/);

    const beyond = runs(run(2, "de-en", 28.99, 60), run(2, "en-de", 25, 53.9), run(2, "en-zh", 20, 40));
    const f = decideGate(ENG, REF, beyond, ref, DEFAULT);
    assert.equal(f.decision, "fail");
    assert.deepEqual(f.failingPairs, ["de-en", "en-de"]);
    const byPair = new Map(f.reasons.map((r) => [r.pair, r]));
    assert.equal(byPair.get("de-en")!.passed, false);
    assert.match(byPair.get("de-en")!.reason, /BLEU 28\.99 vs 30\.00 \(-1\.01 < -1\.00\)/);
    assert.equal(byPair.get("en-de")!.passed, false);
    assert.match(byPair.get("en-de")!.reason, /chrF\+\+ 53\.90 vs 55\.00 \(-1\.10 < -1\.00\)/);
    assert.equal(byPair.get("en-zh")!.passed, true);
    // The rejection names every failing pair.
    assert.match(f.summary, /^fail: 2 of 3 pairs below tolerance: de-en \(.*\), en-de \(.*\)$/);
  });

  it("applies per-pair overrides and negative tolerances", () => {
    const ref = runs(run(1, "sw-en", 20, 45), run(1, "de-en", 30, 60));
    const eng = runs(run(2, "sw-en", 18.5, 44), run(2, "de-en", 30, 60));
    const t = parseTolerances({ default: { maxBleuDrop: 1, maxChrfDrop: 1 }, pairs: { "sw-en": { maxBleuDrop: 2 } } }, "t");
    assert.equal(decideGate(ENG, REF, eng, ref, t).decision, "pass");
    const strict = parseTolerances({ default: { maxBleuDrop: -100, maxChrfDrop: 1 } }, "t");
    const g = decideGate(ENG, REF, eng, ref, strict);
    assert.equal(g.decision, "fail");
    assert.deepEqual(g.failingPairs, ["de-en", "sw-en"]);
    assert.match(g.reasons[0]!.reason, /< \+100\.00/);
  });

  it("fails on a run missing on either side, naming the command that fills it", () => {
    const ref = runs(run(1, "de-en", 30, 60), run(1, "en-de", 25, 55, "s", 5));
    const eng = runs(run(2, "de-en", 30, 60), run(2, "fr-en", 25, 55));
    const g = decideGate(ENG, REF, eng, ref, DEFAULT);
    assert.equal(g.decision, "fail");
    assert.deepEqual(g.failingPairs.sort(), ["en-de", "fr-en"]);
    const missing = g.reasons.find((r) => r.pair === "en-de")!;
    assert.equal(missing.engineRunId, null);
    assert.match(missing.reason, /no run of int8: run glossa eval --engine int8 --sets s --pairs en-de --limit 5/);
    const noRef = g.reasons.find((r) => r.pair === "fr-en")!;
    assert.equal(noRef.referenceRunId, null);
    assert.match(noRef.reason, /no reference run .* --engine ref --sets s --pairs fr-en/);
  });

  it("compares runs on the same line limit, the whole set first", () => {
    const ref = runs(run(1, "de-en", 30, 60, "s", null));
    const eng = runs(run(2, "de-en", 30, 60, "s", 10));
    const g = decideGate(ENG, REF, eng, ref, DEFAULT);
    assert.equal(g.decision, "fail");
    assert.equal(g.reasons.length, 1);
    assert.equal(g.reasons[0]!.engineRunId, null);
    assert.match(g.reasons[0]!.reason, /no runs with the same --limit on both sides: run glossa eval --engine int8 --sets s --pairs de-en$/);
    // Limited and full runs on both sides: the full ones are compared.
    const ref2 = runs(run(1, "de-en", 30, 60, "s", null), run(1, "de-en", 10, 20, "s", 10));
    const eng2 = runs(run(2, "de-en", 29.5, 59.5, "s", null), run(2, "de-en", 5, 10, "s", 10));
    const g2 = decideGate(ENG, REF, eng2, ref2, DEFAULT);
    assert.equal(g2.decision, "pass");
    assert.equal(g2.reasons[0]!.engineBleu, 29.5);
    // A limited run on one side only is not required when a shared limit exists.
    const ref3 = runs(run(1, "de-en", 30, 60, "s", null), run(1, "de-en", 10, 20, "s", 4));
    const eng3 = runs(run(2, "de-en", 30, 60, "s", null));
    assert.equal(decideGate(ENG, REF, eng3, ref3, DEFAULT).decision, "pass");
    // Largest shared limit when the whole set is not shared.
    const ref4 = runs(run(1, "de-en", 30, 60, "s", 100), run(1, "de-en", 10, 20, "s", 4));
    const eng4 = runs(run(2, "de-en", 29, 59, "s", 100), run(2, "de-en", 10, 20, "s", 4), run(2, "de-en", 1, 1, "s", null));
    const g4 = decideGate(ENG, REF, eng4, ref4, DEFAULT);
    assert.equal(g4.reasons[0]!.engineBleu, 29);
  });

  it("scopes a per-language engine to the directions involving its language, and honours --sets/--pairs", () => {
    const ref = runs(run(1, "de-en", 30, 60), run(1, "en-de", 25, 55), run(1, "fr-en", 10, 30), run(1, "de-en", 30, 60, "t"));
    const deEngine = engine(3, { name: "int8-de", language: "de" });
    const eng = runs(run(3, "de-en", 30, 60), run(3, "en-de", 25, 55), run(3, "de-en", 30, 60, "t"));
    const g = decideGate(deEngine, REF, eng, ref, DEFAULT);
    assert.equal(g.decision, "pass");
    assert.deepEqual(g.reasons.map((r) => `${r.pair}/${r.setName}`), ["de-en/s", "de-en/t", "en-de/s"]);
    const onlyT = decideGate(deEngine, REF, eng, ref, DEFAULT, { sets: ["t"] });
    assert.deepEqual(onlyT.reasons.map((r) => `${r.pair}/${r.setName}`), ["de-en/t"]);
    const onlyEnDe = decideGate(deEngine, REF, eng, ref, DEFAULT, { pairs: ["en-de"] });
    assert.deepEqual(onlyEnDe.reasons.map((r) => r.pair), ["en-de"]);
  });

  it("ignores runs on set texts the manifests no longer name", () => {
    const [k1, old] = run(1, "de-en", 30, 60, "s");
    const ref = runs([k1, old]);
    const eng = runs(run(2, "de-en", 20, 50, "s"));
    const current = new Set([setTextKey("s", "de-en", "1", "2")]);
    assert.equal(decideGate(ENG, REF, eng, ref, DEFAULT, { currentSetTexts: current }).decision, "fail");
    // The same runs, but the manifest now names another text: nothing left to compare.
    assert.throws(() => decideGate(ENG, REF, eng, ref, DEFAULT, { currentSetTexts: new Set([setTextKey("s", "de-en", "9", "9")]) }), /no evaluation runs in scope/);
  });

  it("refuses to gate the reference, or with nothing to compare", () => {
    const ref = runs(run(1, "de-en", 30, 60));
    assert.throws(() => decideGate(REF, REF, ref, ref, DEFAULT), /reference engine: the baseline, released by definition/);
    assert.throws(() => decideGate(ENG, REF, ref, new Map(), DEFAULT), (e: unknown) => e instanceof GateError && /run glossa eval --engine ref/.test(e.message));
    assert.throws(() => decideGate(ENG, REF, new Map(), ref, DEFAULT), /engine int8 has no evaluation runs/);
  });

  it("rejects malformed tolerances", () => {
    assert.throws(() => parseTolerances({ default: { maxBleuDrop: 1 } }, "g"), /needs both/);
    assert.throws(() => parseTolerances({ default: { maxBleuDrop: "1", maxChrfDrop: 1 } }, "g"), /expected a number/);
    assert.throws(() => parseTolerances({ pairs: { "de-xx": { maxBleuDrop: 1 } } }, "g"), /not a direction/);
    assert.throws(() => parseTolerances({ pairs: { "de-en": { bleu: 1 } } }, "g"), /unknown key/);
    assert.throws(() => parseTolerances({ tolerance: 1 }, "g"), /unknown key/);
    assert.deepEqual(parseTolerances({}, "g").default, { maxBleuDrop: 1, maxChrfDrop: 1 });
  });
});

/** Answers with the fixture's own reference lines (a perfect system), optionally truncated to the first word. */
function lookupTranslator(fixtureCorpus: string, truncate: boolean): SentenceTranslator {
  const files: Record<string, string> = { en: "mini.en", de: "mini.de", zh: "mini.zh" };
  const read = (iso: string): string[] => readText(join(fixtureCorpus, files[iso]!)).split("\n").filter((l) => l !== "");
  return {
    async translate(texts: string[], src: Language, tgt: Language): Promise<string[]> {
      const from = read(src.iso);
      const to = read(tgt.iso);
      return texts.map((t) => {
        const i = from.indexOf(t);
        assert.ok(i >= 0, `unexpected source ${t}`);
        const out = to[i]!;
        return truncate ? (tgt.iso === "zh" ? out.slice(0, 2) : out.split(" ")[0]!) : out;
      });
    },
  };
}
const readText = (p: string): string => readFileSync(p, "utf8");

describe("runner and gate over the registry (in-test translators)", () => {
  it("records runs with the target language's tokenizer and chrF++, then passes and fails gates", async () => {
    const fixture = join(repoRoot(), "test", "fixtures", "eval-mini");
    const corpus = join(fixture, "corpus");
    const modelDir = join(tmp, "fake-model");
    mkdirSync(modelDir, { recursive: true });
    writeFileSync(join(modelDir, "config.json"), "{}");
    writeFileSync(join(modelDir, "model.safetensors"), "w");
    const reg = await openRegistry({ path: join(tmp, "gate.sqlite") });
    try {
      const ref = await ensureReferenceEngine(reg.db, modelDir);
      const twin = await registerEngine(reg.db, { name: "twin", modelId: ref.modelId, file: modelDir, recipe: "fp32", language: null, fileSha256: "t", sizeBytes: 1 });
      const bad = await registerEngine(reg.db, { name: "bad", modelId: ref.modelId, file: modelDir, recipe: "int4", language: null, fileSha256: "b", sizeBytes: 1 });
      const entries = selectEntries(readManifests(join(fixture, "eval")));
      const refRuns = await runEvaluation(reg.db, { engine: ref, entries, corporaDir: corpus, translator: lookupTranslator(corpus, false), chunkSize: 3 });
      assert.deepEqual(refRuns.map((r) => r.pair), ["de-en", "en-de", "en-zh"]);
      for (const r of refRuns) {
        assert.ok(Math.abs(r.run.bleu - 100) < 1e-9, `BLEU ${r.run.bleu}`);
        assert.ok(Math.abs(r.run.chrf - 100) < 1e-9, `chrF++ ${r.run.chrf}`);
        assert.equal(r.run.sentences, 10);
        assert.equal(r.run.lineLimit, null);
        assert.match(r.run.chrfSignature, /nw:2/);
      }
      assert.match(refRuns[2]!.run.bleuSignature, /tok:zh/);
      assert.match(refRuns[0]!.run.bleuSignature, /tok:13a/);
      await runEvaluation(reg.db, { engine: twin, entries, corporaDir: corpus, translator: lookupTranslator(corpus, false) });
      const badRuns = await runEvaluation(reg.db, { engine: bad, entries, corporaDir: corpus, translator: lookupTranslator(corpus, true) });
      assert.ok(badRuns.every((r) => r.run.bleu < 50 && r.run.chrf < 60), JSON.stringify(badRuns.map((r) => [r.run.bleu, r.run.chrf])));

      const pass = await gateEngine(reg.db, twin, DEFAULT);
      assert.equal(pass.decision, "pass");
      assert.ok(pass.recorded.release?.active);
      assert.equal(await isReleased(reg.db, twin.id), true);
      const fail = await gateEngine(reg.db, bad, DEFAULT);
      assert.equal(fail.decision, "fail");
      assert.deepEqual(fail.failingPairs, ["de-en", "en-de", "en-zh"]);
      assert.equal(fail.recorded.reasons.length, 3);
      assert.ok(fail.recorded.reasons.every((r) => !r.passed && Math.abs(r.referenceBleu! - 100) < 1e-9));
      assert.equal(await isReleased(reg.db, bad.id), false);

      // A failing gate revokes the active release.
      const strict = await gateEngine(reg.db, twin, parseTolerances({ default: { maxBleuDrop: -100, maxChrfDrop: 1 } }, "t"));
      assert.equal(strict.decision, "fail");
      assert.equal(strict.recorded.reasons.filter((r) => !r.passed).length, 3);
      assert.deepEqual(strict.recorded.ended.map((r) => r.id), [pass.recorded.release!.id]);
      assert.equal(await isReleased(reg.db, twin.id), false);
    } finally {
      await reg.close();
    }
  });
});
