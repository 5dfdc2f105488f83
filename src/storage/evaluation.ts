/** Repository: evaluation sets and runs. */
import { and, desc, eq } from "drizzle-orm";
import { first, inTransaction, one, type DbOrTx, type RegistryDb } from "./db.js";
import type { EvalRunRow, EvalSetRow } from "./schema/evaluation.js";

export interface EvalSetIdentity {
  name: string;
  pair: string;
  srcLang: string;
  tgtLang: string;
  sourceFile: string;
  refFile: string;
  lines: number;
  sourceSha256: string;
  refSha256: string;
}

/** The row for this set, direction and text version, created on first use. */
export async function ensureEvalSet(db: RegistryDb, s: EvalSetIdentity): Promise<EvalSetRow> {
  const { evalSets } = db.t;
  return inTransaction(db, async (tx) => {
    const found = await first(
      tx.orm
        .select()
        .from(evalSets)
        .where(and(eq(evalSets.name, s.name), eq(evalSets.pair, s.pair), eq(evalSets.sourceSha256, s.sourceSha256), eq(evalSets.refSha256, s.refSha256))),
    );
    if (found) return found;
    return one(tx.orm.insert(evalSets).values({ ...s, createdAt: new Date().toISOString() }).returning());
  });
}

export interface NewEvalRun {
  engineId: number;
  evalSetId: number;
  pair: string;
  bleu: number;
  chrf: number;
  bleuSignature: string;
  chrfSignature: string;
  sentences: number;
  lineLimit: number | null;
  wallSeconds: number;
  decodeOptions: string;
  hypSha256: string;
}

export async function insertEvalRun(db: RegistryDb, r: NewEvalRun): Promise<EvalRunRow> {
  return one(db.orm.insert(db.t.evalRuns).values({ ...r, createdAt: new Date().toISOString() }).returning());
}

export interface RunWithSet {
  run: EvalRunRow;
  set: EvalSetRow;
}

/** Every run of an engine with its set, newest first. */
export async function runsOfEngine(db: DbOrTx, engineId: number): Promise<RunWithSet[]> {
  const { evalRuns, evalSets } = db.t;
  return db.orm
    .select({ run: evalRuns, set: evalSets })
    .from(evalRuns)
    .innerJoin(evalSets, eq(evalRuns.evalSetId, evalSets.id))
    .where(eq(evalRuns.engineId, engineId))
    .orderBy(desc(evalRuns.id));
}

/** Key under which runs are comparable: same set text, same direction, same line limit. */
export function comparableKey(r: RunWithSet): string {
  return `${r.set.id}|${r.run.pair}|${r.run.lineLimit ?? "all"}`;
}

/** The newest run per comparable key. */
export async function latestRunsOfEngine(db: DbOrTx, engineId: number): Promise<Map<string, RunWithSet>> {
  const out = new Map<string, RunWithSet>();
  for (const r of await runsOfEngine(db, engineId)) {
    const k = comparableKey(r);
    if (!out.has(k)) out.set(k, r);
  }
  return out;
}
