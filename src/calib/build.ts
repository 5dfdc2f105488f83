/**
 * Builds a calibrated engine file for one (model, language, recipe):
 * calibration set (src/calib/data) -> teacher-forced examples -> activation statistics -> recipe
 * (INT8 or AWQ INT4 + sensitivity pass) -> engine file (src/engine/engine-file.ts).
 *
 * Teacher forcing: the set's sentence is the encoder input and its aligned reference the decoder input.
 * English sets carry references in the other nine languages, so English is calibrated on the encoder
 * side against all of them; the decoder side then sees those languages (and every other language's set
 * has English references, so the decoder sees English there).
 */
import { rm } from "node:fs/promises";
import { basename, resolve } from "node:path";

import { loadCalibrationSet } from "./data/index.js";
import { CalibrationSession, type CalibProgress, type CalibrationExample, type QuantizeOptions, type QuantizeResult } from "../engine/calibration.js";
import { modelConfigSha256, sha256Hex, writeEngineFile, type EngineTensor } from "../engine/engine-file.js";
import { resolveLanguage } from "../languages.js";
import { commitTemp, newTempPath, sweepTemps } from "../storage/engine-store.js";
import { MBartTokenizer } from "../tokenizer/mbart.js";

export type CalibRecipe = "int8" | "awq-int4";
export const CALIB_RECIPES: readonly CalibRecipe[] = ["int8", "awq-int4"];

export class CalibrateError extends Error {
  override readonly name = "CalibrateError";
}

/** Default recipe settings (documented in NOTES.md "Calibration and quantization"). */
export const RECIPE_DEFAULTS: Record<CalibRecipe, Omit<QuantizeOptions, "recipe">> = {
  int8: { klBudget: 0.01, a8Threshold: 1e-3, sensitivitySentences: 16 },
  "awq-int4": { groupSize: 128, klBudget: 0.008, sensitivitySentences: 16, clip: true, int4A8: true },
};

export interface BuildOptions {
  modelDir: string;
  lang: string;
  recipe: CalibRecipe;
  /** Calibration set name (default: the language's ISO code). */
  setName?: string;
  /** Content-addressed engine store the file goes to (src/storage/engine-store.ts; the CLI uses enginesDir()). */
  outDir: string;
  threads?: number;
  /** Overrides of RECIPE_DEFAULTS. */
  recipeOptions?: Partial<QuantizeOptions>;
  /** Limits the examples (tests). */
  maxExamples?: number;
  /** Ad-hoc teacher-forcing examples instead of a calibration set (tests, experiments); setName then only labels them. */
  examples?: CalibrationExample[];
  /** sha256 of the model weights (registry), recorded in the metadata. */
  modelWeightsSha256?: string;
  onProgress?: (p: CalibProgress) => void;
}

export interface BuiltEngine {
  /** `<outDir>/<sha256>.safetensors`: named by its bytes, never overwritten by another build. */
  path: string;
  bytes: number;
  fileSha256: string;
  calibrationSha256: string;
  setName: string;
  result: Omit<QuantizeResult, "tensors">;
  seconds: { examples: number; statistics: number; quantize: number; total: number };
}

/** Tokenized teacher-forcing examples of a calibration set. */
export async function calibrationExamples(modelDir: string, setName: string, maxExamples?: number): Promise<{ examples: CalibrationExample[]; setHash: string }> {
  const { manifest, sentences } = loadCalibrationSet(setName);
  const lang = resolveLanguage(manifest.lang);
  if (!lang) throw new CalibrateError(`calibration set ${setName}: unknown language ${manifest.lang}`);
  const tok = await MBartTokenizer.fromDir(modelDir);
  const examples: CalibrationExample[] = [];
  for (const s of sentences) {
    if (!s.target) continue;
    const tgt = resolveLanguage(s.target.lang);
    if (!tgt) continue;
    examples.push({ src: tok.encodeSource(s.text, lang.mbart, 256), labels: tok.encodeSource(s.target.text, tgt.mbart, 256) });
    if (maxExamples !== undefined && examples.length >= maxExamples) break;
  }
  if (examples.length === 0) throw new CalibrateError(`calibration set ${setName} has no members with an aligned reference`);
  return { examples, setHash: manifest.setHash };
}

export async function buildCalibratedEngine(opts: BuildOptions): Promise<BuiltEngine> {
  const t0 = performance.now();
  const lang = resolveLanguage(opts.lang);
  if (!lang || lang.iso !== opts.lang) throw new CalibrateError(`unknown language ${JSON.stringify(opts.lang)} (expected an ISO code Glossa serves)`);
  if (!CALIB_RECIPES.includes(opts.recipe) && opts.recipe !== ("fold-only" as CalibRecipe))
    throw new CalibrateError(`unknown recipe ${JSON.stringify(opts.recipe)} (int8, awq-int4)`);
  const setName = opts.setName ?? opts.lang;
  const { examples, setHash } = opts.examples
    ? { examples: opts.examples, setHash: sha256Hex(opts.examples.map((e) => `${e.src.join(",")}|${e.labels.join(",")}`).join("\n")) }
    : await calibrationExamples(opts.modelDir, setName, opts.maxExamples);
  const t1 = performance.now();
  const session = await CalibrationSession.open(opts.modelDir, opts.threads !== undefined ? { threads: opts.threads } : {});
  const timer = opts.onProgress ? setInterval(() => opts.onProgress!(session.progress()), 500) : undefined;
  let result: QuantizeResult;
  let t2: number;
  try {
    await session.collectActivationStats(examples);
    t2 = performance.now();
    const defaults = RECIPE_DEFAULTS[opts.recipe] ?? {};
    result = await session.quantize({ ...defaults, ...opts.recipeOptions, recipe: opts.recipe });
  } finally {
    if (timer) clearInterval(timer);
    session.dispose();
  }
  const t3 = performance.now();
  await sweepTemps(opts.outDir);
  const tmp = await newTempPath(opts.outDir);
  const tensors: EngineTensor[] = result.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: t.data, precision: t.precision }));
  const { tensors: _dropped, ...summary } = result;
  const report = {
    klEstimate: summary.klEstimate,
    klMeasured: summary.klMeasured,
    sensitivityRows: summary.sensitivityRows,
    examples: examples.length,
    layers: summary.units.map((u) => ({ unit: u.unit, precision: u.precision, kl: u.kl, awqAlpha: u.awqAlpha, relErrW8A8: u.relErrW8A8, relErrW8A16: u.relErrW8A16 })),
  };
  let written: ReturnType<typeof writeEngineFile>;
  try {
    written = writeEngineFile(tmp, tensors, {
      model_name: basename(resolve(opts.modelDir)),
      model_config_sha256: modelConfigSha256(opts.modelDir),
      model_weights_sha256: opts.modelWeightsSha256 ?? "",
      model_dir: resolve(opts.modelDir),
      language: opts.lang,
      recipe: opts.recipe,
      calibration_set: setName,
      calibration_sha256: setHash,
      report: JSON.stringify(report),
      lm_head: opts.recipeOptions?.lmHead ?? "f16",
    });
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  // tmp + fsync + rename to <outDir>/<sha256>.safetensors: a killed build leaves no file under a content name.
  const { path } = await commitTemp(tmp, opts.outDir, written.fileSha256);
  const t4 = performance.now();
  return {
    path,
    bytes: written.bytes,
    fileSha256: written.fileSha256,
    calibrationSha256: setHash,
    setName,
    result: summary,
    seconds: { examples: (t1 - t0) / 1000, statistics: (t2 - t1) / 1000, quantize: (t3 - t2) / 1000, total: (t4 - t0) / 1000 },
  };
}
