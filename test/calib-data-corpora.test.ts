/**
 * The real corpora (GLOSSA_CORPORA, default ../shared/corpora): builds the calibration set of every
 * served language and checks that none contains an evaluation sentence, on either side, against an
 * evaluation-sentence set built here independently of src/calib/data (its own file walk, its own
 * normalisation). Also checks the committed manifests in calib-data/. Skipped when no corpora exist.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { corporaDir, evalDir, repoRoot } from "../src/config.js";
import { LANGUAGES } from "../src/languages.js";
import { openRegistry, type Registry } from "../src/storage/db.js";
import { readManifest } from "../src/calib/data/manifest.js";
import { readStoredSetText, sampleSet, setStats, type CalibDataContext } from "../src/calib/data/service.js";
import { loadCalibrationSet } from "../src/calib/data/index.js";
import { hasTraditionalOnlyHan, scriptShare } from "../src/calib/data/text.js";

function findCorpora(): string | undefined {
  try {
    const dir = corporaDir();
    return existsSync(join(dir, "train")) ? dir : undefined;
  } catch {
    return undefined;
  }
}

const corpora = findCorpora();

/** Written apart from normalizeForMatch: NFKC, lower case, letters, combining marks and digits only. */
function squash(s: string): string {
  return s.normalize("NFKC").toLowerCase().replace(/[^\p{L}\p{M}\p{N}]+/gu, "");
}

function filesUnder(dir: string, out: string[], keep: (name: string) => boolean): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) filesUnder(p, out, keep);
    else if (keep(name)) out.push(p);
  }
}

/** Every evaluation sentence: files outside train/ plus every "file" named in eval/**.json. */
function evaluationSentences(corporaRoot: string): { exact: Set<string>; squashed: Set<string>; files: number } {
  const files: string[] = [];
  for (const top of readdirSync(corporaRoot)) {
    const p = join(corporaRoot, top);
    if (top !== "train" && statSync(p).isDirectory()) filesUnder(p, files, (n) => !/\.(labels|md|tsv|json)$/.test(n));
  }
  const manifests: string[] = [];
  if (existsSync(evalDir())) filesUnder(evalDir(), manifests, (n) => n.endsWith(".json"));
  for (const m of manifests) {
    for (const match of readFileSync(m, "utf8").matchAll(/"file"\s*:\s*"([^"]+)"/g)) {
      const p = [resolve(corporaRoot, match[1]!), resolve(repoRoot(), match[1]!)].find((x) => existsSync(x));
      assert.ok(p, `${m} names ${match[1]}, which does not exist`);
      files.push(p);
    }
  }
  const exact = new Set<string>();
  const squashed = new Set<string>();
  for (const f of new Set(files)) {
    for (const line of readFileSync(f, "utf8").split("\n")) {
      const t = line.trim();
      if (t === "") continue;
      exact.add(t);
      const s = squash(t);
      if (s !== "") squashed.add(s);
    }
  }
  return { exact, squashed, files: new Set(files).size };
}

function overlapLines(file: string): Set<number> {
  const list = join(corpora!, file.replace(/\.[^./]+$/, ".eval_overlap_lines.txt"));
  if (!existsSync(list)) return new Set();
  return new Set(readFileSync(list, "utf8").split("\n").filter((l) => l.trim() !== "").map(Number));
}

describe("calibration sets on the real corpora", { skip: corpora === undefined ? "no corpora (set GLOSSA_CORPORA)" : false }, () => {
  let tmp: string;
  let reg: Registry;
  let ctx: CalibDataContext;
  let evalSentences: ReturnType<typeof evaluationSentences>;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "glossa-calib-real-"));
    reg = await openRegistry({ path: join(tmp, "registry.sqlite") });
    ctx = { db: reg.db, corpora: corpora!, repoRoot: repoRoot(), manifestDir: join(tmp, "calib-data"), evalDir: evalDir() };
    evalSentences = evaluationSentences(corpora!);
  });
  after(async () => {
    await reg?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  function assertNoEvaluationSentence(name: string, sentences: { file: string; line: number; text: string; target?: { text: string } }[]): void {
    for (const s of sentences) {
      for (const [side, text] of [["source", s.text], ["reference", s.target?.text]] as const) {
        if (text === undefined) continue;
        assert.ok(!evalSentences.exact.has(text.trim()), `${name}: ${s.file}:${s.line} (${side}) is an evaluation sentence`);
        assert.ok(!evalSentences.squashed.has(squash(text)), `${name}: ${s.file}:${s.line} (${side}) matches an evaluation sentence`);
      }
    }
  }

  it("finds the evaluation sentences", () => {
    assert.ok(evalSentences.files >= 50, `only ${evalSentences.files} evaluation files`);
    assert.ok(evalSentences.exact.size > 100_000);
  });

  for (const lang of LANGUAGES) {
    it(`builds a clean ${lang.iso} set of at least 512 sentences`, async () => {
      const set = await sampleSet(ctx, { lang: lang.iso });
      assert.ok(set.size >= 512, `${lang.iso}: ${set.size} members`);
      for (const b of set.buckets) assert.ok(b.count >= 64, `${lang.iso}: bucket ${b.name} has ${b.count}`);
      const sentences = await readStoredSetText(ctx, set.name);
      assertNoEvaluationSentence(set.name, sentences);
      const byFile = new Map<string, Set<number>>();
      for (const s of sentences) {
        let listed = byFile.get(s.file);
        if (!listed) byFile.set(s.file, (listed = overlapLines(s.file)));
        assert.ok(!listed.has(s.line), `${s.file}:${s.line} is on its eval-overlap list`);
        assert.ok(s.file.startsWith("train/"), `${s.file} is not training data`);
        assert.ok(scriptShare(s.text, lang.script).share >= 0.6, `${s.file}:${s.line} is not mostly ${lang.script}`);
        if (lang.iso === "zh") assert.ok(!hasTraditionalOnlyHan(s.text), `${s.file}:${s.line} is Traditional`);
      }
      assert.equal(new Set(sentences.map((s) => squash(s.text))).size >= sentences.length - 2, true, "near-duplicates in the set");
      const st = await setStats(ctx, set.name);
      assert.ok(st.sources.length >= 2, `${lang.iso}: drawn from ${st.sources.length} source file(s)`);
      if (lang.iso !== "en") assert.equal(st.targets.en, set.size, "every member has its English reference");
      else assert.ok(Object.keys(st.targets).length >= 5, "English references span several pairs");
    });
  }

  it("the committed manifests in calib-data/ re-read cleanly and hold no evaluation sentence", () => {
    const dir = join(repoRoot(), "calib-data");
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
    for (const lang of LANGUAGES) {
      const f = `${lang.iso}.json`;
      if (!files.includes(f)) continue;
      const m = readManifest(join(dir, f));
      assert.equal(m.lang, lang.iso);
      assert.ok(m.size >= 512 && m.members.length === m.size);
      const { sentences } = loadCalibrationSet(lang.iso, { manifestDir: dir, corpora: corpora! });
      assert.equal(sentences.length, m.size);
      assertNoEvaluationSentence(f, sentences);
    }
  });
});
