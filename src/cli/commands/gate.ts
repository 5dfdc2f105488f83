/**
 * glossa gate --engine E [--sets a,b] [--pairs de-en,...] [--tolerances FILE] [--json]
 *
 * Compares engine E's newest evaluation runs with its model's reference engine's on the same set texts,
 * directions and line limits, against eval/gates.json (default: BLEU and chrF++ each at most 1.0 below
 * the reference). Records the decision with a reason per (pair, set); a pass releases E, a fail rejects
 * it naming every failing pair (and revokes E's active release). Exit 0 on pass, 1 on fail.
 * The reference engine itself is the baseline and released by definition: gating it records nothing.
 */
import { parseArgs } from "node:util";
import { evalDir } from "../../config.js";
import { csv, describeEngine, PROCESS_IO, resolveEngineArg, runCommand, UsageError, type CommandIo } from "../../eval/cliSupport.js";
import { gateEngine, loadTolerances, setTextKey, toleranceFor, type GateRun } from "../../eval/gate.js";
import { readManifests } from "../../eval/manifest.js";
import { formatTable, round2 } from "../../eval/table.js";
import { openRegistry } from "../../storage/db.js";
import { parsePair, pairName } from "../../languages.js";

export const GATE_USAGE = "usage: glossa gate --engine E [--sets a,b] [--pairs de-en,...] [--tolerances FILE] [--json]";

const delta = (a: number | null, b: number | null): string | null => (a === null || b === null ? null : (a - b >= 0 ? "+" : "") + (a - b).toFixed(2));

export function gateTable(g: GateRun): string {
  const rows = g.recorded.reasons.map((r) => [
    r.pair,
    r.setName,
    round2(r.engineBleu),
    round2(r.referenceBleu),
    delta(r.engineBleu, r.referenceBleu),
    round2(r.engineChrf),
    round2(r.referenceChrf),
    delta(r.engineChrf, r.referenceChrf),
    r.passed ? "pass" : "FAIL",
    r.reason,
  ]);
  return formatTable(["pair", "set", "BLEU", "ref BLEU", "dBLEU", "chrF++", "ref chrF++", "dchrF++", "result", "reason"], rows);
}

export async function gateCommand(argv: string[], io: CommandIo = PROCESS_IO): Promise<number> {
  return runCommand(io, GATE_USAGE, async () => {
    const { values } = parseArgs({
      args: argv,
      options: {
        engine: { type: "string" },
        sets: { type: "string" },
        pairs: { type: "string" },
        tolerances: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      io.stdout.write(`${GATE_USAGE}\n`);
      return 0;
    }
    if (values.engine === undefined) throw new UsageError("--engine is required");
    const pairs = csv(values.pairs)?.map((p) => {
      const parsed = parsePair(p);
      if (!parsed) throw new UsageError(`invalid pair ${JSON.stringify(p)}: expected e.g. de-en`);
      return pairName(parsed);
    });
    const sets = csv(values.sets);
    const tolerances = loadTolerances(evalDir(), values.tolerances);
    // Only runs on the set texts the manifests name now count: a regenerated manifest retires older runs.
    const currentSetTexts = new Set(
      [...readManifests(evalDir()).values()].flatMap((m) => m.entries.map((e) => setTextKey(m.set, e.pair, e.source.sha256, e.reference.sha256))),
    );
    const reg = await openRegistry();
    try {
      const { engine, reference } = await resolveEngineArg(reg, values.engine);
      if (engine.isReference) {
        const msg = `${describeEngine(engine)} is the reference engine: the gate's baseline, released by definition; nothing to gate`;
        io.stdout.write(values.json ? `${JSON.stringify({ engine: { id: engine.id, name: engine.name }, decision: "baseline" })}\n` : `${msg}\n`);
        return 0;
      }
      const g = await gateEngine(reg.db, engine, tolerances, { ...(sets ? { sets } : {}), ...(pairs ? { pairs } : {}), currentSetTexts });
      if (values.json) {
        io.stdout.write(
          `${JSON.stringify(
            {
              engine: { id: engine.id, name: engine.name },
              reference: { id: reference.id, name: reference.name },
              decision: g.decision,
              decisionId: g.recorded.decision.id,
              unchanged: g.recorded.unchanged,
              summary: g.summary,
              failingPairs: g.failingPairs,
              releaseId: g.recorded.release?.id ?? null,
              endedReleaseIds: g.recorded.ended.map((r) => r.id),
              reasons: g.recorded.reasons,
            },
            null,
            2,
          )}\n`,
        );
      } else {
        const t = toleranceFor(tolerances, "");
        io.stdout.write(
          `gate: ${describeEngine(engine)} vs reference ${reference.name} (#${reference.id}); ` +
            `default tolerance: BLEU -${t.maxBleuDrop.toFixed(2)}, chrF++ -${t.maxChrfDrop.toFixed(2)}\n`,
        );
        io.stdout.write(gateTable(g));
        const after =
          g.decision === "pass"
            ? `released (release #${g.recorded.release!.id})`
            : `rejected: ${g.failingPairs.join(", ")}${g.recorded.ended.length > 0 ? `; active release revoked (#${g.recorded.ended.map((r) => r.id).join(", #")})` : ""}`;
        if (g.recorded.unchanged)
          io.stdout.write(
            `unchanged: decision #${g.recorded.decision.id} already ${g.decision === "pass" ? `released these bytes (release #${g.recorded.release?.id})` : "rejected them"} on the same runs; nothing recorded\n`,
          );
        else io.stdout.write(`decision #${g.recorded.decision.id}: ${g.decision.toUpperCase()}: ${after}\n`);
      }
      return g.decision === "pass" ? 0 : 1;
    } finally {
      await reg.close();
    }
  });
}
