/**
 * Decode throughput of every engine file in a folder (default var/engines) against the float engine, greedy,
 * at batch 1 (8 sentences one after another) and batch 16, on the bench's English sentences -> German
 * (throughput does not depend on the calibration language). Best of two runs each.
 *
 *   npx tsx bench/engine-files.ts [dir]
 */
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";

import { Engine } from "../src/engine/engine.js";
import type { GenerateRequest } from "../src/engine/types.js";
import { MBartTokenizer } from "../src/tokenizer/mbart.js";
import { BENCH_SENTENCES } from "./sentences.js";

const SENTENCES = BENCH_SENTENCES;

async function rate(e: Engine, reqs: GenerateRequest[], batch: number): Promise<number> {
  let best = 0;
  for (let r = 0; r < 2; r++) {
    let tokens = 0;
    const t0 = performance.now();
    for (let i = 0; i < reqs.length; i += batch) for (const x of await e.generate(reqs.slice(i, i + batch))) tokens += x.ids.length - 1;
    best = Math.max(best, tokens / ((performance.now() - t0) / 1000));
  }
  return best;
}

const modelDir = resolve(process.env.GLOSSA_MODEL_DIR ?? "models/glossa-mini-50");
const dir = resolve(process.argv[2] ?? "var/engines");
const tok = await MBartTokenizer.fromDir(modelDir);
const de = tok.languageId("de_DE");
const reqs = Array.from({ length: 16 }, (_, i) => ({
  srcIds: tok.encodeSource(SENTENCES[i % SENTENCES.length]!, "en_XX"),
  forcedBosId: de,
  options: Engine.decodeOptions({ beamSize: 1, maxNewTokens: 64 }),
}));
const measure = async (enginePath?: string): Promise<[number, number]> => {
  const e = await Engine.load({ modelDir, ...(enginePath ? { enginePath } : {}), threads: 2, kvMemoryMiB: 256 });
  try {
    await e.generate(reqs.slice(0, 2));
    return [await rate(e, reqs.slice(0, 8), 1), await rate(e, reqs, 16)];
  } finally {
    await e.dispose();
  }
};
// The float engine is measured again next to every engine file (the ratio uses the adjacent float figures),
// so that load from other processes on a shared machine skews the ratios less.
console.log("| engine file | batch 1 tok/s (float) | x float | batch 16 tok/s (float) | x float |");
console.log("| --- | --- | --- | --- | --- |");
for (const f of readdirSync(dir).filter((x) => x.endsWith(".safetensors")).sort()) {
  const [f1, f16] = await measure();
  const [a, b] = await measure(join(dir, f));
  console.log(`| ${f} | ${a.toFixed(1)} (${f1.toFixed(1)}) | ${(a / f1).toFixed(2)} | ${b.toFixed(1)} (${f16.toFixed(1)}) | ${(b / f16).toFixed(2)} |`);
}
