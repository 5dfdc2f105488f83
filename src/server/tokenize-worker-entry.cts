/**
 * The file piscina loads in each tokenizer thread: CommonJS, so that piscina's `require(filename)` succeeds on
 * its first try and the ES module worker (tokenize-worker.ts) is loaded by a dynamic import() only.
 * Pointing piscina at the ES module directly made it `require()` an ES module graph: on Node 20.19+ that goes
 * through require(esm), which aborted the whole process in a CI run (V8 fatal error in Module::IsGraphAsync,
 * SIGABRT, test/openapi.test.ts) — an engine bug no try/catch can contain. import() has no such path.
 */
import type { PlanOutcome, PlanTask } from "./plan-units.js" with { "resolution-mode": "import" };

type Plan = (task: PlanTask) => Promise<PlanOutcome>;
let worker: Promise<Plan> | undefined;

module.exports = function plan(task: PlanTask): Promise<PlanOutcome> {
  worker ??= import("./tokenize-worker.js").then((m: { default: Plan }) => m.default);
  return worker.then((run) => run(task));
};
