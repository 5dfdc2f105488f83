/**
 * The quantized-engine section of `npm run bench:engine`: decode throughput of calibrated INT8 and
 * AWQ-INT4 engine files against the float engine, greedy, at batch 1 (sentences one after another) and
 * batch 16 (submitted together), with the ratio.
 *
 * Engine files: GLOSSA_BENCH_INT8 / GLOSSA_BENCH_INT4 when set, else var/engines/<model>-en-{int8,awq-int4}.safetensors
 * when present (built by `glossa calibrate`), else small ones built here from the bench sentences with
 * the float engine's own translations as teacher-forced targets (a few seconds each).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";

import { buildCalibratedEngine } from "../src/calib/build.js";
import { Engine } from "../src/engine/engine.js";
import type { GenerateRequest } from "../src/engine/types.js";
import type { BenchRecorder, Measured } from "./record.js";

interface Rate {
  tokens: number;
  seconds: number;
}

async function decodeRate(engine: Engine, reqs: GenerateRequest[], batch: number): Promise<Rate> {
  let tokens = 0;
  const t0 = performance.now();
  for (let i = 0; i < reqs.length; i += batch) {
    const out = await engine.generate(reqs.slice(i, i + batch));
    for (const r of out) tokens += r.ids.length - 1;
  }
  return { tokens, seconds: (performance.now() - t0) / 1000 };
}

export async function quantizedBench(modelDir: string, requests: (n: number) => Promise<GenerateRequest[]>, threads?: number, recorder?: BenchRecorder): Promise<void> {
  const root = resolve(modelDir, "..", "..");
  const model = basename(resolve(modelDir));
  const tmp = mkdtempSync(join(tmpdir(), "glossa-bench-quant-"));
  try {
    const reqs16 = await requests(16);
    const float = await Engine.load({ modelDir, threads, kvMemoryMiB: 512 });
    // Teacher-forced examples from the float engine's own output (no corpora needed).
    const own = await float.generate(reqs16);
    const examples = reqs16.map((r, i) => ({ src: r.srcIds, labels: Int32Array.from(own[i]!.ids.slice(1)) }));
    const files: Record<string, string> = {};
    for (const [recipe, env] of [["int8", "GLOSSA_BENCH_INT8"], ["awq-int4", "GLOSSA_BENCH_INT4"]] as const) {
      const given = process.env[env] ?? join(root, "var", "engines", `${model}-en-${recipe}.safetensors`);
      if (existsSync(given)) files[recipe] = given;
      else {
        const b = await buildCalibratedEngine({ modelDir, lang: "en", recipe, setName: "bench", examples, outDir: tmp, threads, recipeOptions: { sensitivitySentences: 4 } });
        files[recipe] = b.path;
      }
    }
    const engines: Array<[string, Engine]> = [["float", float]];
    for (const [recipe, path] of Object.entries(files)) engines.push([recipe, await Engine.load({ modelDir, enginePath: path, threads, kvMemoryMiB: 512 })]);
    console.log("");
    console.log("quantized engines (greedy decode tokens/s; ratio = engine / float):");
    for (const [name, path] of Object.entries(files)) console.log(`  ${name}: ${path}`);
    console.log("engine     batch  tokens  wall s   tokens/s  ratio");
    const base = new Map<number, number>();
    for (const batch of [1, 16]) {
      for (const [name, e] of engines) {
        await decodeRate(e, reqs16.slice(0, 2), batch); // warm-up
        const reqs = batch === 1 ? reqs16.slice(0, 8) : reqs16;
        const best = [await decodeRate(e, reqs, batch), await decodeRate(e, reqs, batch)].sort((a, b) => b.tokens / b.seconds - a.tokens / a.seconds)[0]!;
        const rate = best.tokens / best.seconds;
        const measured: Measured = name === "float" ? { kind: "reference", modelDir } : { kind: "file", path: files[name]! };
        recorder?.add({ bench: "engine-quant", measured, mode: "greedy", batch, sentences: reqs.length, tokens: best.tokens, wallSeconds: best.seconds, threads: e.info.threads, kernels: e.info.kernels });
        if (name === "float") base.set(batch, rate);
        console.log(
          `${name.padEnd(10)} ${String(batch).padStart(5)}  ${String(best.tokens).padStart(6)}  ${best.seconds.toFixed(2).padStart(6)}  ${rate.toFixed(1).padStart(9)}  ${(rate / base.get(batch)!).toFixed(2).padStart(5)}x`,
        );
      }
    }
    for (const [, e] of engines) await e.dispose();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
