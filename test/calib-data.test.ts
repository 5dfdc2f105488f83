/**
 * Calibration-data curation on fake corpora (self-written sentences in the real layout):
 * text functions, filters (overlap lists, evaluation sentences on either side, script, duplicates),
 * stratified seeded sampling, the stored sets, manifests, exclusion, verified re-reading, CLI and admin routes.
 */
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openRegistry, type Registry } from "../src/storage/db.js";
import { trainSourcesFor, readLines } from "../src/calib/data/corpus.js";
import { buildEvalIndex, type EvalIndex } from "../src/calib/data/eval-index.js";
import { buildPool, type Pool } from "../src/calib/data/pool.js";
import {
  allocate,
  bucketEdges,
  bucketOf,
  sampleStratified,
  BUCKETS,
  type Bucket,
} from "../src/calib/data/sample.js";
import {
  hasTraditionalOnlyHan,
  lengthInUnits,
  normalizeForMatch,
  scriptShare,
  sha256Hex,
} from "../src/calib/data/text.js";
import { readManifest, setHash } from "../src/calib/data/manifest.js";
import { CalibInputError, CalibNotFoundError, CorpusChangedError } from "../src/calib/data/errors.js";
import {
  excludeMembers,
  importPool,
  listSets,
  readManifestText,
  readStoredSetText,
  sampleSet,
  setStats,
  type CalibDataContext,
} from "../src/calib/data/service.js";
import { poolEntries, poolOf, poolSourcesOf, packInt32, unpackInt32 } from "../src/calib/data/store.js";
import { loadCalibrationSet } from "../src/calib/data/index.js";
import { calibDataCommand } from "../src/cli/commands/calib-data.js";
import { calibAdminRoutes } from "../src/server/routes/calib-admin.js";
import { makeFakeCorpora, type FakeCorpora } from "./calib-data-fixture.js";

describe("calib-data text functions", () => {
  it("normalises case, punctuation, whitespace, width and format characters for matching", () => {
    assert.equal(normalizeForMatch("  Hello,   World!! "), "helloworld");
    assert.equal(normalizeForMatch("\ufeffHELLO world."), "helloworld");
    assert.equal(normalizeForMatch("It's late!"), normalizeForMatch("its late."));
    assert.equal(normalizeForMatch("ＡＢＣ　def"), "abcdef"); // full-width letters and space (NFKC)
    assert.equal(normalizeForMatch("你好。"), "你好");
    assert.equal(normalizeForMatch("..."), "");
    // Vowel signs are part of Devanagari words: रहा and रही stay different.
    assert.notEqual(normalizeForMatch("वह आ रहा।"), normalizeForMatch("वह आ रही।"));
  });

  it("measures script shares, counting a Latin run inside Han text once", () => {
    assert.equal(scriptShare("Привет, мир", "Cyrillic").share, 1);
    assert.equal(scriptShare("Hello мир", "Cyrillic").share, 3 / 8);
    assert.deepEqual(scriptShare("我叫Tom。", "Han"), { letters: 3, share: 2 / 3 });
    assert.equal(scriptShare("This is English", "Han").share, 0);
    assert.equal(scriptShare("नमस्ते दुनिया", "Devanagari").share, 1);
    assert.equal(scriptShare("123 ...", "Latin").letters, 0);
  });

  it("spots Traditional-only characters and leaves Simplified text alone", () => {
    assert.equal(hasTraditionalOnlyHan("這是我們的書"), true);
    assert.equal(hasTraditionalOnlyHan("这是我们的书"), false);
  });

  it("counts whitespace tokens, or characters for Han", () => {
    assert.equal(lengthInUnits("  one two   three ", "whitespace-token"), 3);
    assert.equal(lengthInUnits("我们 走吧。", "character"), 5);
    assert.equal(lengthInUnits("", "whitespace-token"), 0);
  });
});

describe("calib-data sampling", () => {
  const cand = (file: string, line: number, units: number) => ({
    file,
    line,
    sha256: sha256Hex(`${file}:${line}`),
    normHash: sha256Hex(`n${file}:${line}`),
    units,
    scriptShare: 1,
  });

  it("makes strictly increasing quartile edges even on heavy ties", () => {
    const e = bucketEdges([3, 3, 3, 3, 3, 3, 3, 4, 9]);
    assert.ok(e[0] < e[1] && e[1] < e[2], `edges ${e.join(",")}`);
    assert.equal(bucketOf(e[0], e), "short");
    assert.equal(bucketOf(e[2] + 1, e), "very_long");
  });

  it("weights every source equally when placing the edges", () => {
    const pool = [];
    for (let i = 1; i <= 300; i++) pool.push(cand("train/short.x", i, 2 + (i % 2)));
    for (let i = 1; i <= 30; i++) pool.push(cand("train/long.x", i, 10 + i));
    const plain = bucketEdges(pool.map((c) => c.units));
    assert.ok(plain[2] <= 4, `unweighted edges ${plain.join(",")}`);
    const balanced = sampleStratified(pool, { size: 40, seed: "w" });
    assert.ok(balanced.edges[2] >= 10, `balanced edges ${balanced.edges.join(",")}`);
    assert.ok(balanced.members.filter((m) => m.file === "train/long.x").length >= 15);
  });

  it("allocates equal quotas and hands a bucket's shortfall to the others", () => {
    assert.deepEqual(allocate(8, { short: 5, medium: 5, long: 5, very_long: 5 }), { short: 2, medium: 2, long: 2, very_long: 2 });
    const q = allocate(20, { short: 1, medium: 100, long: 100, very_long: 100 });
    assert.equal(q.short, 1);
    assert.equal(q.medium + q.long + q.very_long, 19);
    assert.ok(Math.max(q.medium, q.long, q.very_long) - Math.min(q.medium, q.long, q.very_long) <= 1);
    assert.throws(() => allocate(10, { short: 2, medium: 2, long: 2, very_long: 2 }), CalibInputError);
  });

  it("draws deterministically from the seed, balanced over buckets and sources", () => {
    const pool = [];
    for (let i = 1; i <= 400; i++) pool.push(cand(i % 4 === 0 ? "train/b.x" : "train/a.x", i, 1 + (i % 40)));
    const a = sampleStratified(pool, { size: 40, seed: "s1" });
    const b = sampleStratified([...pool].reverse(), { size: 40, seed: "s1" });
    const c = sampleStratified(pool, { size: 40, seed: "s2" });
    assert.deepEqual(a.members.map((m) => [m.file, m.line]), b.members.map((m) => [m.file, m.line]), "input order must not matter");
    assert.notDeepEqual(a.members.map((m) => m.line), c.members.map((m) => m.line), "another seed draws another set");
    for (const bucket of BUCKETS) assert.equal(a.drawn[bucket], 10);
    for (const m of a.members) assert.equal(bucketOf(m.units, a.edges), m.bucket);
    // Sources take turns inside a bucket: the smaller source b (a quarter of the pool) still gets half.
    const fromB = a.members.filter((m) => m.file === "train/b.x").length;
    assert.ok(fromB >= 16 && fromB <= 24, `source b drew ${fromB} of 40`);
  });
});

describe("calib-data pool filters on fake corpora", () => {
  let fx: FakeCorpora;
  let index: EvalIndex;
  let de: Pool;
  let zh: Pool;
  const kept = (p: Pool, file: string): Set<number> => new Set(p.candidates.filter((c) => c.file === file).map((c) => c.line));

  before(() => {
    fx = makeFakeCorpora();
    index = buildEvalIndex({ corpora: fx.corpora, evalDir: fx.evalDir, repoRoot: fx.repo });
    de = buildPool(fx.corpora, "de", index);
    zh = buildPool(fx.corpora, "zh", index);
  });
  after(() => rmSync(fx.root, { recursive: true, force: true }));

  it("indexes evaluation folders and files named only by an eval manifest, not train/ or metadata", () => {
    assert.ok(index.files.includes("flores200/dev/de.dev"));
    assert.ok(index.files.some((f) => f.endsWith("holdout/secret.de")), index.files.join(" "));
    assert.ok(!index.files.some((f) => f.startsWith("train/") || f.endsWith(".labels") || f.endsWith(".md")));
  });

  it("finds the training files of a language and never the zh_Hant side", () => {
    assert.deepEqual(trainSourcesFor(fx.corpora, "zh").map((s) => s.file), ["train/en-zh/gamma.zh"]);
    const en = trainSourcesFor(fx.corpora, "en");
    assert.deepEqual(en.map((s) => s.file), ["train/en-de/alpha.en", "train/en-de/beta.en", "train/en-zh/gamma.en"]);
    assert.ok(en.every((s) => s.target !== undefined));
  });

  it("honours the eval-overlap line lists", () => {
    const lines = kept(de, "train/en-de/alpha.de");
    for (const l of fx.alpha.overlapListed) assert.ok(!lines.has(l), `listed line ${l} kept`);
    assert.equal(de.rejected.eval_overlap_list, fx.alpha.overlapListed.length);
    assert.ok(lines.has(1) && lines.has(2) && lines.has(4), "unlisted neighbours stay");
  });

  it("rejects evaluation sentences planted in a training file: exact, variant, embedded, manifest-only, target side", () => {
    const lines = kept(de, "train/en-de/alpha.de");
    for (const [what, l] of Object.entries({
      exact: fx.alpha.evalExact,
      variant: fx.alpha.evalVariant,
      paragraph: fx.alpha.evalInParagraph,
      manifestOnly: fx.alpha.evalFromManifestOnly,
      targetSide: fx.alpha.evalTargetSide,
    })) {
      assert.ok(!lines.has(l), `${what} eval sentence (line ${l}) was kept`);
    }
    assert.equal(de.rejected.eval_match, 3);
    assert.equal(de.rejected.eval_segment_match, 1);
    assert.equal(de.rejected.target_eval_match, 1);
    assert.ok(!kept(zh, "train/en-zh/gamma.zh").has(fx.gamma.evalExact));
    // Nothing kept matches an evaluation sentence on either side.
    for (const p of [de, zh]) {
      for (const c of p.candidates) assert.ok(!index.hashes.has(c.normHash));
    }
  });

  it("filters by script: Cyrillic in de, Latin-only and Traditional in zh; keeps Han with a Latin name", () => {
    assert.ok(!kept(de, "train/en-de/alpha.de").has(fx.alpha.cyrillic));
    assert.equal(de.rejected.script, 1);
    const z = kept(zh, "train/en-zh/gamma.zh");
    assert.ok(!z.has(fx.gamma.latinOnly));
    assert.ok(!z.has(fx.gamma.traditional));
    assert.ok(z.has(fx.gamma.mixedKept));
    assert.equal(zh.rejected.traditional_chinese, 1);
    assert.equal(zh.rejected.script, 1);
  });

  it("de-duplicates on the normalised text, keeping the first occurrence", () => {
    const lines = kept(de, "train/en-de/alpha.de");
    assert.ok(lines.has(fx.alpha.duplicateOf.line));
    for (const c of fx.alpha.duplicateOf.copies) assert.ok(!lines.has(c), `duplicate line ${c} kept`);
    assert.equal(de.rejected.duplicate, 2);
    assert.equal(new Set(de.candidates.map((c) => c.normHash)).size, de.candidates.length);
  });

  it("records provenance: sha256 of the stored line and the aligned reference line", () => {
    const deLines = readLines(join(fx.corpora, "train/en-de/alpha.de"));
    const enLines = readLines(join(fx.corpora, "train/en-de/alpha.en"));
    const c = de.candidates.find((x) => x.file === "train/en-de/alpha.de" && x.line === 10)!;
    assert.equal(c.sha256, sha256Hex(deLines[9]!));
    assert.deepEqual(c.target, { lang: "en", file: "train/en-de/alpha.en", line: 10, sha256: sha256Hex(enLines[9]!) });
  });
});

describe("calib-data sets in the registry", () => {
  let fx: FakeCorpora;
  let reg: Registry;
  let ctx: CalibDataContext;

  before(async () => {
    fx = makeFakeCorpora();
    reg = await openRegistry({ path: fx.dbPath });
    ctx = { db: reg.db, corpora: fx.corpora, repoRoot: fx.repo, manifestDir: fx.manifestDir, evalDir: fx.evalDir };
  });
  after(async () => {
    await reg.close();
    rmSync(fx.root, { recursive: true, force: true });
  });

  it("imports a pool and draws a stratified set with a manifest that holds no text", async () => {
    const pool = await importPool(ctx, "de");
    assert.ok(pool.candidates > 200);
    const s = await sampleSet(ctx, { lang: "de", size: 64, seed: "t1" });
    assert.equal(s.size, 64);
    assert.deepEqual(s.buckets.map((b) => b.count), [16, 16, 16, 16]);
    const manifest = readManifest(join(fx.manifestDir, "de.json"));
    assert.equal(manifest.setHash, s.setHash);
    assert.equal(manifest.members.length, 64);
    assert.equal(manifest.setHash, setHash("de", manifest.members));
    const raw = readFileSync(join(fx.manifestDir, "de.json"), "utf8");
    const deText = readLines(join(fx.corpora, "train/en-de/alpha.de"));
    for (const m of manifest.members.slice(0, 10)) {
      if (m.file === "train/en-de/alpha.de") assert.ok(!raw.includes(deText[m.line - 1]!), "manifest must not hold sentence text");
    }
    assert.ok(manifest.members.every((m) => m.target?.lang === "en"));
  });

  it("is deterministic: the same seed gives the same set, another seed another", async () => {
    const a = await sampleSet(ctx, { lang: "de", size: 64, seed: "t1", name: "de-again" });
    const b = await sampleSet(ctx, { lang: "de", size: 64, seed: "t2", name: "de-other" });
    assert.equal(a.setHash, (await listSets(ctx)).find((x) => x.name === "de")!.setHash);
    assert.notEqual(a.setHash, b.setHash);
  });

  it("refuses an existing name without replace, an unknown language and an oversized request", async () => {
    await assert.rejects(sampleSet(ctx, { lang: "de", size: 64, seed: "t1" }), /exists/);
    await assert.rejects(sampleSet(ctx, { lang: "xx" }), CalibInputError);
    await assert.rejects(sampleSet(ctx, { lang: "de", size: 5000, name: "too-big" }), /only \d+ eligible candidates/);
    await assert.rejects(sampleSet(ctx, { lang: "de", name: "../escape" }), /bad set name/);
  });

  it("re-reads the text with sha256 verification, references included", async () => {
    const sentences = await readStoredSetText(ctx, "de");
    assert.equal(sentences.length, 64);
    const { sentences: viaManifest } = readManifestText(fx.corpora, join(fx.manifestDir, "de.json"));
    assert.deepEqual(viaManifest, sentences);
    const loaded = loadCalibrationSet("de", { manifestDir: fx.manifestDir, corpora: fx.corpora });
    assert.deepEqual(loaded.sentences, sentences);
    assert.equal(loaded.manifest.setHash, (await listSets(ctx)).find((x) => x.name === "de")!.setHash);
    assert.throws(() => loadCalibrationSet("../de", { manifestDir: fx.manifestDir, corpora: fx.corpora }), CalibInputError);
    const enLines = readLines(join(fx.corpora, "train/en-de/alpha.en"));
    const s = sentences.find((x) => x.file === "train/en-de/alpha.de")!;
    assert.equal(s.target?.text, enLines[s.line - 1]);
  });

  it("reports statistics by bucket, script and source", async () => {
    const st = await setStats(ctx, "de");
    assert.equal(st.size, 64);
    assert.equal(st.script.name, "Latin");
    assert.equal(st.script.minShare, 1);
    assert.equal(st.sources.reduce((a, s) => a + s.members, 0), 64);
    assert.deepEqual(st.sources.map((s) => s.file), ["train/en-de/alpha.de", "train/en-de/beta.de"]);
    assert.equal(st.targets.en, 64);
    assert.ok(st.lengths.min >= 2 && st.lengths.max >= st.lengths.median);
    await assert.rejects(setStats(ctx, "nope"), CalibNotFoundError);
  });

  it("excludes by sentence hash and by line id, records the reason, and later draws skip them", async () => {
    const before = readManifest(join(fx.manifestDir, "de.json"));
    const [m1, m2] = before.members;
    const r = await excludeMembers(ctx, "de", { ids: [m1!.sha256, `${m2!.file}:${m2!.line}`, "train/en-de/alpha.de:99999"], reason: "reviewed: noisy" });
    assert.equal(r.removed.length, 2);
    assert.deepEqual(r.notFound, ["train/en-de/alpha.de:99999"]);
    assert.equal(r.set.size, 62);
    const after = readManifest(join(fx.manifestDir, "de.json"));
    assert.notEqual(after.setHash, before.setHash);
    assert.equal(after.exclusions.length, 2);
    assert.ok(after.exclusions.every((e) => e.reason === "reviewed: noisy"));
    assert.equal((await setStats(ctx, "de")).exclusions.length, 2);
    const redraw = await sampleSet(ctx, { lang: "de", size: 64, seed: "t1", name: "de-redraw" });
    const redrawn = readManifest(join(fx.manifestDir, `${redraw.name}.json`));
    for (const m of [m1!, m2!]) assert.ok(!redrawn.members.some((x) => x.file === m.file && x.line === m.line), "excluded line drawn again");
    await assert.rejects(excludeMembers(ctx, "de", { ids: [m1!.sha256], reason: "" }), /reason/);
    await assert.rejects(excludeMembers(ctx, "de", { ids: ["not-a-hash-or-line"], reason: "x" }), CalibInputError);
  });

  it("refills from the same bucket when asked", async () => {
    const before = readManifest(join(fx.manifestDir, "de-again.json"));
    const victim = before.members.find((m) => m.bucket === "long")!;
    const r = await excludeMembers(ctx, "de-again", { ids: [victim.sha256], reason: "test refill", refill: true });
    assert.equal(r.set.size, 64);
    assert.equal(r.added.length, 1);
    assert.equal(r.added[0]!.bucket, "long");
    assert.ok(!before.members.some((m) => m.file === r.added[0]!.file && m.line === r.added[0]!.line));
  });

  it("refuses a set whose corpus file changed, naming the file and line", async () => {
    const manifest = readManifest(join(fx.manifestDir, "de-other.json"));
    const m = manifest.members.find((x) => x.file === "train/en-de/beta.de")!;
    const path = join(fx.corpora, m.file);
    const original = readFileSync(path, "utf8");
    const lines = original.split("\n");
    lines[m.line - 1] = `${lines[m.line - 1]} (edited)`;
    writeFileSync(path, lines.join("\n"));
    try {
      await assert.rejects(
        readStoredSetText(ctx, "de-other"),
        (e: unknown) => e instanceof CorpusChangedError && e.file === m.file && e.line === m.line && /corpus file changed/.test(e.message),
      );
      assert.throws(() => readManifestText(fx.corpora, join(fx.manifestDir, "de-other.json")), CorpusChangedError);
    } finally {
      writeFileSync(path, original);
    }
    assert.equal((await readStoredSetText(ctx, "de-other")).length, 64);
  });

  it("stores the pool packed per source file and re-imports it when a training file changes", async () => {
    assert.deepEqual(unpackInt32(packInt32([1, 7, 65536, 2_000_000_000])), [1, 7, 65536, 2_000_000_000]);
    const before = (await poolOf(reg.db, "de"))!;
    const sources = await poolSourcesOf(reg.db, before.id);
    assert.deepEqual(sources.map((x) => x.file), ["train/en-de/alpha.de", "train/en-de/beta.de"]);
    assert.equal(poolEntries(sources).length, before.candidates);
    assert.ok(sources.every((x) => x.targetFile !== null && /^[0-9a-f]{64}$/.test(x.fileSha256)));
    // Append a new line to beta: the stored pool is stale, sampling re-imports and may draw the new line.
    const path = join(fx.corpora, "train/en-de/beta.de");
    const original = readFileSync(path, "utf8");
    const originalEn = readFileSync(join(fx.corpora, "train/en-de/beta.en"), "utf8");
    appendFileSync(path, "Ein neuer Satz über die Wolken am Berg kam heute dazu.\n");
    appendFileSync(join(fx.corpora, "train/en-de/beta.en"), "A new sentence about the clouds on the mountain was added today.\n");
    try {
      await sampleSet(ctx, { lang: "de", size: 16, seed: "t1", name: "de-after-change" });
      const after = (await poolOf(reg.db, "de"))!;
      assert.notEqual(after.id, before.id, "the pool was re-imported");
      assert.equal(after.candidates, before.candidates + 1);
    } finally {
      writeFileSync(path, original);
      writeFileSync(join(fx.corpora, "train/en-de/beta.en"), originalEn);
    }
  });

  it("refuses to draw from a pool when the eval data gained a sentence that is in it", async () => {
    // A new evaluation file holding a pooled sentence: the pool's fingerprint no longer matches, so
    // sampling re-imports and the sentence can no longer be drawn.
    const pooled = readLines(join(fx.corpora, "train/en-de/beta.de"))[0]!;
    appendFileSync(join(fx.corpora, "flores200/dev/de.dev"), `${pooled}\n`);
    const fresh: CalibDataContext = { ...ctx, evalIndex: undefined };
    await sampleSet(fresh, { lang: "de", size: 64, seed: "t1", name: "de-after-eval-change" });
    assert.ok(fresh.evalIndex!.hashes.has(sha256Hex(normalizeForMatch(pooled))));
    const pool = (await poolOf(reg.db, "de"))!;
    assert.equal(pool.evalFingerprint, fresh.evalIndex!.fingerprint, "sampling re-imported the pool");
    assert.ok(!poolEntries(await poolSourcesOf(reg.db, pool.id)).some((c) => c.file === "train/en-de/beta.de" && c.line === 1));
  });

  it("draws English from the en side of several pairs, each with its reference", async () => {
    const s = await sampleSet(ctx, { lang: "en", size: 40, seed: "e" });
    const st = await setStats(ctx, s.name);
    assert.equal(st.size, 40);
    assert.ok(st.sources.length >= 3, st.sources.map((x) => x.file).join(" "));
    assert.equal(st.withoutTarget, 0);
    assert.ok(st.targets.de! > 0 && st.targets.zh! > 0);
  });

  it("draws Chinese counted in characters, Simplified only", async () => {
    const s = await sampleSet(ctx, { lang: "zh", size: 40, seed: "z" });
    assert.equal(s.unit, "character");
    const text = await readStoredSetText(ctx, s.name);
    assert.ok(text.every((t) => !hasTraditionalOnlyHan(t.text) && scriptShare(t.text, "Han").share >= 0.6));
  });
});

describe("calib-data command and admin routes", () => {
  let fx: FakeCorpora;
  const saved: Record<string, string | undefined> = {};
  const env = { GLOSSA_DB: "", GLOSSA_CORPORA: "", GLOSSA_EVAL_DIR: "", GLOSSA_CALIB_DATA_DIR: "", GLOSSA_ADMIN_KEY: "" };

  before(() => {
    fx = makeFakeCorpora();
    Object.assign(env, { GLOSSA_DB: fx.dbPath, GLOSSA_CORPORA: fx.corpora, GLOSSA_EVAL_DIR: fx.evalDir, GLOSSA_CALIB_DATA_DIR: fx.manifestDir, GLOSSA_ADMIN_KEY: "s3cret" });
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(fx.root, { recursive: true, force: true });
  });

  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const code = await calibDataCommand(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
    return { code, out, err };
  }

  it("runs import, sample, list, stats, exclude and verify", async () => {
    const imp = await cli("import", "--lang", "de,zh", "--json");
    assert.equal(imp.code, 0, imp.err);
    assert.deepEqual((JSON.parse(imp.out) as { lang: string }[]).map((p) => p.lang), ["de", "zh"]);
    const s = await cli("sample", "--lang", "de", "--size", "48", "--seed", "cli", "--json");
    assert.equal(s.code, 0, s.err);
    const set = JSON.parse(s.out) as { name: string; size: number; buckets: { count: number }[] };
    assert.equal(set.name, "de");
    assert.equal(set.size, 48);
    const list = await cli("list");
    assert.equal(list.code, 0);
    assert.match(list.out, /^de\s+de\s+48\s+cli\s+12\s+12\s+12\s+12/m);
    const stats = await cli("stats", "de");
    assert.equal(stats.code, 0, stats.err);
    assert.match(stats.out, /very_long/);
    assert.match(stats.out, /train\/en-de\/alpha\.de/);
    const m = readManifest(join(fx.manifestDir, "de.json")).members[0]!;
    const ex = await cli("exclude", "de", "--line", `${m.file}:${m.line}`, "--reason", "cli test");
    assert.equal(ex.code, 0, ex.err);
    assert.match(ex.out, /removed 1, added 0, now 47 members/);
    const v = await cli("verify", "de");
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /47 sentences and 47 references re-read/);
  });

  it("answers bad input with exit code 2 and a message", async () => {
    const r1 = await cli("sample", "--lang", "xx");
    assert.equal(r1.code, 2);
    assert.match(r1.err, /unknown language "xx"/);
    const r2 = await cli("sample", "--lang", "de", "--size", "-3");
    assert.equal(r2.code, 2);
    const r3 = await cli("frobnicate");
    assert.equal(r3.code, 2);
    const r4 = await cli("exclude", "de", "--reason", "x");
    assert.equal(r4.code, 2);
    const r5 = await cli("stats", "missing-set");
    assert.equal(r5.code, 1);
    assert.match(r5.err, /no calibration set named "missing-set"/);
  });

  it("serves the admin endpoints behind the admin key", async () => {
    const app = calibAdminRoutes({ dbPath: fx.dbPath, corpora: fx.corpora, manifestDir: fx.manifestDir, evalDir: fx.evalDir, repoRoot: fx.repo, adminKey: "s3cret" });
    const none = await app.request("/calib-data");
    assert.equal(none.status, 401);
    assert.ok(typeof ((await none.json()) as { error: string }).error === "string");
    const wrong = await app.request("/calib-data", { headers: { authorization: "Bearer nope" } });
    assert.equal(wrong.status, 403);
    assert.ok(typeof ((await wrong.json()) as { error: string }).error === "string");
    const auth = { authorization: "Bearer s3cret", "content-type": "application/json" };
    const ok = await app.request("/calib-data", { headers: { "x-admin-key": "s3cret" } });
    assert.equal(ok.status, 200);
    assert.ok(Array.isArray(((await ok.json()) as { sets: unknown[] }).sets));

    // Writing routes answer 202 with a job (worker thread); its result is what the synchronous routes returned.
    const finished = async (res: Response): Promise<{ status: string; result?: any; error?: { message: string; status: number } }> => {
      assert.equal(res.status, 202, await res.clone().text());
      const job = (await res.json()) as { id: string };
      assert.equal(res.headers.get("location"), `/jobs/${job.id}`);
      for (;;) {
        const j = (await (await app.request(`/jobs/${job.id}`, { headers: auth })).json()) as { status: string };
        if (j.status === "succeeded" || j.status === "failed") return j;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const created = await finished(await app.request("/calib-data/sample", { method: "POST", headers: auth, body: JSON.stringify({ lang: "zh", size: 32, seed: "http", name: "zh-http" }) }));
    assert.equal(created.status, "succeeded", JSON.stringify(created.error));
    const set = created.result as { name: string; size: number };
    assert.deepEqual([set.name, set.size], ["zh-http", 32]);

    const stats = await app.request("/calib-data/zh-http/stats", { headers: auth });
    assert.equal(stats.status, 200);
    const st = (await stats.json()) as { size: number; unit: string; buckets: { count: number }[] };
    assert.equal(st.unit, "character");
    assert.equal(st.buckets.reduce((a, b) => a + b.count, 0), 32);

    const m = readManifest(join(fx.manifestDir, "zh-http.json")).members[0]!;
    const ex = await finished(await app.request("/calib-data/zh-http/exclude", { method: "POST", headers: auth, body: JSON.stringify({ sha256: [m.sha256], reason: "http test", refill: true }) }));
    assert.equal(ex.status, "succeeded", JSON.stringify(ex.error));
    const exr = ex.result as { removed: unknown[]; added: unknown[]; set: { size: number } };
    assert.deepEqual([exr.removed.length, exr.added.length, exr.set.size], [1, 1, 32]);

    assert.equal((await app.request("/calib-data/nope/stats", { headers: auth })).status, 404);
    assert.equal((await app.request("/calib-data/sample", { method: "POST", headers: auth, body: "not json" })).status, 400);
    assert.equal((await app.request("/calib-data/sample", { method: "POST", headers: auth, body: JSON.stringify({ lang: "xx" }) })).status, 400);
    assert.equal((await app.request("/calib-data/sample", { method: "POST", headers: auth, body: JSON.stringify({ size: 3 }) })).status, 400);
    assert.equal((await app.request("/calib-data/zh-http/exclude", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status, 401);
  });
});
