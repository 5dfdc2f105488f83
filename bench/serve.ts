/**
 * `npm run bench:serve`: HTTP load test of the translation server on loopback.
 *
 * Starts the server (node dist/src/server/main.js on 127.0.0.1, free port) unless --url names a loopback server,
 * then for each concurrency level (default 1, 8, 32) sends the same list of sentences with that many clients,
 * each client sending its next request as soon as its previous answer arrives. Every level is bounded by a
 * request count (--requests) and by time (--time-limit seconds: no new request starts after it). Prints
 * requests/s, generated tokens/s, latency p50/p99, mean engine batch size (from /metrics), and the throughput
 * ratio against the one-at-a-time run (level 1), plus how many answers equal the one-at-a-time answers.
 *
 * Sentences: FLORES-200 dev English read at run time from the corpora folder (GLOSSA_CORPORA, never committed)
 * when present, else a built-in self-written list (--sentences builtin|flores).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { corporaDir, repoRoot } from "../src/config.js";

interface Options {
  url: string | undefined;
  levels: number[];
  requests: number;
  timeLimitS: number;
  source: string;
  target: string;
  maxNewTokens: number;
  threads: number | undefined;
  sentences: "auto" | "builtin" | "flores";
  warmup: number;
}

const BUILTIN = [
  "The train to the city leaves at seven in the morning.",
  "My grandmother grows tomatoes and beans in her garden.",
  "Please close the window before you leave the room.",
  "We are planning a trip to the mountains next summer.",
  "The museum is free for children under twelve.",
  "He forgot his umbrella at the office yesterday.",
  "The new bridge will open to traffic in March.",
  "She has been learning to play the violin for three years.",
  "Could you tell me where the nearest pharmacy is?",
  "The meeting was moved to Thursday afternoon.",
  "Fresh bread is delivered to the shop every morning.",
  "Our team won the final match after a long season.",
  "The doctor said that I should drink more water.",
  "It rained all night, so the roads are still wet.",
  "The library has thousands of books in many languages.",
  "They built a small house next to the lake.",
  "I would like a cup of tea with milk, please.",
  "The children painted a large picture of the sea.",
  "This phone charges much faster than my old one.",
  "The festival attracts visitors from all over the country.",
  "Turn left at the second traffic light.",
  "The price of vegetables went up this winter.",
  "My brother works as a nurse in a big hospital.",
  "We watched the sunset from the top of the hill.",
  "The teacher explained the lesson again slowly.",
  "A strong wind knocked down several trees in the park.",
  "The restaurant on the corner serves excellent soup.",
  "Remember to bring your passport to the airport.",
  "The students are preparing for their final exams.",
  "Our neighbours have adopted a friendly old dog.",
  "The concert starts at eight, so we should hurry.",
  "Farmers in the valley grow rice and maize.",
];

function parseArgs(argv: string[]): Options {
  const o: Options = {
    url: undefined,
    levels: [1, 8, 32],
    requests: 96,
    timeLimitS: 60,
    source: "en",
    target: "de",
    maxNewTokens: 64,
    threads: undefined,
    sentences: "auto",
    warmup: 4,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    const int = (s: string) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${a}: expected a positive integer, got ${s}`);
      return n;
    };
    if (a === "--url") o.url = v();
    else if (a === "--levels") o.levels = v().split(",").map(int);
    else if (a === "--requests") o.requests = int(v());
    else if (a === "--time-limit") o.timeLimitS = int(v());
    else if (a === "--pair") [o.source, o.target] = v().split("-") as [string, string];
    else if (a === "--max-new-tokens") o.maxNewTokens = int(v());
    else if (a === "--threads") o.threads = int(v());
    else if (a === "--warmup") o.warmup = Number(v());
    else if (a === "--sentences") {
      const s = v();
      if (s !== "auto" && s !== "builtin" && s !== "flores") throw new Error("--sentences auto|builtin|flores");
      o.sentences = s;
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!o.levels.includes(1)) o.levels.unshift(1);
  return o;
}

function loadSentences(o: Options): { sentences: string[]; from: string } {
  if (o.sentences !== "builtin") {
    let file: string | undefined;
    try {
      file = join(corporaDir(), "flores200", "dev", "en.dev");
    } catch {
      file = undefined;
    }
    if (file && existsSync(file)) {
      const lines = readFileSync(file, "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "");
      return { sentences: lines.slice(0, Math.max(o.requests, 1)), from: "FLORES-200 dev (en), read at run time" };
    }
    if (o.sentences === "flores") throw new Error("FLORES-200 dev not found in the corpora folder");
  }
  return { sentences: BUILTIN, from: "built-in self-written sentences" };
}

function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (!["127.0.0.1", "localhost", "[::1]", "::1"].includes(host)) {
    throw new Error(`bench:serve only targets loopback servers, not ${host}`);
  }
}

async function startLocalServer(o: Options): Promise<{ url: string; child: ChildProcess }> {
  const main = join(repoRoot(), "dist", "src", "server", "main.js");
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", GLOSSA_HOST: "127.0.0.1" };
  if (o.threads !== undefined) env.GLOSSA_THREADS = String(o.threads);
  const child = spawn(process.execPath, [main], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const end = Date.now() + 300_000;
  for (;;) {
    const url = /glossa listening on (http:\/\/\S+)/.exec(out)?.[1];
    if (url && /glossa ready/.test(out)) return { url, child };
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${out}`);
    if (Date.now() > end) throw new Error(`server not ready after 300 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Sample {
  index: number;
  ms: number;
  tokens: number;
  text: string;
}

async function translateOne(url: string, o: Options, text: string): Promise<{ text: string; tokens: number }> {
  const res = await fetch(`${url}/translate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text, source_lang: o.source, target_lang: o.target, options: { max_new_tokens: o.maxNewTokens } }),
  });
  const body = (await res.json()) as { translations?: Array<{ text: string; tokens: number }>; error?: string };
  if (res.status !== 200 || !body.translations) throw new Error(`HTTP ${res.status}: ${body.error ?? "?"}`);
  return { text: body.translations[0]!.text, tokens: body.translations[0]!.tokens };
}

async function batchStats(url: string): Promise<{ sum: number; count: number }> {
  const m = await (await fetch(`${url}/metrics`)).text();
  const get = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(m)?.[1] ?? "0");
  return { sum: get("glossa_batch_size_sum"), count: get("glossa_batch_size_count") };
}

interface LevelResult {
  clients: number;
  completed: number;
  errors: number;
  seconds: number;
  reqPerS: number;
  tokPerS: number;
  p50: number;
  p99: number;
  meanBatch: number;
  samples: Sample[];
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

async function runLevel(url: string, o: Options, sentences: string[], clients: number): Promise<LevelResult> {
  const before = await batchStats(url);
  const samples: Sample[] = [];
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  const stopAt = t0 + o.timeLimitS * 1000;
  const worker = async () => {
    for (;;) {
      if (next >= o.requests || performance.now() >= stopAt) return;
      const index = next++;
      const started = performance.now();
      try {
        const r = await translateOne(url, o, sentences[index % sentences.length]!);
        samples.push({ index, ms: performance.now() - started, tokens: r.tokens, text: r.text });
      } catch (err) {
        errors++;
        if (errors <= 3) console.error(`  request ${index} failed: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const after = await batchStats(url);
  const lat = samples.map((s) => s.ms).sort((a, b) => a - b);
  const tokens = samples.reduce((n, s) => n + s.tokens, 0);
  const steps = after.count - before.count;
  return {
    clients,
    completed: samples.length,
    errors,
    seconds,
    reqPerS: samples.length / seconds,
    tokPerS: tokens / seconds,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    meanBatch: steps > 0 ? (after.sum - before.sum) / steps : 0,
    samples,
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const { sentences, from } = loadSentences(o);
  let child: ChildProcess | undefined;
  let url = o.url;
  const stop = () => child?.kill("SIGTERM");
  process.on("exit", stop);
  if (url) assertLoopback(url);
  else ({ url, child } = await startLocalServer(o));
  const ready = (await (await fetch(`${url}/ready`)).json()) as Record<string, unknown>;
  console.log(`bench:serve against ${url} (${String(ready.model)}, ${String(ready.precision)}, ${String(ready.kernels)}, ${String(ready.threads)} threads)`);
  console.log(`pair ${o.source}-${o.target}, max_new_tokens ${o.maxNewTokens}, ${o.requests} requests or ${o.timeLimitS} s per level, sentences: ${from}`);
  for (let i = 0; i < o.warmup; i++) await translateOne(url, o, sentences[i % sentences.length]!);

  const results: LevelResult[] = [];
  for (const clients of o.levels) {
    const r = await runLevel(url, o, sentences, clients);
    results.push(r);
    console.log(`  ${clients} client(s): ${r.completed} done in ${r.seconds.toFixed(1)} s`);
  }
  const base = results.find((r) => r.clients === 1)!;
  const baseText = new Map(base.samples.map((s) => [s.index % sentences.length, s.text]));
  console.log("");
  console.log("clients  requests  errors    req/s    tok/s  p50 ms  p99 ms  mean batch  vs 1-at-a-time  same output");
  for (const r of results) {
    const comparable = r.samples.filter((s) => baseText.has(s.index % sentences.length));
    const same = comparable.filter((s) => baseText.get(s.index % sentences.length) === s.text).length;
    console.log(
      [
        String(r.clients).padStart(7),
        String(r.completed).padStart(9),
        String(r.errors).padStart(7),
        r.reqPerS.toFixed(2).padStart(8),
        r.tokPerS.toFixed(1).padStart(8),
        r.p50.toFixed(0).padStart(7),
        r.p99.toFixed(0).padStart(7),
        r.meanBatch.toFixed(1).padStart(11),
        `${(r.tokPerS / base.tokPerS).toFixed(2)}x`.padStart(15),
        `${same}/${comparable.length}`.padStart(12),
      ].join(" "),
    );
  }
  console.log(
    JSON.stringify({
      bench: "serve",
      pair: `${o.source}-${o.target}`,
      maxNewTokens: o.maxNewTokens,
      levels: results.map((r) => ({
        clients: r.clients,
        completed: r.completed,
        errors: r.errors,
        reqPerS: +r.reqPerS.toFixed(3),
        tokPerS: +r.tokPerS.toFixed(1),
        p50Ms: +r.p50.toFixed(1),
        p99Ms: +r.p99.toFixed(1),
        meanBatch: +r.meanBatch.toFixed(2),
        throughputRatio: +(r.tokPerS / base.tokPerS).toFixed(3),
      })),
    }),
  );
  if (child) {
    child.kill("SIGTERM");
    await new Promise((r) => child!.once("exit", r));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
