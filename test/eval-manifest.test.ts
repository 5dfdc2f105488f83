import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { repoRoot } from "../src/config.js";
import {
  ChecksumMismatchError, loadEvalSet, ManifestError, parseManifest, readManifests, selectEntries, splitLines,
} from "../src/eval/manifest.js";
import { buildManifests } from "../src/eval/manifestWriter.js";
import { progressLine, formatDuration } from "../src/eval/progress.js";
import { formatTable } from "../src/eval/table.js";
import { englishPivotPairs, pairName } from "../src/languages.js";

const tmp = mkdtempSync(join(tmpdir(), "glossa-manifest-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const fixture = join(repoRoot(), "test", "fixtures", "eval-mini");

/** A copy of the fixture corpus that a test may alter. */
function corpusCopy(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const f of ["mini.en", "mini.de", "mini.zh"]) copyFileSync(join(fixture, "corpus", f), join(dir, f));
  return dir;
}

describe("manifest loading", () => {
  it("splits lines as sacreBLEU reads files", () => {
    assert.deepEqual(splitLines("a\nb\n"), ["a", "b"]);
    assert.deepEqual(splitLines("a\nb"), ["a", "b"]);
    assert.deepEqual(splitLines("a\r\n\nb\n"), ["a", "", "b"]);
    assert.deepEqual(splitLines(""), []);
    assert.deepEqual(splitLines("\n"), [""]);
  });

  it("loads a verified set, with and without --limit", () => {
    const entries = selectEntries(readManifests(join(fixture, "eval")), ["mini"], ["en-zh"]);
    assert.equal(entries.length, 1);
    const full = loadEvalSet(join(fixture, "corpus"), entries[0]!);
    assert.equal(full.sources.length, 10);
    assert.equal(full.references.length, 10);
    assert.equal(full.lineLimit, null);
    assert.equal(full.entry.direction.tgt.bleuTokenizer, "zh");
    assert.equal(full.references[0], readFileSync(join(fixture, "corpus", "mini.zh"), "utf8").split("\n")[0]);
    const limited = loadEvalSet(join(fixture, "corpus"), entries[0]!, 3);
    assert.equal(limited.sources.length, 3);
    assert.equal(limited.lineLimit, 3);
    assert.deepEqual(limited.sources, full.sources.slice(0, 3));
    // A limit at or above the set size is the whole set, comparable with unlimited runs.
    assert.equal(loadEvalSet(join(fixture, "corpus"), entries[0]!, 10).lineLimit, null);
    assert.throws(() => loadEvalSet(join(fixture, "corpus"), entries[0]!, 0), /positive integer/);
  });

  it("refuses a changed file with a message naming it and both checksums", () => {
    const corpus = corpusCopy("changed");
    const path = join(corpus, "mini.de");
    writeFileSync(path, readFileSync(path, "utf8").replace("Garten", "Park"));
    const [entry] = selectEntries(readManifests(join(fixture, "eval")), ["mini"], ["de-en"]);
    assert.throws(() => loadEvalSet(corpus, entry!), (e: unknown) => {
      assert.ok(e instanceof ChecksumMismatchError);
      assert.match(e.message, /evaluation set mini de-en: mini\.de has changed \(sha256 [0-9a-f]{64}, the manifest expects [0-9a-f]{64}\)/);
      return true;
    });
    rmSync(path);
    assert.throws(() => loadEvalSet(corpus, entry!), /mini\.de not found .*GLOSSA_CORPORA/);
  });

  it("selects by set and pair, and rejects unknown ones", () => {
    const manifests = readManifests(join(fixture, "eval"));
    assert.deepEqual(selectEntries(manifests).map((e) => e.pair), ["de-en", "en-de", "en-zh"]);
    assert.deepEqual(selectEntries(manifests, undefined, ["de_DE-en"]).map((e) => e.pair), ["de-en"]);
    assert.throws(() => selectEntries(manifests, ["nope"]), /unknown evaluation set "nope"; known: mini/);
    assert.throws(() => selectEntries(manifests, undefined, ["xx-en"]), /invalid pair "xx-en"/);
    assert.throws(() => selectEntries(manifests, undefined, ["fr-en"]), /no evaluation set has the pairs asked for \(fr-en\)/);
  });

  it("rejects malformed manifests", () => {
    const file = { file: "a", lines: 2, sha256: "0".repeat(64) };
    const ok = { set: "x", entries: [{ pair: "de-en", source: file, reference: file }] };
    assert.equal(parseManifest(ok, "m").entries.length, 1);
    assert.throws(() => parseManifest({ ...ok, set: "X Y" }, "m"), /lowercase name/);
    assert.throws(() => parseManifest({ ...ok, entries: [] }, "m"), /non-empty/);
    assert.throws(() => parseManifest({ ...ok, entries: [{ pair: "de-xx", source: file, reference: file }] }, "m"), /direction/);
    assert.throws(() => parseManifest({ ...ok, entries: [{ pair: "de-en", source: { ...file, file: "../x" }, reference: file }] }, "m"), /relative path/);
    assert.throws(() => parseManifest({ ...ok, entries: [{ pair: "de-en", source: { ...file, sha256: "abc" }, reference: file }] }, "m"), /64 hex/);
    assert.throws(() => parseManifest({ ...ok, entries: [{ pair: "de-en", source: file, reference: { ...file, lines: 3 } }] }, "m"), /2 lines, reference 3/);
    assert.throws(() => parseManifest({ ...ok, entries: [ok.entries[0], ok.entries[0]] }, "m"), /listed twice/);
    assert.throws(() => readManifests(join(tmp, "none")), ManifestError);
  });
});

describe("the repository's manifests (eval/sets)", () => {
  const manifests = readManifests(join(repoRoot(), "eval"));

  it("cover the sets the gate uses, FLORES-200 dev in all 18 directions", () => {
    assert.deepEqual([...manifests.keys()].sort(), ["flores200-dev", "flores200-dev-pivot", "newstest2019", "newstest2020", "ntrex128", "tatoeba", "tico19-dev"]);
    const flores = manifests.get("flores200-dev")!;
    assert.deepEqual(flores.entries.map((e) => e.pair).sort(), englishPivotPairs().map(pairName).sort());
    assert.ok(flores.entries.every((e) => e.source.lines === 997));
    assert.equal(manifests.get("ntrex128")!.entries.length, 18);
    assert.equal(manifests.get("tatoeba")!.entries.length, 18);
    for (const e of flores.entries) {
      const [src, tgt] = e.pair.split("-");
      assert.equal(e.source.file, `flores200/dev/${src}.dev`);
      assert.equal(e.reference.file, `flores200/dev/${tgt}.dev`);
    }
    // Directions through English only, each listed once per set; the pivot set holds the non-English pairs.
    assert.deepEqual(manifests.get("flores200-dev-pivot")!.entries.map((e) => e.pair), ["de-fr", "es-ru", "zh-ar"]);
    for (const m of manifests.values()) {
      if (m.set === "flores200-dev-pivot") continue;
      for (const e of m.entries) assert.ok(e.pair.startsWith("en-") || e.pair.endsWith("-en"), `${m.set} ${e.pair}`);
    }
  });

  const corpora = join(repoRoot(), "..", "shared", "corpora");
  const haveCorpora = process.env.GLOSSA_CORPORA !== undefined ? existsSync(process.env.GLOSSA_CORPORA) : existsSync(corpora);
  const corporaRoot = process.env.GLOSSA_CORPORA ?? corpora;

  it("match the corpora byte for byte, as the writer generates them", { skip: haveCorpora ? false : `no corpora folder at ${corporaRoot}` }, () => {
    const rebuilt = buildManifests(corporaRoot);
    for (const m of rebuilt) {
      const committed = manifests.get(m.set);
      assert.ok(committed, `set ${m.set} generated but not committed`);
      assert.deepEqual(committed, m, `eval/sets/${m.set}.json differs from what src/eval/manifestWriter.ts writes`);
    }
    // Every committed entry verifies against the corpora.
    for (const e of selectEntries(manifests)) assert.equal(loadEvalSet(corporaRoot, e, 1).sources.length, 1);
  });
});

describe("progress and tables", () => {
  it("formats a progress line with rate and ETA", () => {
    assert.equal(progressLine(50, 200, 10, "flores200-dev de-en", 8), "[##......] 50/200 sentences  5.0 sent/s  ETA 30s  flores200-dev de-en");
    assert.equal(progressLine(0, 10, 0, "x", 4), "[....] 0/10 sentences  0.0 sent/s  ETA ?  x");
    assert.equal(formatDuration(3725), "1h02m");
    assert.equal(formatDuration(95), "1m35s");
  });

  it("aligns numbers right and text left", () => {
    assert.equal(formatTable(["pair", "BLEU"], [["de-en", "9.50"], ["en-zh", "31.25"], ["x", null]]), "pair   BLEU\n-----  -----\nde-en   9.50\nen-zh  31.25\nx          -\n");
  });
});
