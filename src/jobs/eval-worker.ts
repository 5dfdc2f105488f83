/**
 * `glossa worker`'s evaluation side: takes eval-shard jobs (src/jobs/eval-shards.ts) from the queue and translates
 * them. The worker needs the same registry (GLOSSA_DB), the corpora and the evaluation manifests as the process
 * that enqueued; it checks the engine's bytes and the set's text against what the job names before translating.
 *
 * Engines: a registered engine whose file is on this machine is used after verifyEngineFiles (once per engine);
 * the reference model's folder may live elsewhere here: GLOSSA_MODEL is used when its weights hash is the
 * engine's. Translators stay loaded (the two most recent engines) between shards.
 */
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { UnrecoverableError, type Job } from "bullmq";
import { corporaDir, enginesDir, evalDir, modelDir } from "../config.js";
import { openEngineTranslator } from "../eval/engineTranslator.js";
import { loadEvalSet, readManifests, selectEntries } from "../eval/manifest.js";
import { EvalError } from "../eval/runner.js";
import type { SentenceTranslator } from "../eval/translator.js";
import { artifactSetting, openArtifactStore } from "../storage/artifacts/index.js";
import { ensureEngineFile } from "../storage/artifacts/engine-files.js";
import { openRegistry, type Registry } from "../storage/db.js";
import { engineById, verifyEngineFiles } from "../storage/engines.js";
import { weightFiles, weightsSha256 } from "../storage/hashing.js";
import type { EngineRow } from "../storage/schema/models.js";
import type { EvalShardJob, EvalShardResult } from "./eval-shards.js";
import { EVAL_SHARD_JOB } from "./eval-shards.js";
import { openWorker, type AnyWorker, type QueueTarget } from "./queue.js";

export interface EvalWorkerOptions {
  target: QueueTarget;
  /** Shards processed at once by this process (default 1: the engine already uses every thread given). */
  concurrency?: number;
  /** Engine threads (default: all cores). */
  threads?: number;
  /** Registry location (default GLOSSA_DB). */
  registry?: string;
  /** How long a job's lock lasts without renewal (ms, default 30000): a dead worker's shard is retried after it. */
  lockDurationMs?: number;
  /** How often stalled (lock-expired) jobs are looked for (ms, default 30000). */
  stalledIntervalMs?: number;
  log?: (line: string) => void;
}

export interface RunningEvalWorker {
  readonly worker: AnyWorker;
  /** Shards done by this process. */
  readonly done: () => number;
  close(): Promise<void>;
}

const WORKER_ID = `${hostname()}:${process.pid}`;

export async function startEvalWorker(opts: EvalWorkerOptions): Promise<RunningEvalWorker> {
  const log = opts.log ?? (() => undefined);
  const registry: Registry = await openRegistry(opts.registry !== undefined ? { path: opts.registry } : {});
  const translators = new Map<number, Promise<SentenceTranslator>>();
  const verified = new Map<number, Promise<EngineRow>>();
  let shardsDone = 0;

  /** The engine row with a file usable here, its bytes checked against the registry. */
  const localEngine = (job: EvalShardJob): Promise<EngineRow> => {
    let p = verified.get(job.engineId);
    if (!p) {
      p = (async () => {
        const row = await engineById(registry.db, job.engineId);
        if (!row) throw new UnrecoverableError(`engine #${job.engineId} (${job.engineName}) is not in this worker's registry ${registry.location}`);
        if (row.fileSha256 !== job.engineSha256) throw new UnrecoverableError(`engine ${row.name}: registry bytes ${row.fileSha256} differ from the job's ${job.engineSha256}`);
        let local = row;
        if (!existsSync(row.file) && row.isReference) {
          // The reference's folder path is the enqueuing machine's; use this machine's model when it is the same.
          const dir = resolve(modelDir());
          const files = existsSync(dir) ? weightFiles(dir) : [];
          if (files.length > 0 && (await weightsSha256(dir, files)) === row.fileSha256) local = { ...row, file: dir };
        }
        if (!existsSync(local.file) && !row.isReference) {
          // A calibrated engine built elsewhere: its bytes from the artifact store, verified against the registry.
          local = { ...row, file: await ensureEngineFile(row, openArtifactStore(artifactSetting(), registry), enginesDir()) };
        }
        if (!existsSync(local.file)) throw new EvalError(`engine ${row.name}: ${row.file} is not on this machine`);
        await verifyEngineFiles(registry.db, local);
        return local;
      })();
      p.catch(() => verified.delete(job.engineId));
      verified.set(job.engineId, p);
    }
    return p;
  };

  const translatorFor = (engine: EngineRow): Promise<SentenceTranslator> => {
    let t = translators.get(engine.id);
    if (!t) {
      t = openEngineTranslator(engine, opts.threads !== undefined ? { threads: opts.threads } : {});
      t.catch(() => translators.delete(engine.id));
      translators.set(engine.id, t);
      // Keep the two most recent engines.
      while (translators.size > 2) {
        const [oldId, old] = translators.entries().next().value!;
        translators.delete(oldId);
        void old.then((x) => x.close?.(), () => undefined);
      }
    }
    return t;
  };

  const processor = async (job: Job<EvalShardJob, EvalShardResult>): Promise<EvalShardResult> => {
    if (job.name !== EVAL_SHARD_JOB) throw new UnrecoverableError(`unknown job kind ${JSON.stringify(job.name)}`);
    const d = job.data;
    const started = process.hrtime.bigint();
    const engine = await localEngine(d);
    const entries = selectEntries(readManifests(evalDir()), [d.set], [d.pair]);
    const entry = entries[0];
    if (!entry) throw new UnrecoverableError(`no ${d.set} ${d.pair} in this worker's manifests`);
    if (entry.source.sha256 !== d.sourceSha256 || entry.reference.sha256 !== d.referenceSha256) {
      throw new UnrecoverableError(`${d.set} ${d.pair}: this worker's manifest names other text than the job's`);
    }
    const set = loadEvalSet(corporaDir(), entry, d.end);
    const sources = set.sources.slice(d.start, d.end);
    if (sources.length !== d.end - d.start) throw new UnrecoverableError(`${d.set} ${d.pair} has no lines ${d.start + 1}-${d.end}`);
    const translator = await translatorFor(engine);
    log(`${WORKER_ID}: ${engine.name} ${d.set} ${d.pair} lines ${d.start + 1}-${d.end} (attempt ${job.attemptsMade + 1})`);
    const hyps: string[] = [];
    for (let i = 0; i < sources.length; i += d.chunkSize) {
      const batch = sources.slice(i, i + d.chunkSize);
      const out = await translator.translate(batch, entry.direction.src, entry.direction.tgt, d.decode);
      if (out.length !== batch.length) throw new EvalError(`translator returned ${out.length} outputs for ${batch.length} inputs`);
      hyps.push(...out);
      await job.updateProgress(hyps.length);
    }
    shardsDone++;
    return { hyps, seconds: Number(process.hrtime.bigint() - started) / 1e9, worker: WORKER_ID };
  };

  const worker = openWorker(opts.target, processor, {
    concurrency: opts.concurrency ?? 1,
    lockDuration: opts.lockDurationMs ?? 30_000,
    stalledInterval: opts.stalledIntervalMs ?? 30_000,
    // A shard whose worker died twice is given up (the coordinator reports it).
    maxStalledCount: 2,
  });
  worker.on("failed", (job, err) => log(`${WORKER_ID}: shard ${job?.id ?? "?"} failed: ${err.message}`));
  worker.on("error", (err) => log(`${WORKER_ID}: queue error: ${err.message}`));
  await worker.waitUntilReady();
  return {
    worker,
    done: () => shardsDone,
    close: async () => {
      await worker.close();
      for (const t of translators.values()) await t.then((x) => x.close?.(), () => undefined);
      await registry.close();
    },
  };
}
