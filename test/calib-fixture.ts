/**
 * Shared by the engine-file and calibrate tests: the reference model, the golden cases (the team's own
 * sentences, test/fixtures/golden) as teacher-forcing examples (source ids -> the HF greedy output), and
 * a small calibrated engine built from them.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { buildCalibratedEngine, type BuiltEngine, type CalibRecipe } from "../src/calib/build.js";
import type { CalibrationExample, QuantizeOptions } from "../src/engine/calibration.js";
import { GOLDEN_FILE, type GoldenCase } from "./helpers/golden.js";

export const ROOT = join(import.meta.dirname, "..").replace(/[\\/]dist$/, "");
export const MODEL = join(ROOT, "models", "glossa-mini-50");
export const GOLDEN = GOLDEN_FILE;
export const READY = existsSync(join(MODEL, "config.json")) && existsSync(GOLDEN) && existsSync(join(ROOT, "native", "build", "Release", "glossa_native.node"));
export const SKIP: false | string = READY ? false : `needs ${MODEL}, ${GOLDEN} and the native addon`;


export type { GoldenCase };

export function goldenCases(): GoldenCase[] {
  return (JSON.parse(readFileSync(GOLDEN, "utf8")) as { cases: GoldenCase[] }).cases;
}

/** Teacher-forcing examples: encoder = the golden source, decoder = its HF greedy translation. */
export function goldenExamples(n: number): CalibrationExample[] {
  return goldenCases()
    .slice(0, n)
    .map((c) => ({ src: Int32Array.from(c.src_ids), labels: Int32Array.from(c.greedy.ids.slice(1)) }));
}

export function buildTestEngine(outDir: string, recipe: CalibRecipe | "fold-only", examples = 24, options: Partial<QuantizeOptions> = {}): Promise<BuiltEngine> {
  return buildCalibratedEngine({
    modelDir: MODEL,
    lang: "en",
    recipe: recipe as CalibRecipe,
    setName: "golden-fixture",
    examples: goldenExamples(examples),
    outDir,
    threads: 2,
    recipeOptions: { sensitivitySentences: 4, ...options },
  });
}
