/**
 * npm run bench:dist-eval -- [--workers 1,2,4] [--limit N] [--pairs de-en,...] [--shard-lines 100] [--queue-url URL]
 *
 * The FLORES-200 dev evaluation of the reference engine (all 18 directions unless --pairs), once per worker count:
 * N `glossa worker` processes (engine threads = max(1, cores / N) each) on a fresh queue, `runQueuedEvaluation` as
 * `glossa eval --queue` runs it, wall time from enqueue to the last run recorded. Prints one row per N with
 * sentences/s, the speed-up over N = 1 and the load average, and checks that every N gave the same runs (BLEU,
 * chrF++ and hypotheses' sha256 per direction). Registry: a temporary SQLite file; queue: --queue-url (default
 * GLOSSA_QUEUE, else redis://127.0.0.1:6379). Needs the corpora and the model.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { corporaDir, evalDir, modelDir, repoRoot } from "../src/config.js";
import { readManifests, selectEntries } from "../src/eval/manifest.js";
import { runQueuedEvaluation } from "../src/jobs/eval-shards.js";
import { openQueue, queueTarget } from "../src/jobs/queue.js";
import { openRegistry } from "../src/storage/db.js";
import { ensureReferenceEngine } from "../src/storage/engines.js";

const { values } = parseArgs({
  options: {
    workers: { type: "string", default: "1,2,4" },
    limit: { type: "string" },
    pairs: { type: "string" },
    "shard-lines": { type: "string", default: "100" },
    "queue-url": { type: "string" },
  },
});
const counts = values.workers!.split(",").map(Number);
const limit = values.limit !== undefined ? Number(values.limit) : undefined;
const shardLines = Number(values["shard-lines"]);
const cores = availableParallelism();
const la = (): string => loadavg().map((x) => x.toFixed(2)).join(" ");

const tmp = mkdtempSync(join(tmpdir(), "glossa-bench-dist-"));
const registry = join(tmp, "registry.sqlite");
const entries = selectEntries(readManifests(evalDir()), ["flores200-dev"], values.pairs?.split(","));
const corpora = corporaDir();
const reg = await openRegistry({ path: registry });
const engine = await ensureReferenceEngine(reg.db, modelDir());
const rows: string[] = [];
let baseline: { seconds: number; runs: string } | undefined;

function startWorker(url: string, name: string, threads: number): { child: ChildProcess; exited: Promise<unknown> } {
  const child = spawn(process.execPath, [join(repoRoot(), "dist", "src", "cli", "glossa.js"), "worker", "--threads", String(threads)], {
    env: { ...process.env, GLOSSA_DB: registry, GLOSSA_QUEUE: url, GLOSSA_QUEUE_NAME: name },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return { child, exited: new Promise((r) => child.on("exit", r)) };
}

try {
  console.log(`# ${entries.length} directions, ${limit ?? "all"} lines each, shards of ${shardLines}, ${cores} cores, engine ${engine.name}`);
  for (const n of counts) {
    const target = queueTarget(values["queue-url"], `glossa-bench-${process.pid}-${n}`);
    const threads = Math.max(1, Math.floor(cores / n));
    const workers = Array.from({ length: n }, () => startWorker(target.url, target.name, threads));
    const before = la();
    const t0 = process.hrtime.bigint();
    const results = await runQueuedEvaluation(reg.db, target, { engine, entries, corporaDir: corpora, ...(limit ? { limit } : {}), shardLines });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
    const q = openQueue(target);
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
    const sentences = results.reduce((s, r) => s + r.run.sentences, 0);
    const runs = JSON.stringify(results.map((r) => [r.pair, r.run.bleu, r.run.chrf, r.run.hypSha256]));
    baseline ??= { seconds, runs };
    const same = runs === baseline.runs ? "yes" : "NO";
    rows.push(
      `| ${n} | ${threads} | ${sentences} | ${seconds.toFixed(1)} | ${(sentences / seconds).toFixed(2)} | ${(baseline.seconds / seconds).toFixed(2)}x | ${same} | ${before} / ${la()} |`,
    );
    console.log(rows.at(-1));
  }
  console.log("\n| workers | threads each | sentences | seconds | sent/s | speed-up | same runs | loadavg before / after |\n|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
} finally {
  await reg.close();
  rmSync(tmp, { recursive: true, force: true });
}
