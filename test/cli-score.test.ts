/**
 * Runs the built `glossa score` (node dist/src/cli/glossa.js) on self-written temp files.
 *
 * Expected scores and lines are FACTS MEASURED with sacreBLEU 2.6.0's own command line on the same
 * files (`sacrebleu REF... -i HYP -f text [-tok ...] [-m chrf --chrf-word-order 2]`, and its Python
 * API for the unrounded scores). The hypothesis file deliberately has a UTF-8 BOM (which sacreBLEU
 * keeps as part of the first word), CRLF line ends, trailing spaces and an empty line.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("package.json not found above the test file");
    dir = parent;
  }
  return dir;
}

const CLI = join(repoRoot(), "dist", "src", "cli", "glossa.js");
let dir = "";
let hyp = "";
let ref1 = "";
let ref2 = "";

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
  dir = mkdtempSync(join(tmpdir(), "glossa-score-"));
  hyp = join(dir, "hyp.txt");
  ref1 = join(dir, "ref1.txt");
  ref2 = join(dir, "ref2.txt");
  writeFileSync(hyp, "\ufeffThe cat sat on the mat.\r\nA dog barks  \r\n\r\nIt costs 3.50 dollars!\r\n");
  writeFileSync(ref1, "The cat is on the mat.\nA dog barked\n\nIt costs $3.50!\n");
  writeFileSync(ref2, "A cat sat on the mat.\nThe dog barks\nnothing\nIt costs 3.50 dollars.\n");
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function glossa(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function scoreJson(...args: string[]): Record<string, unknown> {
  const run = glossa("score", ...args, "--json");
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

test("score --metric bleu, one reference: sacreBLEU's text line", () => {
  const run = glossa("score", "--metric", "bleu", "--hyp", hyp, "--ref", ref1);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(
    run.stdout,
    "BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 32.6 73.3/41.7/22.2/16.7 (BP = 1.000 ratio = 1.000 hyp_len = 15 ref_len = 15)\n",
  );
});

test("score --metric bleu --json with two references", () => {
  const out = scoreJson("--metric", "bleu", "--hyp", hyp, "--ref", ref1, "--ref", ref2);
  assert.equal(out.name, "BLEU");
  assert.equal(out.score, 76.67755445970685);
  assert.equal(out.signature, "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0");
  assert.deepEqual(out.counts, [14, 10, 6, 4]);
  assert.deepEqual(out.totals, [15, 12, 9, 6]);
  assert.equal(out.bp, 1);
  assert.equal(out.hyp_len, 15);
  assert.equal(out.ref_len, 15);
  assert.equal(out.sentences, 4);
  assert.equal(out.nrefs, "2");
  assert.equal(out.tok, "13a");
  assert.equal(
    out.line,
    "BLEU|nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 76.7 93.3/83.3/66.7/66.7 (BP = 1.000 ratio = 1.000 hyp_len = 15 ref_len = 15)",
  );
});

test("score --metric bleu with --tokenize intl --smooth floor --smooth-value 0.2 --lowercase", () => {
  const out = scoreJson(
    "--metric", "bleu", "--hyp", hyp, "--ref", ref1, "--ref", ref2,
    "--tokenize", "intl", "--smooth", "floor", "--smooth-value", "0.2", "--lowercase",
  );
  assert.equal(out.score, 75.27002881177415);
  assert.equal(out.signature, "nrefs:2|case:lc|eff:no|tok:intl|smooth:floor[0.20]|version:2.6.0");
  assert.deepEqual(out.counts, [13, 10, 6, 4]);
});

test("score --metric chrf --word-order 2 (chrF++), JSON and text", () => {
  const out = scoreJson("--metric", "chrf", "--word-order", "2", "--hyp", hyp, "--ref", ref1, "--ref", ref2);
  assert.equal(out.name, "chrF2++");
  assert.equal(out.score, 85.51093007167678);
  assert.equal(out.signature, "nrefs:2|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0");
  const run = glossa("score", "--metric", "chrf", "--word-order", "2", "--hyp", hyp, "--ref", ref1, "--ref", ref2);
  assert.equal(run.stdout, "chrF2++|nrefs:2|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0 = 85.5\n");
});

test("score --metric chrf, defaults", () => {
  const out = scoreJson("--metric", "chrf", "--hyp", hyp, "--ref", ref1);
  assert.equal(out.name, "chrF2");
  assert.equal(out.score, 62.41056748676128);
  assert.equal(out.signature, "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0");
});

function assertUsageError(args: string[], message: RegExp): void {
  const run = glossa(...args);
  assert.equal(run.status, 2, `expected exit 2 for ${args.join(" ")}; stderr: ${run.stderr}`);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, message);
  assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
}

test("bad arguments and files: message on stderr, exit 2, no stack trace", () => {
  const missing = join(dir, "missing.txt");
  assertUsageError(["score", "--metric", "bleu", "--hyp", missing, "--ref", ref1], /cannot read --hyp file .*missing\.txt/);
  assertUsageError(["score", "--metric", "bleu", "--hyp", hyp, "--ref", missing], /cannot read --ref file/);
  assertUsageError(["score", "--metric", "ter", "--hyp", hyp, "--ref", ref1], /--metric must be bleu or chrf/);
  assertUsageError(["score", "--hyp", hyp, "--ref", ref1], /--metric is required/);
  assertUsageError(["score", "--metric", "bleu", "--hyp", hyp], /--ref/);
  assertUsageError(["score", "--metric", "bleu", "--ref", ref1], /--hyp/);
  assertUsageError(["score", "--metric", "bleu", "--hyp", hyp, "--ref", ref1, "--tokenize", "moses"], /--tokenize must be one of/);
  assertUsageError(["score", "--metric", "bleu", "--hyp", hyp, "--ref", ref1, "--smooth", "lin"], /--smooth must be one of/);
  assertUsageError(["score", "--metric", "bleu", "--hyp", hyp, "--ref", ref1, "--smooth-value", "abc"], /--smooth-value expects a number/);
  assertUsageError(["score", "--metric", "chrf", "--hyp", hyp, "--ref", ref1, "--word-order", "-1"], /word-order/);
  assertUsageError(["score", "--metric", "chrf", "--hyp", hyp, "--ref", ref1, "--tokenize", "13a"], /--tokenize applies to --metric bleu only/);
  assertUsageError(["score", "--metric", "bleu", "--hyp", hyp, "--ref", ref1, "--frobnicate"], /frobnicate/);
  const short = join(dir, "short.txt");
  writeFileSync(short, "only one line\n");
  assertUsageError(["score", "--metric", "bleu", "--hyp", hyp, "--ref", short], /has 1 lines but --hyp file .* has 4/);
  const empty = join(dir, "empty.txt");
  writeFileSync(empty, "");
  assertUsageError(["score", "--metric", "chrf", "--hyp", empty, "--ref", empty], /has no lines/);
  const latin1 = join(dir, "latin1.txt");
  writeFileSync(latin1, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
  assertUsageError(["score", "--metric", "bleu", "--hyp", latin1, "--ref", latin1], /not valid UTF-8/);
  assertUsageError([], /usage: glossa <command>/);
  assertUsageError(["frobnicate"], /unknown command "frobnicate"/);
});

test("glossa --help and score --help print usage and exit 0", () => {
  const top = glossa("--help");
  assert.equal(top.status, 0);
  assert.match(top.stdout, /score/);
  const score = glossa("score", "--help");
  assert.equal(score.status, 0);
  assert.match(score.stdout, /usage: glossa score --metric bleu\|chrf --hyp FILE --ref FILE/);
});
