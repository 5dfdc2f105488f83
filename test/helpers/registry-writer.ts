/**
 * One concurrent registry writer for test/registry-concurrency.test.ts (run as its own process):
 *   node registry-writer.js <db path or URL> <writer index> <rounds> <shared engine id>
 * Each round: ensures the shared evaluation set (all writers race to create it), inserts a run of the shared
 * engine, records a gate decision on it (pass, or fail every third round) and registers an engine of its own.
 * Prints one JSON line: what it wrote.
 */
import { openRegistry } from "../../src/storage/db.js";
import { registerEngine, engineById } from "../../src/storage/engines.js";
import { ensureEvalSet, insertEvalRun } from "../../src/storage/evaluation.js";
import { recordGateDecision } from "../../src/storage/releases.js";

const [location, indexArg, roundsArg, engineArg] = process.argv.slice(2);
// `node --test dist/test/` also runs the files under test/helpers: without arguments there is nothing to do.
if (engineArg !== undefined) await write(location!, Number(indexArg), Number(roundsArg), Number(engineArg));

async function write(location: string, index: number, rounds: number, engineId: number): Promise<void> {
  const reg = await openRegistry({ path: location, poolSize: 2 });
  try {
    const engine = await engineById(reg.db, engineId);
    if (!engine) throw new Error(`no engine ${engineId}`);
    const out = { index, sets: [] as number[], runs: [] as number[], decisions: [] as Array<{ id: number; decision: string }>, engines: [] as number[] };
    for (let k = 0; k < rounds; k++) {
      const set = await ensureEvalSet(reg.db, {
        name: "shared", pair: "de-en", srcLang: "de", tgtLang: "en", sourceFile: "s.de", refFile: "s.en", lines: 10, sourceSha256: "a", refSha256: "b",
      });
      out.sets.push(set.id);
      const run = await insertEvalRun(reg.db, {
        engineId, evalSetId: set.id, pair: "de-en", bleu: index + k / 10, chrf: 50 + index, bleuSignature: "b", chrfSignature: "c",
        sentences: 10, lineLimit: null, wallSeconds: 0.5, decodeOptions: "{}", hypSha256: `${index}-${k}`,
      });
      out.runs.push(run.id);
      const decision = (index + k) % 3 === 0 ? "fail" : "pass";
      const g = await recordGateDecision(reg.db, {
        engineId, referenceEngineId: engineId, decision, tolerances: {}, summary: `writer ${index} round ${k}`,
        reasons: [{ pair: "de-en", setName: "shared", evalSetId: set.id, engineRunId: run.id, referenceRunId: null, engineBleu: run.bleu, referenceBleu: null, engineChrf: run.chrf, referenceChrf: null, passed: decision === "pass", reason: decision }],
      });
      out.decisions.push({ id: g.decision.id, decision });
      const own = await registerEngine(reg.db, {
        name: `writer-${index}-${k}`, modelId: engine.modelId, file: `/w/${index}/${k}`, recipe: "int8", language: "de", fileSha256: `${index}${k}`, sizeBytes: k,
      });
      out.engines.push(own.id);
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await reg.close();
  }
}
