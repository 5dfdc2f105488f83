/**
 * npm run bench:load — what the non-finite weight check costs at load (issue 9 item 2), on the full-size
 * synthetic facebook/mbart-large-50-many-to-many-mmt checkpoint (tools/synthetic-mbart, generated into var/ when
 * absent; GLOSSA_BENCH_LOAD_MODEL=DIR uses another model folder).
 *
 * Loads alternate between the check on and off (ABBA order, after one warm-up load that fills the page cache),
 * in this one process, so machine load affects both sides alike; prints every time, the medians, their ratio and
 * the load average next to each figure. Env: GLOSSA_THREADS (default 2), GLOSSA_BENCH_LOAD_ROUNDS (default 3).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";

import { repoRoot } from "../src/config.js";
import { Engine } from "../src/engine/engine.js";

const root = repoRoot();
const modelDir = process.env.GLOSSA_BENCH_LOAD_MODEL ?? join(root, "var", "synthetic-mbart-large-50");
const threads = Number(process.env.GLOSSA_THREADS ?? 2);
const rounds = Number(process.env.GLOSSA_BENCH_LOAD_ROUNDS ?? 3);

if (!existsSync(join(modelDir, "model.safetensors")) && !existsSync(join(modelDir, "model.safetensors.index.json"))) {
  if (process.env.GLOSSA_BENCH_LOAD_MODEL) throw new Error(`${modelDir}: no checkpoint`);
  console.log(`generating ${modelDir} (tools/synthetic-mbart/generate.sh) ...`);
  const r = spawnSync("bash", [join(root, "tools", "synthetic-mbart", "generate.sh"), modelDir], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const la = (): string => loadavg()[0]!.toFixed(2);

interface Timing {
  wall: number;
  /** CPU seconds of the whole process (user + system, all threads): less sensitive to other jobs than wall time. */
  cpu: number;
}

async function timeLoad(checkFinite: boolean): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const e = await Engine.load({ modelDir, threads, kvBlocks: 16, checkFinite });
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  e.dispose();
  return { wall, cpu: (c.user + c.system) / 1e6 };
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

console.log(`model ${modelDir}, ${threads} threads, ${rounds} rounds (ABBA)`);
console.log(`warm-up load (page cache): ${(await timeLoad(true)).wall.toFixed(2)} s, load average ${la()}`);
const on: Timing[] = [];
const off: Timing[] = [];
for (let r = 0; r < rounds; r++) {
  for (const check of r % 2 === 0 ? [true, false] : [false, true]) {
    const t = await timeLoad(check);
    (check ? on : off).push(t);
    console.log(`  check ${check ? "on " : "off"}: ${t.wall.toFixed(2)} s wall, ${t.cpu.toFixed(2)} s CPU   (load average ${la()})`);
  }
}
const row = (name: string, v: Timing[]): string =>
  `| ${name} | ${median(v.map((t) => t.wall)).toFixed(2)} | ${median(v.map((t) => t.cpu)).toFixed(2)} | ${v.map((t) => t.wall.toFixed(2)).join(", ")} |`;
console.log(`| check | median wall s | median CPU s | wall s per load |`);
console.log(`| --- | --- | --- | --- |`);
console.log(row("on", on));
console.log(row("off", off));
const pct = (k: keyof Timing): string => {
  const a = median(on.map((t) => t[k]));
  const b = median(off.map((t) => t[k]));
  return `${(((a - b) / b) * 100).toFixed(1)}%`;
};
console.log(`cost of the check: ${pct("wall")} of wall time, ${pct("cpu")} of CPU time (load average ${la()})`);
