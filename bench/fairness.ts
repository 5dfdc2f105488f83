/**
 * Per-language fairness of speed: for each of the 10 served languages, the same first N FLORES-200 dev sentences
 * (the multi-way parallel set) translated into English (English into German), greedy, up to 64 new tokens, with
 * the float engine and an INT8 engine, at batch 1 (one after another) and batch 32. Languages and engines are
 * taken in turn inside each round. Per language and engine: generated tokens/s, milliseconds per source
 * character (wall time / characters of source text), milliseconds per source token, source tokens per
 * character, generated tokens per sentence, and the slowest/fastest ratio of each normalisation.
 *
 *   npx tsx bench/fairness.ts            (or node dist/bench/fairness.js after npm run build)
 *
 * Env: GLOSSA_FAIRNESS_N (sentences, default 100), GLOSSA_FAIRNESS_ROUNDS (1), GLOSSA_THREADS (2),
 * GLOSSA_FAIRNESS_INT8_DIR (where INT8 engine files are looked up by their header; default var/engines or
 * GLOSSA_ENGINES_DIR; a language without its own INT8 engine uses the English one, built from the en calibration
 * set when absent).
 */
import { existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";

import { buildCalibratedEngine } from "../src/calib/build.js";
import { corporaDir, enginesDir } from "../src/config.js";
import { Engine } from "../src/engine/engine.js";
import { LANGUAGES } from "../src/languages.js";
import { MBartTokenizer } from "../src/tokenizer/mbart.js";
import { findEngineFile } from "./peers/find-engine.js";

const N = Number(process.env.GLOSSA_FAIRNESS_N ?? 100);
const ROUNDS = Number(process.env.GLOSSA_FAIRNESS_ROUNDS ?? 1);
const THREADS = Number(process.env.GLOSSA_THREADS ?? 2);
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(" ");
const modelDir = resolve(process.env.GLOSSA_MODEL_DIR ?? "models/glossa-mini-50");
const engDir = resolve(process.env.GLOSSA_FAIRNESS_INT8_DIR ?? enginesDir());

const floresDir = join(corporaDir(), "flores200", "dev");
if (!existsSync(join(floresDir, "en.dev"))) {
  console.log(`fairness bench skipped: ${floresDir} is not there`);
  process.exit(0);
}
const tok = await MBartTokenizer.fromDir(modelDir);
const options = Engine.decodeOptions({ beamSize: 1, maxNewTokens: 64 });

interface Lang {
  iso: string;
  chars: number;
  srcTokens: number;
  reqs: { srcIds: Int32Array; forcedBosId: number; options: typeof options }[];
  int8: string;
}
const langs: Lang[] = [];
let enInt8 = findEngineFile(engDir, { lang: "en", recipe: "int8" });
if (!enInt8) {
  console.log(`building an en INT8 engine in ${engDir} (en calibration set) ...`);
  enInt8 = (await buildCalibratedEngine({ modelDir, lang: "en", recipe: "int8", outDir: engDir, threads: THREADS })).path;
}
for (const l of LANGUAGES) {
  const lines = readFileSync(join(floresDir, `${l.iso}.dev`), "utf8").split("\n").filter(Boolean).slice(0, N);
  const tgt = tok.languageId(l.iso === "en" ? "de_DE" : "en_XX");
  const reqs = lines.map((s) => ({ srcIds: tok.encodeSource(s, l.mbart), forcedBosId: tgt, options }));
  const own = findEngineFile(engDir, { lang: l.iso, recipe: "int8" });
  langs.push({
    iso: l.iso,
    chars: lines.reduce((a, s) => a + [...s].length, 0),
    srcTokens: reqs.reduce((a, r) => a + r.srcIds.length - 2, 0), // without the language code and </s>
    reqs,
    int8: own ?? enInt8,
  });
}

interface Cell {
  tokens: number;
  seconds: number;
}
const engines = new Map<string, Engine>();
const engineFor = async (path: string | undefined): Promise<Engine> => {
  const key = path ?? "float";
  if (!engines.has(key)) engines.set(key, await Engine.load({ modelDir, ...(path ? { enginePath: path } : {}), threads: THREADS, kvMemoryMiB: 512 }));
  return engines.get(key)!;
};
const cells = new Map<string, Cell>();
console.log(`fairness bench: ${N} FLORES-200 dev sentences per language (xx->en, en->de), greedy, max 64 new tokens, ${THREADS} threads, ${ROUNDS} round(s); load ${load()}`);
for (const l of langs) console.log(`  ${l.iso}: INT8 engine ${l.int8}`);
for (let round = 0; round < ROUNDS; round++)
  for (const batch of [1, 32])
    for (const l of langs)
      for (const kind of ["float", "int8"] as const) {
        const e = await engineFor(kind === "float" ? undefined : l.int8);
        await e.generate(l.reqs.slice(0, 1)); // warm-up
        const t0 = performance.now();
        let tokens = 0;
        for (let i = 0; i < l.reqs.length; i += batch) for (const r of await e.generate(l.reqs.slice(i, i + batch))) tokens += r.ids.length - 1;
        const key = `${l.iso}|${kind}|${batch}`;
        const c = cells.get(key) ?? { tokens: 0, seconds: 0 };
        c.tokens += tokens;
        c.seconds += (performance.now() - t0) / 1000;
        cells.set(key, c);
        console.log(`  ${key}: ${(tokens / ((performance.now() - t0) / 1000)).toFixed(1)} tok/s (load ${load()})`);
      }

console.log("");
console.log("| lang | src chars/sent | src tokens/char | out tokens/sent | engine | batch | tokens/s | ms/char | ms/src token |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
const summary: string[] = [];
for (const kind of ["float", "int8"] as const)
  for (const batch of [1, 32]) {
    const perChar: Array<[string, number]> = [];
    const perTok: Array<[string, number]> = [];
    const rate: Array<[string, number]> = [];
    for (const l of langs) {
      const c = cells.get(`${l.iso}|${kind}|${batch}`)!;
      const s = c.seconds / ROUNDS;
      const msChar = (1000 * s) / l.chars;
      const msTok = (1000 * s) / l.srcTokens;
      perChar.push([l.iso, msChar]);
      perTok.push([l.iso, msTok]);
      rate.push([l.iso, c.tokens / c.seconds]);
      console.log(
        `| ${l.iso} | ${(l.chars / N).toFixed(1)} | ${(l.srcTokens / l.chars).toFixed(3)} | ${(c.tokens / ROUNDS / N).toFixed(1)} | ${kind} | ${batch} | ${(c.tokens / c.seconds).toFixed(1)} | ${msChar.toFixed(3)} | ${msTok.toFixed(3)} |`,
      );
    }
    const spread = (xs: Array<[string, number]>, higherIsSlower: boolean): string => {
      const sorted = [...xs].sort((a, b) => a[1] - b[1]);
      const [lo, hi] = [sorted[0]!, sorted[sorted.length - 1]!];
      return higherIsSlower ? `${(hi[1] / lo[1]).toFixed(2)}x (slowest ${hi[0]}, fastest ${lo[0]})` : `${(hi[1] / lo[1]).toFixed(2)}x (fastest ${hi[0]}, slowest ${lo[0]})`;
    };
    summary.push(`${kind} batch ${batch}: ms/char ${spread(perChar, true)}; ms/source token ${spread(perTok, true)}; tokens/s ${spread(rate, false)}`);
  }
console.log("");
for (const s of summary) console.log(s);
console.log(`load average at the end: ${load()}`);
for (const e of engines.values()) await e.dispose();
