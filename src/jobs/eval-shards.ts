/**
 * Evaluation fanned out over workers: `glossa eval --queue` (and `glossa calibrate --queue`) cut every selected
 * (set, direction) into shards of consecutive lines, enqueue one job per shard, and wait; `glossa worker`
 * processes (src/jobs/eval-worker.ts, any number, any machine with the same registry, corpora and manifests)
 * translate the shards. The coordinator puts each set's hypotheses back in line order and records the run with the
 * same code as a single-process evaluation (recordEvalRun), so scores, signatures and the hypotheses' sha256 are
 * the same: the engine is batch-invariant, so a sentence translates to the same tokens in any shard or batch.
 *
 * A shard = (engine, set, direction, line range). A worker that dies stops renewing its job's lock; BullMQ moves the
 * job back to the waiting list after the lock expires (stalled-job check) and another worker takes it. A shard that
 * fails (an error thrown by the worker) is retried up to `attempts` times; a worker that finds it cannot ever do the
 * shard (other manifest text, other engine bytes) fails it at once with the reason.
 */
import { randomBytes } from "node:crypto";
import type { DecodeOptions } from "../engine/types.js";
import { loadEvalSet, type EvalSetEntry, type LoadedEvalSet } from "../eval/manifest.js";
import { SILENT_PROGRESS, type ProgressSink } from "../eval/progress.js";
import { effectiveDecodeOptions, EvalError, recordEvalRun, type EvalResult } from "../eval/runner.js";
import type { RegistryDb } from "../storage/db.js";
import type { EngineRow } from "../storage/schema/models.js";
import { describeTarget, openQueue, openQueueEvents, type QueueTarget } from "./queue.js";

export const EVAL_SHARD_JOB = "eval-shard";
export const DEFAULT_SHARD_LINES = 100;

/** One shard's job data (JSON). */
export interface EvalShardJob {
  readonly engineId: number;
  readonly engineName: string;
  /** The engine's registered bytes (engines.file_sha256): a worker refuses other bytes. */
  readonly engineSha256: string;
  readonly set: string;
  readonly pair: string;
  /** The manifest's source/reference sha256: a worker with other text refuses the shard. */
  readonly sourceSha256: string;
  readonly referenceSha256: string;
  /** Lines [start, end) of the set, 0-based. */
  readonly start: number;
  readonly end: number;
  readonly decode: DecodeOptions;
  /** Sentences per translator call (as the single-process runner). */
  readonly chunkSize: number;
}

export interface EvalShardResult {
  readonly hyps: string[];
  readonly seconds: number;
  /** host:pid of the worker that did it. */
  readonly worker: string;
}

export interface QueuedEvalRequest {
  engine: EngineRow;
  entries: EvalSetEntry[];
  corporaDir: string;
  limit?: number;
  decode?: Partial<DecodeOptions>;
  progress?: ProgressSink;
  /** Lines per shard (default 100). */
  shardLines?: number;
  chunkSize?: number;
  /** Tries per shard before the evaluation fails (default 3). */
  attempts?: number;
  /** Called once the shards are enqueued (how many, on which queue). */
  onEnqueued?: (shards: number, queue: string) => void;
}

export interface ShardPlan {
  readonly setIndex: number;
  readonly start: number;
  readonly end: number;
}

/** Consecutive line ranges of at most shardLines per set, in set order. */
export function planShards(lengths: readonly number[], shardLines: number): ShardPlan[] {
  if (!Number.isInteger(shardLines) || shardLines <= 0) throw new EvalError(`shard size must be a positive integer, got ${shardLines}`);
  const out: ShardPlan[] = [];
  lengths.forEach((n, setIndex) => {
    for (let start = 0; start < n; start += shardLines) out.push({ setIndex, start, end: Math.min(n, start + shardLines) });
  });
  return out;
}

/** Enqueues the shards, waits for the workers, records one run per (set, direction) as runEvaluation does. */
export async function runQueuedEvaluation(db: RegistryDb, target: QueueTarget, req: QueuedEvalRequest): Promise<EvalResult[]> {
  const progress = req.progress ?? SILENT_PROGRESS;
  const chunkSize = req.chunkSize ?? 32;
  const options = effectiveDecodeOptions(req.engine, req.decode);
  // Verify every set here first (the references are scored here), as the single-process runner does.
  const sets: LoadedEvalSet[] = req.entries.map((e) => loadEvalSet(req.corporaDir, e, req.limit));
  const plan = planShards(
    sets.map((s) => s.sources.length),
    req.shardLines ?? DEFAULT_SHARD_LINES,
  );
  const total = sets.reduce((s, x) => s + x.sources.length, 0);
  const token = `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
  const queue = openQueue(target);
  const events = openQueueEvents(target);
  const started = process.hrtime.bigint();
  const hyps: string[][] = sets.map((s) => new Array<string>(s.sources.length));
  const remaining = sets.map((_, i) => plan.filter((p) => p.setIndex === i).length);
  const seconds = sets.map(() => 0);
  let done = 0;
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const jobs = await queue.addBulk(
      plan.map((p) => {
        const set = sets[p.setIndex]!;
        const data: EvalShardJob = {
          engineId: req.engine.id,
          engineName: req.engine.name,
          engineSha256: req.engine.fileSha256,
          set: set.entry.set,
          pair: set.entry.pair,
          sourceSha256: set.entry.source.sha256,
          referenceSha256: set.entry.reference.sha256,
          start: p.start,
          end: p.end,
          decode: options,
          chunkSize,
        };
        return {
          name: EVAL_SHARD_JOB,
          data,
          opts: {
            jobId: `eval-${token}-${p.setIndex}-${p.start}`,
            attempts: req.attempts ?? 3,
            backoff: { type: "fixed", delay: 1000 },
            removeOnComplete: { age: 3600 },
            removeOnFail: { age: 7 * 24 * 3600 },
          },
        };
      }),
    );
    req.onEnqueued?.(jobs.length, describeTarget(target));
    progress.update(0, `${jobs.length} shards queued`);
    let failure: Error | undefined;
    // waitUntilFinished adds one listener per job to the queue ("closing") and to the events: hundreds of shards
    // wait at once by design, which Node's default limit of 10 would report as a leak.
    queue.setMaxListeners(jobs.length + 10);
    events.setMaxListeners(2 * jobs.length + 10);
    await Promise.all(
      jobs.map(async (job, i) => {
        const p = plan[i]!;
        const set = sets[p.setIndex]!;
        const what = `${set.entry.set} ${set.entry.pair} lines ${p.start + 1}-${p.end}`;
        let result: EvalShardResult;
        try {
          result = (await job.waitUntilFinished(events)) as EvalShardResult;
        } catch (e) {
          failure ??= new EvalError(`shard ${what} failed: ${(e as Error).message}`);
          return;
        }
        if (!Array.isArray(result?.hyps) || result.hyps.length !== p.end - p.start) {
          failure ??= new EvalError(`shard ${what}: a worker returned ${Array.isArray(result?.hyps) ? result.hyps.length : "no"} hypotheses for ${p.end - p.start} lines`);
          return;
        }
        for (let k = 0; k < result.hyps.length; k++) hyps[p.setIndex]![p.start + k] = result.hyps[k]!;
        done += result.hyps.length;
        if (--remaining[p.setIndex]! === 0) seconds[p.setIndex] = Number(process.hrtime.bigint() - started) / 1e9;
        progress.update(done, `${set.entry.set} ${set.entry.pair} (${result.worker})`);
      }),
    );
    if (failure) {
      // The evaluation is lost: drop the shards nobody started.
      await Promise.all(jobs.map((j) => j.remove().catch(() => undefined)));
      throw failure;
    }
  } finally {
    progress.finish();
    await Promise.allSettled([events.close(), queue.close()]);
  }
  if (done !== total) throw new EvalError(`workers returned ${done} of ${total} hypotheses`);
  const results: EvalResult[] = [];
  for (const [i, set] of sets.entries()) results.push(await recordEvalRun(db, req.engine, set, hyps[i]!, options, seconds[i]!));
  return results;
}
