/**
 * The evaluation runner: translate each selected (set, direction) with an engine, score with
 * sacreBLEU-compatible BLEU (target language's default tokenizer: zh for Chinese, 13a otherwise) and
 * chrF++ (word order 2), and store one eval_runs row per (set, direction).
 */
import { DEFAULT_DECODE_OPTIONS, type DecodeOptions } from "../engine/types.js";
import { corpusBleu, corpusChrf } from "../metrics/index.js";
import type { RegistryDb } from "../storage/db.js";
import { engineDecodeOptions } from "../storage/engines.js";
import { ensureEvalSet, insertEvalRun } from "../storage/evaluation.js";
import { sha256Bytes } from "../storage/hashing.js";
import type { EvalRunRow } from "../storage/schema/evaluation.js";
import type { EngineRow } from "../storage/schema/models.js";
import { loadEvalSet, type EvalSetEntry, type LoadedEvalSet } from "./manifest.js";
import { SILENT_PROGRESS, type ProgressSink } from "./progress.js";
import type { SentenceTranslator } from "./translator.js";

export class EvalError extends Error {
  override readonly name = "EvalError";
}

export interface EvalRequest {
  engine: EngineRow;
  entries: EvalSetEntry[];
  corporaDir: string;
  /** First N lines of each set. */
  limit?: number;
  /** Decode options given for this evaluation; applied over the defaults and the engine's own overrides. */
  decode?: Partial<DecodeOptions>;
  translator: SentenceTranslator;
  progress?: ProgressSink;
  /** Sentences handed to the translator at a time (progress granularity); default 32. */
  chunkSize?: number;
}

export interface EvalResult {
  run: EvalRunRow;
  set: string;
  pair: string;
  bleuFormatted: string;
  chrfFormatted: string;
}

/**
 * Evaluation's decode defaults: the engine contract's (greedy), but room for 200 new tokens as mBART-50's
 * generation_config (max_length 200) allows, so long evaluation sentences are not cut at the serving default of 64.
 */
export const EVAL_DECODE_DEFAULTS: Readonly<DecodeOptions> = { ...DEFAULT_DECODE_OPTIONS, maxNewTokens: 200 };

/** EVAL_DECODE_DEFAULTS, then the engine's own overrides (engines.decode_options), then the request's. */
export function effectiveDecodeOptions(engine: EngineRow, decode: Partial<DecodeOptions> = {}): DecodeOptions {
  return { ...EVAL_DECODE_DEFAULTS, ...engineDecodeOptions(engine), ...decode };
}

/** Scores hypotheses against one reference stream as the eval runs record them. */
export function scoreRun(set: LoadedEvalSet, hyps: string[]) {
  const tokenize = set.entry.direction.tgt.bleuTokenizer;
  const bleu = corpusBleu(hyps, [set.references], { tokenize });
  const chrf = corpusChrf(hyps, [set.references], { wordOrder: 2 });
  return { bleu, chrf };
}

export async function runEvaluation(db: RegistryDb, req: EvalRequest): Promise<EvalResult[]> {
  const progress = req.progress ?? SILENT_PROGRESS;
  const chunk = req.chunkSize ?? 32;
  if (!Number.isInteger(chunk) || chunk <= 0) throw new EvalError(`chunk size must be a positive integer, got ${chunk}`);
  const options = effectiveDecodeOptions(req.engine, req.decode);
  // Verify every set before translating anything: a changed file fails fast, not an hour in.
  const sets = req.entries.map((e) => loadEvalSet(req.corporaDir, e, req.limit));
  const total = sets.reduce((s, x) => s + x.sources.length, 0);
  const results: EvalResult[] = [];
  let done = 0;
  try {
    for (const set of sets) {
      const { entry } = set;
      const label = `${entry.set} ${entry.pair}`;
      progress.update(done, label);
      const started = process.hrtime.bigint();
      const hyps: string[] = [];
      for (let i = 0; i < set.sources.length; i += chunk) {
        const batch = set.sources.slice(i, i + chunk);
        const out = await req.translator.translate(batch, entry.direction.src, entry.direction.tgt, options);
        if (out.length !== batch.length) throw new EvalError(`${label}: translator returned ${out.length} outputs for ${batch.length} inputs`);
        hyps.push(...out);
        done += batch.length;
        progress.update(done, label);
      }
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      results.push(await recordEvalRun(db, req.engine, set, hyps, options, wallSeconds));
    }
  } finally {
    progress.finish();
  }
  return results;
}

/**
 * Scores a set's hypotheses and stores the run (eval_sets row created on first use, one eval_runs row): the one
 * place runs are recorded, whether the hypotheses came from this process or from workers (src/jobs/).
 */
export async function recordEvalRun(
  db: RegistryDb,
  engine: EngineRow,
  set: LoadedEvalSet,
  hyps: string[],
  options: DecodeOptions,
  wallSeconds: number,
): Promise<EvalResult> {
  const { entry } = set;
  if (hyps.length !== set.sources.length) throw new EvalError(`${entry.set} ${entry.pair}: ${hyps.length} hypotheses for ${set.sources.length} sources`);
  const { bleu, chrf } = scoreRun(set, hyps);
  const row = await ensureEvalSet(db, {
    name: entry.set,
    pair: entry.pair,
    srcLang: entry.direction.src.iso,
    tgtLang: entry.direction.tgt.iso,
    sourceFile: entry.source.file,
    refFile: entry.reference.file,
    lines: entry.source.lines,
    sourceSha256: entry.source.sha256,
    refSha256: entry.reference.sha256,
  });
  const run = await insertEvalRun(db, {
    engineId: engine.id,
    evalSetId: row.id,
    pair: entry.pair,
    bleu: bleu.score,
    chrf: chrf.score,
    bleuSignature: bleu.signature,
    chrfSignature: chrf.signature,
    sentences: hyps.length,
    lineLimit: set.lineLimit,
    wallSeconds,
    decodeOptions: JSON.stringify(options),
    hypSha256: sha256Bytes(hyps.join("\n")),
  });
  return { run, set: entry.set, pair: entry.pair, bleuFormatted: bleu.formatted, chrfFormatted: chrf.formatted };
}
