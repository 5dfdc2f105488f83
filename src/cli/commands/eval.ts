/**
 * glossa eval --engine E [--pairs de-en,en-de,...] [--sets flores200-dev,tatoeba,...] [--limit N]
 *             [--beam-size N] [--max-new-tokens N] [--json]
 *             [--queue [--queue-url URL] [--queue-name NAME] [--shard-lines N]]
 *
 * Translates every selected (set, direction) from the manifests in eval/sets/ with engine E, scores BLEU
 * (sacreBLEU's default tokenizer for the target language) and chrF++, stores one eval_runs row per
 * (set, direction), shows progress on stderr and prints a table (or JSON with --json) on stdout.
 * With --queue the sets are cut into shards of --shard-lines lines (default 100) and enqueued for `glossa worker`
 * processes (src/jobs/); the runs recorded are the same as without it.
 */
import { parseArgs } from "node:util";
import { corporaDir, evalDir } from "../../config.js";
import type { DecodeOptions } from "../../engine/types.js";
import { readManifests, selectEntries } from "../../eval/manifest.js";
import { ProgressBar } from "../../eval/progress.js";
import { runEvaluation, type EvalResult } from "../../eval/runner.js";
import { formatTable, round2 } from "../../eval/table.js";
import { openEngineTranslator } from "../../eval/engineTranslator.js";
import type { TranslatorFactory } from "../../eval/translator.js";
import { openRegistry } from "../../storage/db.js";
import { verifyEngineFiles } from "../../storage/engines.js";
import { csv, describeEngine, positiveInt, PROCESS_IO, resolveEngineArg, runCommand, UsageError, type CommandIo } from "../../eval/cliSupport.js";


export const EVAL_USAGE =
  "usage: glossa eval --engine E [--pairs de-en,en-de,...] [--sets flores200-dev,tatoeba,...] [--limit N] [--beam-size N] [--max-new-tokens N] [--json]\n" +
  "                   [--queue [--queue-url redis://...|postgres://...] [--queue-name NAME] [--shard-lines N]]   (work done by `glossa worker` processes)";

export function evalTable(results: EvalResult[]): string {
  const rows = results.map((r) => [
    r.set,
    r.pair,
    r.run.sentences,
    r.run.lineLimit,
    round2(r.run.bleu),
    round2(r.run.chrf),
    r.run.wallSeconds.toFixed(1),
    r.run.wallSeconds > 0 ? (r.run.sentences / r.run.wallSeconds).toFixed(1) : null,
    r.run.id,
  ]);
  const table = formatTable(["set", "pair", "sentences", "limit", "BLEU", "chrF++", "seconds", "sent/s", "run"], rows);
  const sigs = [...new Set(results.flatMap((r) => [r.run.bleuSignature, r.run.chrfSignature]))];
  return `${table}signatures:\n${sigs.map((s) => `  ${s}`).join("\n")}\n`;
}

export async function evalCommand(argv: string[], io: CommandIo = PROCESS_IO, factory: TranslatorFactory = openEngineTranslator): Promise<number> {
  return runCommand(io, EVAL_USAGE, async () => {
    const { values } = parseArgs({
      args: argv,
      options: {
        engine: { type: "string" },
        pairs: { type: "string" },
        sets: { type: "string" },
        limit: { type: "string" },
        "beam-size": { type: "string" },
        "max-new-tokens": { type: "string" },
        json: { type: "boolean", default: false },
        queue: { type: "boolean", default: false },
        "queue-url": { type: "string" },
        "queue-name": { type: "string" },
        "shard-lines": { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      io.stdout.write(`${EVAL_USAGE}\n`);
      return 0;
    }
    if (values.engine === undefined) throw new UsageError("--engine is required");
    const limit = positiveInt(values.limit, "--limit");
    const decode: Partial<DecodeOptions> = {};
    const beams = positiveInt(values["beam-size"], "--beam-size");
    if (beams !== undefined) decode.beamSize = beams;
    const maxNew = positiveInt(values["max-new-tokens"], "--max-new-tokens");
    if (maxNew !== undefined) decode.maxNewTokens = maxNew;
    const shardLines = positiveInt(values["shard-lines"], "--shard-lines");
    if (!values.queue && (values["queue-url"] !== undefined || values["queue-name"] !== undefined || shardLines !== undefined)) {
      throw new UsageError("--queue-url, --queue-name and --shard-lines go with --queue");
    }
    // The queue's modules (BullMQ) load only with --queue.
    const jobs = values.queue ? { ...(await import("../../jobs/queue.js")), ...(await import("../../jobs/eval-shards.js")) } : undefined;
    let target;
    try {
      target = jobs?.queueTarget(values["queue-url"], values["queue-name"]);
    } catch (e) {
      if (jobs && e instanceof jobs.QueueConfigError) throw new UsageError(e.message);
      throw e;
    }
    const entries = selectEntries(readManifests(evalDir()), csv(values.sets), csv(values.pairs));
    const corpora = corporaDir();
    const reg = await openRegistry();
    try {
      const { engine } = await resolveEngineArg(reg, values.engine);
      await verifyEngineFiles(reg.db, engine);
      io.stderr.write(`evaluating ${describeEngine(engine)} on ${entries.length} set/pair(s)${limit ? `, first ${limit} lines each` : ""}\n`);
      const total = entries.reduce((s, e) => s + (limit !== undefined ? Math.min(limit, e.source.lines) : e.source.lines), 0);
      let results: EvalResult[];
      if (jobs && target) {
        results = await jobs.runQueuedEvaluation(reg.db, target, {
          engine,
          entries,
          corporaDir: corpora,
          ...(limit !== undefined ? { limit } : {}),
          decode,
          ...(shardLines !== undefined ? { shardLines } : {}),
          progress: new ProgressBar(total, io.stderr),
          onEnqueued: (n, q) => io.stderr.write(`${n} shards queued on ${q}; waiting for glossa worker processes\n`),
        });
      } else {
        const translator = await factory(engine);
        try {
          results = await runEvaluation(reg.db, {
            engine,
            entries,
            corporaDir: corpora,
            ...(limit !== undefined ? { limit } : {}),
            decode,
            translator,
            progress: new ProgressBar(total, io.stderr),
          });
        } finally {
          await translator.close?.();
        }
      }
      if (values.json) {
        io.stdout.write(`${JSON.stringify({ engine: { id: engine.id, name: engine.name }, runs: results.map((r) => ({ ...r.run, set: r.set })) }, null, 2)}\n`);
      } else {
        io.stdout.write(`engine: ${describeEngine(engine)}\n${evalTable(results)}`);
      }
      return 0;
    } finally {
      await reg.close();
    }
  });
}
