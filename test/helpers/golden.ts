/**
 * The shipped reference model and its Hugging Face golden outputs (test/fixtures/golden/golden.json,
 * written by tools/train-reference on the GPU machine), shared by the tests that check against them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../src/config.js";

export const ROOT = repoRoot();
export const MODEL_DIR = join(ROOT, "models", "glossa-mini-50");
export const GOLDEN_FILE = join(ROOT, "test", "fixtures", "golden", "golden.json");

export interface GoldenCase {
  id: string;
  src_lang: string;
  tgt_lang: string;
  text: string;
  src_ids: number[];
  forced_bos_id: number;
  greedy: { ids: number[]; text: string };
  beam4: { ids: number[]; score: number; text: string };
}

export interface StepLogits {
  top5_ids: number[];
  top5: number[];
  logsumexp: number;
}

export interface GoldenInternals {
  id: string;
  encoder_out: { shape: [number, number]; sum: number; abs_sum: number; first8: number[] };
  first_step_logits: StepLogits;
  second_step_logits: StepLogits;
}

export interface Golden {
  settings: Record<string, unknown>;
  cases: GoldenCase[];
  internals: GoldenInternals[];
}

export function loadGolden(): Golden {
  return JSON.parse(readFileSync(GOLDEN_FILE, "utf8")) as Golden;
}
