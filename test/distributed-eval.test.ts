/**
 * Issue 14 item 4: evaluation shards on a queue, translated by `glossa worker` processes, give the same runs as a
 * single-process evaluation (same BLEU, chrF++, signatures and hypotheses' sha256); a worker killed in the middle of
 * a shard loses nothing: the shard is taken by another worker once its lock expires. Runs on BullMQ's Redis backend
 * (SQLite registry) and on its PostgreSQL backend (PostgreSQL registry). Real FLORES-200 dev lines and the shipped
 * model; skipped (with the reason) without them.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { corporaDir, evalDir, modelDir } from "../src/config.js";
import { openEngineTranslator } from "../src/eval/engineTranslator.js";
import { readManifests, selectEntries, type EvalSetEntry } from "../src/eval/manifest.js";
import { runEvaluation, type EvalResult } from "../src/eval/runner.js";
import { planShards, runQueuedEvaluation } from "../src/jobs/eval-shards.js";
import { openQueue, type QueueTarget } from "../src/jobs/queue.js";
import { openRegistry, type Registry } from "../src/storage/db.js";
import { ensureReferenceEngine } from "../src/storage/engines.js";
import { createTestDatabase, pgSkip } from "./helpers/postgres.js";
import { entryCommand, spawnCapturing, waitForOutput, type CapturedProcess } from "./helpers/process.js";
import { REDIS_URL as REDIS, redisSkip } from "./helpers/redis.js";

const MODEL = modelDir();
function corporaOrUndefined(): string | undefined {
  try {
    return corporaDir();
  } catch {
    return undefined;
  }
}
const CORPORA = corporaOrUndefined();
const skip = !existsSync(join(MODEL, "config.json")) ? `no model at ${MODEL}` : CORPORA === undefined ? "no corpora (set GLOSSA_CORPORA)" : false;
const skipPg = skip || (await pgSkip());
const skipRedis = skip || (await redisSkip());
const LIMIT = 48;

/** A `glossa worker` process on the registry and queue, 1 engine thread, a 2-s lock (a killed worker's shard
 * comes back quickly). */
function startWorker(registry: string, target: QueueTarget): CapturedProcess {
  return spawnCapturing([...entryCommand("cli/glossa"), "worker", "--threads", "1", "--lock-ms", "2000"], {
    GLOSSA_DB: registry,
    GLOSSA_QUEUE: target.url,
    GLOSSA_QUEUE_NAME: target.name,
    GLOSSA_MODEL: MODEL,
  });
}

/** What must not depend on how the work was spread. */
function comparable(results: EvalResult[]) {
  return results.map((r) => ({
    set: r.set,
    pair: r.pair,
    bleu: r.run.bleu,
    chrf: r.run.chrf,
    bleuSignature: r.run.bleuSignature,
    chrfSignature: r.run.chrfSignature,
    sentences: r.run.sentences,
    lineLimit: r.run.lineLimit,
    decodeOptions: r.run.decodeOptions,
    hypSha256: r.run.hypSha256,
    formatted: [r.bleuFormatted, r.chrfFormatted],
  }));
}

describe("evaluation shards over workers", { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), "glossa-dist-"));
  const workers: CapturedProcess[] = [];
  let entries: EvalSetEntry[];
  let single: ReturnType<typeof comparable>;
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.exited));
    rmSync(tmp, { recursive: true, force: true });
  });

  before(async () => {
    entries = selectEntries(readManifests(evalDir()), ["flores200-dev"], ["de-en", "en-zh"]);
    const reg = await openRegistry({ path: join(tmp, "single.sqlite") });
    try {
      const engine = await ensureReferenceEngine(reg.db, MODEL);
      const translator = await openEngineTranslator(engine, { threads: 1 });
      try {
        single = comparable(await runEvaluation(reg.db, { engine, entries, corporaDir: CORPORA!, limit: LIMIT, translator }));
      } finally {
        await translator.close?.();
      }
    } finally {
      await reg.close();
    }
    assert.equal(single.length, 2);
  });

  it("plans consecutive shards per set", () => {
    assert.deepEqual(planShards([5, 0, 3], 2), [
      { setIndex: 0, start: 0, end: 2 },
      { setIndex: 0, start: 2, end: 4 },
      { setIndex: 0, start: 4, end: 5 },
      { setIndex: 2, start: 0, end: 2 },
      { setIndex: 2, start: 2, end: 3 },
    ]);
    assert.throws(() => planShards([3], 0), /positive integer/);
  });

  async function queued(reg: Registry, target: QueueTarget, shardLines: number): Promise<ReturnType<typeof comparable>> {
    const engine = await ensureReferenceEngine(reg.db, MODEL);
    return comparable(await runQueuedEvaluation(reg.db, target, { engine, entries, corporaDir: CORPORA!, limit: LIMIT, shardLines }));
  }

  it("two workers on Redis give the single-process runs", { skip: skipRedis }, async () => {
    const target: QueueTarget = { url: REDIS, name: `glossa-test-${process.pid}-${Date.now().toString(36)}` };
    const location = join(tmp, "redis.sqlite");
    const reg = await openRegistry({ path: location });
    try {
      const pair = [startWorker(location, target), startWorker(location, target)];
      workers.push(...pair);
      await Promise.all(pair.map((w) => waitForOutput(w, /glossa worker ready/)));
      assert.deepEqual(await queued(reg, target, 10), single);
      // Both took part: 10 shards for two workers.
      for (const w of pair) assert.match(w.output(), /flores200-dev (de-en|en-zh) lines \d+-\d+/);
      for (const w of pair) w.child.kill("SIGTERM");
      for (const w of pair) assert.equal(await w.exited, 0, w.output());
      for (const w of pair) assert.match(w.output(), /shard\(s\) done, exiting/);
    } finally {
      const q = openQueue(target);
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close();
      await reg.close();
    }
  });

  it("a worker killed in the middle of a shard: another worker redoes it, the runs stay the same (PostgreSQL)", { skip: skipPg }, async () => {
    const db = await createTestDatabase("dist");
    const target: QueueTarget = { url: db.url, name: "glossa-eval-test" };
    const reg = await openRegistry({ path: db.url });
    try {
      const doomed = startWorker(db.url, target);
      workers.push(doomed);
      await waitForOutput(doomed, /glossa worker ready/);
      const result = queued(reg, target, 24);
      // The first shard it starts: kill it while it translates (24 FLORES lines take seconds).
      const [, shard] = await waitForOutput(doomed, /glossa-mini-50 (flores200-dev \S+ lines \d+-\d+) \(attempt 1\)/);
      doomed.child.kill("SIGKILL");
      await doomed.exited;
      const rescuer = startWorker(db.url, target);
      workers.push(rescuer);
      assert.deepEqual(await result, single);
      assert.ok(rescuer.output().includes(`${shard}`), `the rescuer redid ${shard}:\n${rescuer.output()}`);
      rescuer.child.kill("SIGTERM");
      assert.equal(await rescuer.exited, 0, rescuer.output());
    } finally {
      await reg.close();
      await db.drop();
    }
  });
});
