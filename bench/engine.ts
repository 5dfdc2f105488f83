/**
 * npm run bench:engine — engine throughput and latency on this machine: tokens/s and per-sentence latency
 * at batch 1, 8 and 32, greedy and beam 4, with the thread count and CPU features/kernels used.
 *
 * Model: GLOSSA_MODEL_DIR or models/glossa-mini-50 (sentences tokenized with its tokenizer); when absent,
 * a generated random mBART of mini size (GLOSSA_BENCH_SYNTH=1 forces it; its outputs run to max length).
 * Env: GLOSSA_THREADS, GLOSSA_BENCH_MAX_NEW (default 64), GLOSSA_KERNELS (avx512|avx2|generic).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { Engine } from "../src/engine/engine.js";
import type { GenerateRequest } from "../src/engine/types.js";
import { writeTinyModel } from "../test/fixtures/tiny-mbart.js";
import { quantizedBench } from "./quant.js";
import { BenchRecorder, type Measured } from "./record.js";
import { BENCH_SENTENCES } from "./sentences.js";

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

const SENTENCES = BENCH_SENTENCES;

interface Source {
  describe: string;
  modelDir: string;
  requests(n: number, beamSize: number, maxNew: number): Promise<GenerateRequest[]>;
  cleanup(): void;
}

async function realSource(modelDir: string): Promise<Source | undefined> {
  if (process.env.GLOSSA_BENCH_SYNTH === "1" || !existsSync(join(modelDir, "config.json"))) return undefined;
  if (!existsSync(join(modelDir, "tokenizer.json"))) return undefined;
  let mod: { MBartTokenizer?: { fromDir(d: string): Promise<{ encodeSource(t: string, c: string, m?: number): Int32Array; languageId(c: string): number }> } };
  try {
    const specifier = "../src/tokenizer/mbart.js";
    mod = (await import(specifier)) as typeof mod;
  } catch {
    return undefined;
  }
  if (!mod.MBartTokenizer) return undefined;
  const tok = await mod.MBartTokenizer.fromDir(modelDir);
  const de = tok.languageId("de_DE");
  return {
    describe: `${modelDir} (en->de, real sentences)`,
    modelDir,
    requests: async (n, beamSize, maxNew) =>
      Array.from({ length: n }, (_, i) => ({
        srcIds: tok.encodeSource(SENTENCES[i % SENTENCES.length]!, "en_XX"),
        forcedBosId: de,
        options: Engine.decodeOptions({ beamSize, maxNewTokens: maxNew }),
      })),
    cleanup: () => undefined,
  };
}

function synthSource(): Source {
  const tmp = mkdtempSync(join(tmpdir(), "glossa-bench-"));
  const dims = { vocabSize: 32000, dModel: 512, heads: 8, ffn: 2048, encoderLayers: 6, decoderLayers: 6, maxPositions: 256 };
  const modelDir = writeTinyModel(join(tmp, "synth"), { ...dims, scale: 1 });
  return {
    describe: `generated random mBART (d=512, 6+6 layers, ffn 2048, vocab 32000; outputs run to max length)`,
    modelDir,
    requests: async (n, beamSize, maxNew) =>
      Array.from({ length: n }, (_, i) => {
        const len = 12 + ((i * 7) % 20);
        const src = [250004, ...Array.from({ length: len }, (_, j) => 10 + ((i * 131 + j * 17) % 30000)), 2].map((x) => Math.min(x, 31999));
        return { srcIds: Int32Array.from(src), forcedBosId: 31990, options: Engine.decodeOptions({ beamSize, maxNewTokens: maxNew }) };
      }),
    cleanup: () => rmSync(tmp, { recursive: true, force: true }),
  };
}

async function main(): Promise<void> {
  const root = repoRoot();
  const modelDir = resolve(root, process.env.GLOSSA_MODEL_DIR ?? "models/glossa-mini-50");
  const source = (await realSource(modelDir)) ?? synthSource();
  const threads = process.env.GLOSSA_THREADS ? Number(process.env.GLOSSA_THREADS) : undefined;
  const maxNew = Number(process.env.GLOSSA_BENCH_MAX_NEW ?? 64);
  const t0 = performance.now();
  const engine = await Engine.load({ modelDir: source.modelDir, threads, kernels: process.env.GLOSSA_KERNELS, kvMemoryMiB: 512 });
  const loadS = (performance.now() - t0) / 1000;
  const i = engine.info;
  console.log(`model: ${source.describe}`);
  console.log(`d_model ${i.dModel}, layers ${i.encoderLayers}+${i.decoderLayers}, vocab ${i.vocabSize}, precision ${i.precision}, load ${loadS.toFixed(2)} s`);
  console.log(`threads: ${i.threads}  kernels: ${i.kernels}  cpu features: ${i.cpuFeatures.join(" ")}`);
  console.log(`max new tokens: ${maxNew}`);
  console.log("");
  // warm-up (first-touch allocations, thread start)
  await engine.generate(await source.requests(4, 4, 8));
  // Every row also goes into the registry (bench_results) for the dashboard's throughput chart.
  const recorder = new BenchRecorder("engine", basename(source.modelDir));
  const measured: Measured = source.modelDir === modelDir ? { kind: "reference", modelDir } : { kind: "other", name: "synthetic mBART" };
  console.log("mode     batch  sentences  out tokens  wall s   tokens/s  latency mean s  latency p50 s  latency max s");
  for (const beamSize of [1, 4]) {
    for (const batch of [1, 8, 32]) {
      // batch 1: sentences one after another; batch b: b sentences submitted together, a few rounds
      const rounds = batch === 1 ? 8 : batch === 8 ? 3 : 2;
      const latencies: number[] = [];
      let tokens = 0;
      const start = performance.now();
      for (let r = 0; r < rounds; r++) {
        const reqs = await source.requests(batch, beamSize, maxNew);
        const t = performance.now();
        const ids = reqs.map((_, k) => r * 1000 + k);
        reqs.forEach((q, k) => engine.add(ids[k]!, q));
        let left = reqs.length;
        while (left > 0) {
          const out = await engine.step();
          for (const f of out.finished) {
            latencies.push((performance.now() - t) / 1000);
            tokens += f.result.ids.length - 1;
            left--;
          }
          if (out.failed.length) throw new Error(out.failed.map((f) => f.error).join("; "));
        }
      }
      const wall = (performance.now() - start) / 1000;
      latencies.sort((a, b) => a - b);
      recorder.add({ measured, mode: beamSize === 1 ? "greedy" : `beam${beamSize}`, batch, sentences: latencies.length, tokens, wallSeconds: wall, latencies, threads: i.threads, kernels: i.kernels });
      const mean = latencies.reduce((a, b) => a + b, 0) / latencies.length;
      const p50 = latencies[Math.floor(latencies.length / 2)]!;
      console.log(
        `${(beamSize === 1 ? "greedy" : "beam4").padEnd(8)} ${String(batch).padStart(5)}  ${String(latencies.length).padStart(9)}  ${String(tokens).padStart(10)}  ${wall.toFixed(2).padStart(6)}  ${(tokens / wall).toFixed(1).padStart(9)}  ${mean.toFixed(3).padStart(14)}  ${p50.toFixed(3).padStart(13)}  ${latencies.at(-1)!.toFixed(3).padStart(13)}`,
      );
    }
  }
  await engine.dispose();
  if (source.modelDir === modelDir) await quantizedBench(modelDir, (n) => source.requests(n, 1, maxNew), threads, recorder);
  source.cleanup();
  console.log("");
  console.log(await recorder.save());
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
