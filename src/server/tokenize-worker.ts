/**
 * The tokenizer worker (a piscina worker thread, src/server/tokenize-pool.ts): loads the model's tokenizer once
 * and plans + tokenizes units (src/server/plan-units.ts) without ever touching the server's event loop.
 * Piscina loads it through tokenize-worker-entry.cts (see there why); workerData is the pool's { modelDir }.
 */
import { workerData } from "node:worker_threads";
import { MBartTokenizer } from "../tokenizer/mbart.js";
import { planUnits, type PlanOutcome, type PlanTask } from "./plan-units.js";

let tokenizer: Promise<MBartTokenizer> | undefined;

export default async function plan(task: PlanTask): Promise<PlanOutcome> {
  const { modelDir } = workerData as { modelDir: string };
  tokenizer ??= MBartTokenizer.fromDir(modelDir);
  return planUnits(await tokenizer, task);
}
