/**
 * glossa calibrate --lang L --recipe int8|awq-int4 [--set S] [--tatoeba-limit N] [--flores-limit N]
 *                  [--kl-budget X] [--lm-head f16|int8] [--w4a16] [--threads N] [--out-dir DIR] [--no-eval] [--json]
 *
 * --lm-head int8 (off by default: the LM head stays FP16) adds a per-row int8 lm_head run as W8A8; the engine
 * is registered as "<model>/<recipe>-<lang>-lmhead-int8" so that it is gated next to the FP16-head engine.
 * --w4a16 (awq-int4 only) keeps float activations in the INT4 layers (the W4A16 engines built before W4A8 became
 * the default; registered with the suffix "-w4a16").
 *
 * Builds the calibrated engine for language L (progress on stderr), registers it, evaluates it and the
 * reference engine on every pair involving L (L-en and en-L; all 18 English-pivot pairs for en) on
 * FLORES-200 dev (whole set unless --flores-limit) and the Tatoeba test sets (first --tatoeba-limit
 * lines, default 500, the same lines for both engines; reference runs already recorded with the same
 * set text and limit are reused), runs the release gate and prints per pair BLEU and chrF++ for the
 * reference and the engine, the engine's size and decode tokens/s of both engines.
 */
import { statSync } from "node:fs";
import { parseArgs } from "node:util";

import { buildCalibratedEngine, CALIB_RECIPES, CalibrateError, type CalibRecipe } from "../../calib/build.js";
import { corporaDir, enginesDir, evalDir, modelDir } from "../../config.js";
import { Translator } from "../../engine/translator.js";
import { openEngineTranslator } from "../../eval/engineTranslator.js";
import { gateEngine, loadTolerances } from "../../eval/gate.js";
import { loadEvalSet, readManifests, selectEntries, type EvalSetEntry } from "../../eval/manifest.js";
import { ProgressBar, type ProgressSink } from "../../eval/progress.js";
import { EVAL_DECODE_DEFAULTS, runEvaluation } from "../../eval/runner.js";
import { formatTable, round2 } from "../../eval/table.js";
import type { SentenceTranslator } from "../../eval/translator.js";
import { englishPivotPairs, pairName, resolveLanguage, type Language } from "../../languages.js";
import { readEngineHeader } from "../../engine/engine-file.js";
import { artifactSetting, openArtifactStore } from "../../storage/artifacts/index.js";
import { recordEngineProfile } from "../../storage/benchmarks.js";
import { openRegistry, type RegistryDb } from "../../storage/db.js";
import { ensureModel, ensureReferenceEngine, findEngine, registerEngine } from "../../storage/engines.js";
import { latestRunsOfEngine } from "../../storage/evaluation.js";
import type { EngineRow } from "../../storage/schema/models.js";
import { PROCESS_IO, positiveInt, runCommand, UsageError, type CommandIo } from "../../eval/cliSupport.js";

export const CALIBRATE_USAGE =
  "usage: glossa calibrate --lang L --recipe int8|awq-int4 [--set S] [--tatoeba-limit N (500)] [--flores-limit N] [--kl-budget X] [--lm-head f16|int8] [--w4a16] [--threads N] [--out-dir DIR] [--no-eval] [--json]\n" +
  "                        [--queue [--queue-url URL] [--queue-name NAME] [--shard-lines N]]   (evaluations done by `glossa worker` processes)";

export const DEFAULT_TATOEBA_LIMIT = 500;

/** Directions gated for an engine calibrated for `lang`. */
export function pairsFor(lang: string): string[] {
  if (lang === "en") return englishPivotPairs().map(pairName);
  return [`${lang}-en`, `en-${lang}`];
}

/** Wraps a Translator to count generated tokens and generation time (decode tokens/s). */
class CountingTranslator implements SentenceTranslator {
  tokens = 0;
  seconds = 0;
  constructor(private readonly inner: Translator) {}
  async translate(texts: string[], src: Language, tgt: Language, opts?: Parameters<Translator["translate"]>[3]): Promise<string[]> {
    const t0 = performance.now();
    const out = await this.inner.translateDetailed(texts, src, tgt, opts);
    this.seconds += (performance.now() - t0) / 1000;
    for (const d of out) this.tokens += d.result.ids.length;
    return out.map((d) => d.text);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  rate(): number {
    return this.seconds > 0 ? this.tokens / this.seconds : 0;
  }
}

async function openCounting(engine: EngineRow): Promise<CountingTranslator> {
  const t = await openEngineTranslator(engine);
  if (!(t instanceof Translator)) throw new CalibrateError(`engine ${engine.name}: no native translator`);
  return new CountingTranslator(t);
}

interface Planned {
  entry: EvalSetEntry;
  limit: number | undefined;
  lineLimit: number | null;
}

async function hasRun(db: RegistryDb, engine: EngineRow, p: Planned): Promise<boolean> {
  for (const r of (await latestRunsOfEngine(db, engine.id)).values())
    if (r.set.name === p.entry.set && r.run.pair === p.entry.pair && r.run.lineLimit === p.lineLimit && r.set.sourceSha256 === p.entry.source.sha256 && r.set.refSha256 === p.entry.reference.sha256)
      return true;
  return false;
}

/** The evaluation step through the job queue (`--queue`): shards for `glossa worker` processes (src/jobs/). */
type QueuedRunner = (db: RegistryDb, engine: EngineRow, entries: EvalSetEntry[], limit: number | undefined, progress: ProgressSink) => Promise<unknown>;

async function evaluate(db: RegistryDb, engine: EngineRow, plan: Planned[], corpora: string, io: CommandIo, label: string, queued?: QueuedRunner): Promise<number | null> {
  if (plan.length === 0) return 0;
  if (queued) {
    const total = plan.reduce((s, p) => s + (p.lineLimit ?? p.entry.source.lines), 0);
    io.stderr.write(`evaluating ${label} (${engine.name}) on ${plan.length} set/pair(s), ${total} sentences, through the queue\n`);
    for (const limit of [...new Set(plan.map((p) => p.limit))]) {
      const entries = plan.filter((p) => p.limit === limit).map((p) => p.entry);
      const n = plan.filter((p) => p.limit === limit).reduce((s, p) => s + (p.lineLimit ?? p.entry.source.lines), 0);
      await queued(db, engine, entries, limit, new ProgressBar(n, io.stderr));
    }
    return null; // decoding happened in the workers
  }
  const translator = await openCounting(engine);
  try {
    const total = plan.reduce((s, p) => s + (p.lineLimit ?? p.entry.source.lines), 0);
    io.stderr.write(`evaluating ${label} (${engine.name}) on ${plan.length} set/pair(s), ${total} sentences\n`);
    const bar = new ProgressBar(total, io.stderr);
    let offset = 0;
    for (const limit of [...new Set(plan.map((p) => p.limit))]) {
      const entries = plan.filter((p) => p.limit === limit).map((p) => p.entry);
      const base = offset;
      await runEvaluation(db, {
        engine,
        entries,
        corporaDir: corpora,
        ...(limit !== undefined ? { limit } : {}),
        translator,
        progress: { update: (done, l) => bar.update(base + done, l), finish: () => undefined },
      });
      offset += plan.filter((p) => p.limit === limit).reduce((s, p) => s + (p.lineLimit ?? p.entry.source.lines), 0);
    }
    bar.finish();
    return translator.rate();
  } finally {
    await translator.close();
  }
}

/** Decode tokens/s at batch 1 (greedy) on a fixed small sample: the first 16 FLORES dev lines of the first pair, one at a time. */
async function measureRate(engine: EngineRow, entry: EvalSetEntry, corpora: string): Promise<number> {
  const set = loadEvalSet(corpora, entry, 16);
  const translator = await openCounting(engine);
  try {
    await translator.translate(set.sources.slice(0, 2), entry.direction.src, entry.direction.tgt, EVAL_DECODE_DEFAULTS); // warm-up
    translator.tokens = 0;
    translator.seconds = 0;
    for (const line of set.sources) await translator.translate([line], entry.direction.src, entry.direction.tgt, EVAL_DECODE_DEFAULTS);
    return translator.rate();
  } finally {
    await translator.close();
  }
}

export async function calibrateCommand(argv: string[], io: CommandIo = PROCESS_IO): Promise<number> {
  return runCommand(io, CALIBRATE_USAGE, async () => {
    const { values } = parseArgs({
      args: argv,
      options: {
        lang: { type: "string" },
        recipe: { type: "string" },
        set: { type: "string" },
        "tatoeba-limit": { type: "string" },
        "flores-limit": { type: "string" },
        "kl-budget": { type: "string" },
        "lm-head": { type: "string", default: "f16" },
        w4a16: { type: "boolean", default: false },
        threads: { type: "string" },
        "out-dir": { type: "string" },
        "no-eval": { type: "boolean", default: false },
        queue: { type: "boolean", default: false },
        "queue-url": { type: "string" },
        "queue-name": { type: "string" },
        "shard-lines": { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      io.stdout.write(`${CALIBRATE_USAGE}\n`);
      return 0;
    }
    if (values.lang === undefined) throw new UsageError("--lang is required");
    if (values.recipe === undefined) throw new UsageError("--recipe is required (int8 or awq-int4)");
    const lang = resolveLanguage(values.lang);
    if (!lang || lang.iso !== values.lang) throw new UsageError(`--lang ${JSON.stringify(values.lang)} is not an ISO code Glossa serves`);
    if (!CALIB_RECIPES.includes(values.recipe as CalibRecipe)) throw new UsageError(`--recipe must be one of ${CALIB_RECIPES.join(", ")}`);
    const recipe = values.recipe as CalibRecipe;
    const tatoebaLimit = positiveInt(values["tatoeba-limit"], "--tatoeba-limit") ?? DEFAULT_TATOEBA_LIMIT;
    const floresLimit = positiveInt(values["flores-limit"], "--flores-limit");
    const threads = positiveInt(values.threads, "--threads");
    let klBudget: number | undefined;
    if (values["kl-budget"] !== undefined) {
      klBudget = Number(values["kl-budget"]);
      if (!Number.isFinite(klBudget) || klBudget < 0) throw new UsageError(`--kl-budget expects a number >= 0 (nats per token), got ${JSON.stringify(values["kl-budget"])}`);
    }
    const lmHead = values["lm-head"];
    if (lmHead !== "f16" && lmHead !== "int8") throw new UsageError(`--lm-head must be f16 or int8, got ${JSON.stringify(lmHead)}`);
    if (values.w4a16 && recipe !== "awq-int4") throw new UsageError("--w4a16 applies to --recipe awq-int4 only");
    const variant = (lmHead === "int8" ? "-lmhead-int8" : "") + (values.w4a16 ? "-w4a16" : "");
    const shardLines = positiveInt(values["shard-lines"], "--shard-lines");
    if (!values.queue && (values["queue-url"] !== undefined || values["queue-name"] !== undefined || shardLines !== undefined)) {
      throw new UsageError("--queue-url, --queue-name and --shard-lines go with --queue");
    }
    let queued: QueuedRunner | undefined;
    if (values.queue) {
      const jobs = { ...(await import("../../jobs/queue.js")), ...(await import("../../jobs/eval-shards.js")) };
      let target: ReturnType<typeof jobs.queueTarget>;
      try {
        target = jobs.queueTarget(values["queue-url"], values["queue-name"]);
      } catch (e) {
        if (e instanceof jobs.QueueConfigError) throw new UsageError(e.message);
        throw e;
      }
      queued = (db, engine, entries, limit, progress) =>
        jobs.runQueuedEvaluation(db, target, {
          engine, entries, corporaDir: corporaDir(), ...(limit !== undefined ? { limit } : {}), ...(shardLines !== undefined ? { shardLines } : {}), progress,
          onEnqueued: (n, q) => io.stderr.write(`${n} shards queued on ${q}\n`),
        });
    }
    const outDir = values["out-dir"] ?? enginesDir();
    const mdir = modelDir();
    const reg = await openRegistry();
    try {
      const model = await ensureModel(reg.db, mdir);
      const reference = await ensureReferenceEngine(reg.db, mdir);
      // ---- build ----
      const tty = io.stderr.isTTY === true;
      let lastLine = "";
      const built = await buildCalibratedEngine({
        modelDir: mdir,
        lang: lang.iso,
        recipe,
        ...(values.set !== undefined ? { setName: values.set } : {}),
        outDir,
        ...(threads !== undefined ? { threads } : {}),
        modelWeightsSha256: model.weightsSha256,
        recipeOptions: { ...(klBudget !== undefined ? { klBudget } : {}), lmHead, ...(values.w4a16 ? { int4A8: false } : {}) },
        onProgress: (p) => {
          const line = `calibrate ${lang.iso} ${recipe}: ${p.phase} ${p.done}/${p.total}`;
          if (line === lastLine) return;
          lastLine = line;
          io.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
        },
      });
      if (tty) io.stderr.write("\n");
      const precisions = new Map<string, number>();
      for (const u of built.result.units) precisions.set(u.precision, (precisions.get(u.precision) ?? 0) + 1);
      io.stderr.write(
        `built ${built.path} (${(built.bytes / 1e6).toFixed(1)} MB) in ${built.seconds.total.toFixed(1)} s: ` +
          `${[...precisions].map(([p, n]) => `${n} ${p}`).join(", ")}; KL estimate ${built.result.klEstimate.toExponential(2)}, measured ${built.result.klMeasured.toExponential(2)} nats/token\n`,
      );
      // ---- register ----
      let name = `${model.name}/${recipe}-${lang.iso}${variant}`;
      const existing = await findEngine(reg.db, name);
      let engine: EngineRow;
      if (existing && existing.fileSha256 === built.fileSha256) engine = existing;
      else {
        if (existing) name = `${name}@${built.fileSha256.slice(0, 12)}`;
        engine = (await findEngine(reg.db, name)) ??
          (await registerEngine(reg.db, {
            name,
            modelId: model.id,
            file: built.path,
            recipe,
            language: lang.iso,
            fileSha256: built.fileSha256,
            sizeBytes: statSync(built.path).size,
            calibrationSha256: built.calibrationSha256,
          }));
      }
      // The calibration profile (per-unit precision and KL) goes into the registry too, for the dashboard.
      await recordEngineProfile(reg.db, engine.id, readEngineHeader(built.path).metadata.report ?? "{}");
      io.stderr.write(`registered engine ${engine.name} (#${engine.id})\n`);
      // Other replicas and workers fetch the bytes from the artifact store (GLOSSA_ARTIFACTS), verified by sha256.
      const store = openArtifactStore(artifactSetting(), reg);
      if (store) {
        await store.put(engine.fileSha256, engine.file);
        io.stderr.write(`published ${engine.fileSha256.slice(0, 12)}... to ${store.description}\n`);
      }
      if (values["no-eval"]) {
        io.stdout.write(`${JSON.stringify({ engine: engine.name, file: built.path, bytes: built.bytes })}\n`);
        return 0;
      }
      // ---- evaluate both engines on the same lines, then gate ----
      const pairs = pairsFor(lang.iso);
      const corpora = corporaDir();
      const manifests = readManifests(evalDir());
      const plan: Planned[] = [];
      for (const [set, limit] of [["flores200-dev", floresLimit], ["tatoeba", tatoebaLimit]] as const) {
        if (!manifests.has(set)) continue;
        for (const entry of selectEntries(manifests, [set], pairs.filter((p) => manifests.get(set)!.entries.some((e) => e.pair === p)))) {
          plan.push({ entry, limit, lineLimit: loadEvalSet(corpora, entry, limit).lineLimit });
        }
      }
      if (plan.length === 0) throw new CalibrateError(`no FLORES-200 dev or Tatoeba entries for ${pairs.join(", ")}`);
      const missingRef: Planned[] = [];
      for (const p of plan) if (!(await hasRun(reg.db, reference, p))) missingRef.push(p);
      await evaluate(reg.db, reference, missingRef, corpora, io, "reference", queued);
      const engineRate = await evaluate(reg.db, engine, plan, corpora, io, `${recipe} ${lang.iso}`, queued);
      const rateEntry = plan[0]!.entry;
      const refRate = await measureRate(reference, rateEntry, corpora);
      const engRateSample = await measureRate(engine, rateEntry, corpora);
      const gate = await gateEngine(reg.db, engine, loadTolerances(evalDir()), { sets: [...new Set(plan.map((p) => p.entry.set))], pairs });
      const refSize = reference.sizeBytes;
      const rows = gate.reasons.map((r) => [
        r.pair,
        r.setName,
        round2(r.referenceBleu ?? Number.NaN),
        round2(r.engineBleu ?? Number.NaN),
        round2(r.referenceChrf ?? Number.NaN),
        round2(r.engineChrf ?? Number.NaN),
        r.passed ? "ok" : "FAIL",
      ]);
      if (values.json) {
        io.stdout.write(
          `${JSON.stringify(
            {
              engine: { id: engine.id, name: engine.name, file: built.path, bytes: built.bytes },
              referenceBytes: refSize,
              decodeTokensPerSecond: { reference: refRate, engine: engRateSample, engineDuringEval: engineRate },
              gate: { decision: gate.decision, summary: gate.summary },
              rows: gate.reasons,
              build: { seconds: built.seconds, klEstimate: built.result.klEstimate, klMeasured: built.result.klMeasured, layers: built.result.units.map((u) => ({ unit: u.unit, precision: u.precision })) },
            },
            null,
            2,
          )}\n`,
        );
      } else {
        io.stdout.write(`engine ${engine.name}: ${built.path}\n`);
        io.stdout.write(formatTable(["pair", "set", "ref BLEU", "BLEU", "ref chrF++", "chrF++", "gate"], rows));
        io.stdout.write(
          `size: engine ${(built.bytes / 1e6).toFixed(1)} MB, reference ${(refSize / 1e6).toFixed(1)} MB (${((100 * built.bytes) / refSize).toFixed(0)}%)\n` +
            `decode tokens/s (greedy, batch 1, first 16 lines of ${rateEntry.set} ${rateEntry.pair}): reference ${refRate.toFixed(1)}, engine ${engRateSample.toFixed(1)} (x${(engRateSample / refRate).toFixed(2)})\n` +
            `gate: ${gate.decision === "pass" ? "ACCEPTED (released)" : "REJECTED"} — ${gate.summary}\n`,
        );
      }
      return gate.decision === "pass" ? 0 : 3;
    } finally {
      await reg.close();
    }
  });
}
