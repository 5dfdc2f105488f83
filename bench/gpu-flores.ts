/**
 * FLORES-200 dev through the CUDA engine, checked against the CPU engine (issue 15 item 4). The GPU machine has no
 * Node.js, so the run has three parts:
 *
 *   node dist/bench/gpu-flores.js prepare [--pairs en-de,de-en,en-zh,zh-en] [--limit N] [--modes greedy[,beam4]]
 *        [--out .dev/flores-gpu/cases.json] [--threads N]
 *     here: tokenizes each direction's sources, translates them with the CPU engine (evaluation's decoding: greedy,
 *     200 new tokens) and writes the cases file (source ids, forced BOS, the CPU's ids and score per mode). The file
 *     holds token ids derived from the corpora: keep it in an ignored folder, never commit it.
 *   native/tools/gpu/run-device.sh flores   (on the GPU machine; FLORES_CASES=path)
 *     `glossa_gpu translate` in FP32 and FP16 compute, and Hugging Face FP16 `generate` (hf_translate.py), on the
 *     same ids; JSON lines back.
 *   node dist/bench/gpu-flores.js report --cases F --gpu gpu.jsonl [--hf hf.jsonl]
 *     here: per direction and compute mode, sequences identical to the CPU engine's (and to HF FP16's), where the
 *     first differences are (position, and the two sequences' scores), and BLEU / chrF++ of each output against
 *     the references, with the difference to the CPU engine's.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { corporaDir, evalDir, modelDir } from "../src/config.js";
import { Translator } from "../src/engine/translator.js";
import { MBartTokenizer } from "../src/tokenizer/mbart.js";
import { loadEvalSet, readManifests, selectEntries, type EvalSetEntry, type LoadedEvalSet } from "../src/eval/manifest.js";
import { scoreRun } from "../src/eval/runner.js";

interface ModeResult {
  ids: number[];
  score: number;
}
interface Case {
  id: string;
  pair: string;
  line: number;
  src_ids: number[];
  forced_bos_id: number;
  greedy?: ModeResult;
  beam4?: ModeResult;
}
interface CasesFile {
  model: string;
  decode: { maxNewTokens: number };
  cases: Case[];
}
interface OutputLine {
  compute: string;
  mode: "greedy" | "beam4";
  id: string;
  ids: number[];
  score?: number;
}

const MODES = ["greedy", "beam4"] as const;
const MAX_NEW_TOKENS = 200;

function entriesFor(pairs: string[]): EvalSetEntry[] {
  return selectEntries(readManifests(evalDir()), ["flores200-dev"], pairs);
}

async function prepare(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      pairs: { type: "string", default: "en-de,de-en,en-zh,zh-en" },
      limit: { type: "string" },
      modes: { type: "string", default: "greedy" },
      out: { type: "string", default: ".dev/flores-gpu/cases.json" },
      threads: { type: "string" },
    },
  });
  const modes = values.modes!.split(",") as (typeof MODES)[number][];
  for (const m of modes) if (!MODES.includes(m)) throw new Error(`--modes: ${m} is not greedy or beam4`);
  const limit = values.limit !== undefined ? Number(values.limit) : undefined;
  const translator = await Translator.load({ modelDir: modelDir(), ...(values.threads ? { threads: Number(values.threads) } : {}) });
  const cases: Case[] = [];
  try {
    for (const entry of entriesFor(values.pairs!.split(","))) {
      const set = loadEvalSet(corporaDir(), entry, limit);
      const { src, tgt } = entry.direction;
      const forcedBos = translator.tokenizer.languageId(tgt.mbart);
      const part: Case[] = set.sources.map((text, line) => ({
        id: `${entry.pair}:${line}`,
        pair: entry.pair,
        line,
        src_ids: Array.from(translator.tokenizer.encodeSource(text, src.mbart, translator.engine.info.maxSourceTokens)),
        forced_bos_id: forcedBos,
      }));
      for (const mode of modes) {
        const t0 = Date.now();
        const out = await translator.translateDetailed(set.sources, src, tgt, { beamSize: mode === "beam4" ? 4 : 1, maxNewTokens: MAX_NEW_TOKENS }, "direct");
        out.forEach((d, i) => (part[i]![mode] = { ids: Array.from(d.result.ids), score: d.result.score }));
        console.log(`${entry.pair} ${mode}: ${set.sources.length} lines on the CPU in ${((Date.now() - t0) / 1000).toFixed(1)} s (load ${loadavg()[0]!.toFixed(2)})`);
      }
      cases.push(...part);
    }
  } finally {
    await translator.close();
  }
  mkdirSync(dirname(values.out!), { recursive: true });
  const file: CasesFile = { model: modelDir(), decode: { maxNewTokens: MAX_NEW_TOKENS }, cases };
  writeFileSync(values.out!, JSON.stringify(file));
  console.log(`${cases.length} cases -> ${values.out}`);
}

function readLines(path: string): OutputLine[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as OutputLine);
}

function firstDifference(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

async function report(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { cases: { type: "string" }, gpu: { type: "string" }, hf: { type: "string" } } });
  if (!values.cases || !values.gpu) throw new Error("report needs --cases and --gpu");
  const file = JSON.parse(readFileSync(values.cases, "utf8")) as CasesFile;
  const outputs = [...readLines(values.gpu), ...(values.hf ? readLines(values.hf) : [])];
  const byKey = new Map<string, OutputLine>();
  for (const o of outputs) byKey.set(`${o.compute}|${o.mode}|${o.id}`, o);
  const computes = [...new Set(outputs.map((o) => o.compute))];
  const pairs = [...new Set(file.cases.map((c) => c.pair))];
  // Only decoding here: the tokenizer, not an engine.
  const tokenizer = await MBartTokenizer.fromDir(modelDir());
  const sets = new Map<string, LoadedEvalSet>();
  for (const entry of entriesFor(pairs)) sets.set(entry.pair, loadEvalSet(corporaDir(), entry));
  const rows: string[] = [];
  const diffs: string[] = [];
  for (const mode of MODES) {
    for (const pair of pairs) {
      const cases = file.cases.filter((c) => c.pair === pair && c[mode]);
      if (cases.length === 0) continue;
      const set = sets.get(pair)!;
      const limited: LoadedEvalSet = { ...set, sources: set.sources.slice(0, cases.length), references: set.references.slice(0, cases.length) };
      const cpuHyps = cases.map((c) => tokenizer.decode(c[mode]!.ids));
      const cpu = scoreRun(limited, cpuHyps);
      rows.push(`| ${pair} | ${mode} | cpu f32 | ${cases.length} | - | - | ${cpu.bleu.score.toFixed(2)} | ${cpu.chrf.score.toFixed(2)} | - |`);
      for (const compute of computes) {
        const outs = cases.map((c) => byKey.get(`${compute}|${mode}|${c.id}`));
        if (outs.some((o) => !o)) continue;
        let sameCpu = 0;
        let sameHf = 0;
        let hfCount = 0;
        outs.forEach((o, i) => {
          const c = cases[i]!;
          const want = c[mode]!;
          if (o!.ids.join() === want.ids.join()) sameCpu++;
          else if (!compute.startsWith("hf") && diffs.length < 60) {
            const at = firstDifference(o!.ids, want.ids);
            diffs.push(`| ${compute} | ${mode} | ${c.id} | ${at} | ${want.ids[at] ?? "end"} -> ${o!.ids[at] ?? "end"} | ${want.score.toFixed(5)} | ${o!.score?.toFixed(5) ?? "-"} |`);
          }
          const hf = byKey.get(`hf-f16|${mode}|${c.id}`);
          if (hf && !compute.startsWith("hf")) {
            hfCount++;
            if (hf.ids.join() === o!.ids.join()) sameHf++;
          }
        });
        const hyps = outs.map((o) => tokenizer.decode(o!.ids));
        const s = scoreRun(limited, hyps);
        const hfCol = hfCount > 0 ? `${sameHf}/${hfCount}` : "-";
        const delta = `${(s.bleu.score - cpu.bleu.score).toFixed(2)} / ${(s.chrf.score - cpu.chrf.score).toFixed(2)}`;
        rows.push(`| ${pair} | ${mode} | ${compute} | ${cases.length} | ${sameCpu}/${cases.length} | ${hfCol} | ${s.bleu.score.toFixed(2)} | ${s.chrf.score.toFixed(2)} | ${delta} |`);
      }
    }
  }
  console.log("| direction | mode | engine | lines | = CPU ids | = HF fp16 ids | BLEU | chrF++ | Δ BLEU / chrF++ vs CPU |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
  if (diffs.length > 0) {
    console.log("\nFirst differences from the CPU engine (position in the output ids; CPU token -> GPU token; each sequence's score):");
    console.log("| engine | mode | case | position | token | CPU score | GPU score |\n|---|---|---|---|---|---|---|");
    for (const d of diffs) console.log(d);
  }
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === "prepare") await prepare(rest);
else if (cmd === "report") await report(rest);
else {
  console.error("usage: gpu-flores.js prepare [...] | report --cases F --gpu F [--hf F]");
  process.exit(2);
}
