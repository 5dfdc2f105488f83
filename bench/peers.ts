/**
 * npm run bench:peers — Glossa's float, INT8 and AWQ-INT4 engines against transformers.js (onnxruntime-node) on
 * the same checkpoint exported to ONNX (fp32 and int8, bench/peers/onnx-model.ts), side by side in one process:
 * en->de, greedy, up to 64 new tokens, the first N FLORES-200 dev sentences (default 200), batch 1 / 8 / 32,
 * 2 threads on each side, engines taken in turn inside every round (alternating), R rounds (default 2).
 * Prints tokens/s with the load average next to each figure, ratios to the Glossa float engine, and how many
 * outputs equal the Glossa float engine's.
 *
 * Both sides get the same token ids (Glossa's tokenizer; transformers.js is handed input_ids and the attention
 * mask, right-padded). transformers.js 4.3's batched generate keeps decoding rows that have finished until the
 * whole batch is done: its tokens are counted only up to each row's </s> (the wasted steps still cost it time).
 *
 * Env: GLOSSA_PEERS_N (sentences), GLOSSA_PEERS_ROUNDS, GLOSSA_PEERS_BATCHES (e.g. "1,8,32"), GLOSSA_THREADS (2),
 * GLOSSA_BENCH_INT8 / GLOSSA_BENCH_INT4 (engine files; default: the newest en int8 / W4A8 awq-int4 engine in
 * var/engines or GLOSSA_ENGINES_DIR, found by its header, built here from the en calibration set when absent), GLOSSA_PEERS_EXTRA ("name=file,name=file": more Glossa
 * engine files in the same rounds, e.g. an --lm-head int8 or a W4A16 build), GLOSSA_PEERS_SKIP_TJS=1 (Glossa only).
 */
import { existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";

import { buildCalibratedEngine } from "../src/calib/build.js";
import { corporaDir, enginesDir } from "../src/config.js";
import { Engine } from "../src/engine/engine.js";
import type { GenerateRequest } from "../src/engine/types.js";
import { MBartTokenizer } from "../src/tokenizer/mbart.js";
import { findEngineFile } from "./peers/find-engine.js";
import { ensureOnnxModel } from "./peers/onnx-model.js";

const MAX_NEW = 64;
const N = Number(process.env.GLOSSA_PEERS_N ?? 200);
const ROUNDS = Number(process.env.GLOSSA_PEERS_ROUNDS ?? 2);
const BATCHES = (process.env.GLOSSA_PEERS_BATCHES ?? "1,8,32").split(",").map(Number);
const THREADS = Number(process.env.GLOSSA_THREADS ?? 2);
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(" ");

interface Runner {
  name: string;
  /** Token sequences ([decoder start, ..., </s>]) for a batch of sources. */
  run(batch: Int32Array[]): Promise<number[][]>;
  close(): Promise<void>;
}

const modelDir = resolve(process.env.GLOSSA_MODEL_DIR ?? "models/glossa-mini-50");
const modelName = modelDir.split("/").pop()!;
const flores = join(corporaDir(), "flores200", "dev", "en.dev");
if (!existsSync(flores)) {
  console.log(`bench:peers skipped: ${flores} is not there (FLORES-200 dev from ../shared/corpora)`);
  process.exit(0);
}
const tok = await MBartTokenizer.fromDir(modelDir);
const deId = tok.languageId("de_DE");
const eos = 2;
const sources = readFileSync(flores, "utf8").split("\n").filter(Boolean).slice(0, N).map((l) => tok.encodeSource(l, "en_XX"));
const options = Engine.decodeOptions({ beamSize: 1, maxNewTokens: MAX_NEW });

async function glossa(name: string, enginePath?: string): Promise<Runner> {
  const e = await Engine.load({ modelDir, ...(enginePath ? { enginePath } : {}), threads: THREADS, kvMemoryMiB: 512 });
  return {
    name,
    run: async (batch) => (await e.generate(batch.map((srcIds): GenerateRequest => ({ srcIds, forcedBosId: deId, options })))).map((r) => [...r.ids]),
    close: () => e.dispose(),
  };
}

async function engineFile(recipe: "int8" | "awq-int4", env: string): Promise<string> {
  const given = process.env[env];
  if (given) return given;
  const dir = enginesDir();
  const found = findEngineFile(dir, { lang: "en", recipe, ...(recipe === "awq-int4" ? { w4a8: true } : {}) });
  if (found) return found;
  console.log(`building an en ${recipe} engine in ${dir} (glossa calibrate's build step, en calibration set) ...`);
  return (await buildCalibratedEngine({ modelDir, lang: "en", recipe, outDir: dir, threads: THREADS })).path;
}

async function transformersJs(name: string, dir: string, dtype: "fp32" | "q8"): Promise<Runner> {
  const tjs = await import("@huggingface/transformers");
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.localModelPath = dirname(dir) + "/";
  const model = await tjs.AutoModelForSeq2SeqLM.from_pretrained(dir.split("/").pop()!, {
    dtype,
    device: "cpu",
    use_external_data_format: true,
    session_options: { intraOpNumThreads: THREADS, interOpNumThreads: 1 },
  });
  return {
    name,
    run: async (batch) => {
      const len = Math.max(...batch.map((b) => b.length));
      const ids = new BigInt64Array(batch.length * len).fill(1n); // pad id 1, right padding
      const mask = new BigInt64Array(batch.length * len);
      batch.forEach((b, r) => b.forEach((v, i) => ((ids[r * len + i] = BigInt(v)), (mask[r * len + i] = 1n))));
      const out = (await model.generate({
        inputs: new tjs.Tensor("int64", ids, [batch.length, len]),
        attention_mask: new tjs.Tensor("int64", mask, [batch.length, len]),
        forced_bos_token_id: deId,
        max_new_tokens: MAX_NEW,
        num_beams: 1,
        do_sample: false,
      } as never)) as { tolist(): bigint[][] };
      // Rows that finished early keep being decoded with the rest: keep each row only up to its </s>.
      return out.tolist().map((row) => {
        const r = row.map(Number);
        const end = r.indexOf(eos, 1);
        return end < 0 ? r : r.slice(0, end + 1);
      });
    },
    close: async () => {
      await (model as unknown as { dispose(): Promise<void> }).dispose();
    },
  };
}

const runners: Runner[] = [await glossa("glossa float")];
const int8 = await engineFile("int8", "GLOSSA_BENCH_INT8");
const int4 = await engineFile("awq-int4", "GLOSSA_BENCH_INT4");
runners.push(await glossa("glossa int8", int8), await glossa("glossa awq-int4", int4));
const notes: string[] = [`glossa int8: ${int8}`, `glossa awq-int4: ${int4}`];
for (const spec of (process.env.GLOSSA_PEERS_EXTRA ?? "").split(",").filter(Boolean)) {
  const [name, file] = spec.split("=") as [string, string | undefined];
  if (!file || !existsSync(file)) throw new Error(`GLOSSA_PEERS_EXTRA: ${spec}: expected name=engine-file`);
  runners.push(await glossa(`glossa ${name}`, file));
  notes.push(`glossa ${name}: ${file}`);
}
if (process.env.GLOSSA_PEERS_SKIP_TJS !== "1") {
  const onnx = ensureOnnxModel(modelDir);
  if ("skip" in onnx) notes.push(`transformers.js skipped: ${onnx.skip}`);
  else {
    runners.splice(1, 0, await transformersJs("transformers.js fp32", onnx.dir, "fp32"));
    runners.splice(3, 0, await transformersJs("transformers.js int8", onnx.dir, "q8"));
    const v = onnx.manifest.validation;
    notes.push(
      `transformers.js ${onnx.dir} (export: torch ${onnx.manifest.versions.torch}, transformers ${onnx.manifest.versions.transformers}, onnxruntime ${onnx.manifest.versions.onnxruntime}; ` +
        `validated on the GPU machine, ${v.cases} golden cases: see NOTES.md "Peer benchmark")`,
      ...onnx.notes,
    );
  }
}
console.log(`bench:peers: en->de, greedy, max ${MAX_NEW} new tokens, ${sources.length} FLORES-200 dev sentences, ${THREADS} threads each, ${ROUNDS} rounds (engines alternating inside each)`);
for (const n of notes) console.log(`  ${n}`);
console.log("  transformers.js rows are counted up to their </s>: its batched generate keeps decoding finished rows until the batch is done.");
console.log(`  load average at start: ${load()}`);

// Warm-up (first-call costs: page faults, ORT session optimisation).
for (const r of runners) await r.run(sources.slice(0, 2));

const reference = new Map<number, number[][]>();
const table: string[] = [];
for (const batch of BATCHES) {
  const tokens = runners.map(() => 0);
  const seconds = runners.map(() => 0);
  const outputs: number[][][] = runners.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < runners.length; k++) {
      const r = runners[k]!;
      const t0 = performance.now();
      const outs: number[][] = [];
      for (let i = 0; i < sources.length; i += batch) outs.push(...(await r.run(sources.slice(i, i + batch))));
      seconds[k]! += (performance.now() - t0) / 1000;
      tokens[k]! += outs.reduce((a, o) => a + o.length - 1, 0);
      outputs[k] = outs;
    }
  }
  if (!reference.has(batch)) reference.set(batch, outputs[0]!);
  const base = tokens[0]! / seconds[0]!;
  const floatRef = outputs[0]!;
  for (let k = 0; k < runners.length; k++) {
    const rate = tokens[k]! / seconds[k]!;
    const same = outputs[k]!.filter((o, i) => JSON.stringify(o) === JSON.stringify(floatRef[i])).length;
    const line = `| ${runners[k]!.name} | ${batch} | ${rate.toFixed(1)} | ${(rate / base).toFixed(2)} | ${same}/${sources.length} | ${load()} |`;
    table.push(line);
    console.log(line);
  }
}
console.log("");
console.log("| engine | batch | tokens/s | x glossa float | outputs = glossa float | load average (1/5/15 min) |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const l of table) console.log(l);
for (const r of runners) await r.close();
