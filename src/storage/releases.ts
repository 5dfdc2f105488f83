/**
 * Repository: gate decisions, their reasons, and releases.
 *
 * Release policy (decided for issue 5):
 * - The unquantized reference engine of a model (engines.is_reference) is the baseline every gate
 *   compares against. It is released by definition: it has no gate decision and no releases row, and
 *   releasedEngines()/isReleased() report it as released.
 * - Any other engine is released only by a passing gate decision; that inserts an active releases row
 *   (ending the engine's previous active release, "superseded").
 * - A failing gate decision ends the engine's active release, if any ("revoked"), so the server stops
 *   serving an engine whose latest gate failed.
 */
import { and, desc, eq } from "drizzle-orm";
import { first, inTransaction, lockRow, notifyOnCommit, one, type DbOrTx, type RegistryDb } from "./db.js";
import type { GateDecisionRow, GateReasonRow, ReleaseRow } from "./schema/releases.js";
import type { EngineRow } from "./schema/models.js";

/** PostgreSQL NOTIFY channel: a release was made or ended (payload: the engine id). See src/storage/release-watch.ts. */
export const RELEASES_CHANNEL = "glossa_releases";

export interface NewGateReason {
  pair: string;
  setName: string;
  evalSetId: number | null;
  engineRunId: number | null;
  referenceRunId: number | null;
  engineBleu: number | null;
  referenceBleu: number | null;
  engineChrf: number | null;
  referenceChrf: number | null;
  passed: boolean;
  reason: string;
}

export interface NewGateDecision {
  engineId: number;
  referenceEngineId: number;
  decision: "pass" | "fail";
  tolerances: unknown;
  summary: string;
  reasons: NewGateReason[];
}

export interface RecordedGate {
  decision: GateDecisionRow;
  reasons: GateReasonRow[];
  /** The release created by a passing decision. */
  release: ReleaseRow | undefined;
  /** Releases this decision ended (superseded by a pass, revoked by a fail). */
  ended: ReleaseRow[];
  /**
   * True when nothing was recorded: the engine's latest decision already says the same thing about the same
   * runs (same reference, tolerances, and per reason the same pair, set, runs and outcome) and the release state
   * still follows from it. `decision`, `reasons` and `release` are then that earlier decision's.
   */
  unchanged: boolean;
}

/** The parts of a reason that identify what was compared and what came out (not the free-text wording). */
function reasonKey(r: { pair: string; setName: string; engineRunId: number | null; referenceRunId: number | null; passed: boolean }): string {
  return JSON.stringify([r.pair, r.setName, r.engineRunId, r.referenceRunId, r.passed]);
}

/** Records a decision, its reasons, and the release change it implies, in one transaction. */
export async function recordGateDecision(db: RegistryDb, d: NewGateDecision): Promise<RecordedGate> {
  const { gateDecisions, gateReasons, releases, engines } = db.t;
  return inTransaction(db, async (tx) => {
    // Decisions about one engine are serialized: their ids follow the order in which they took effect.
    await lockRow(tx, engines, engines.id, d.engineId);
    // Re-gating the same bytes (an engine row is one file's bytes) on the same runs changes nothing: no churn.
    const latest = await first(tx.orm.select().from(gateDecisions).where(eq(gateDecisions.engineId, d.engineId)).orderBy(desc(gateDecisions.id)).limit(1));
    if (latest && latest.decision === d.decision && latest.referenceEngineId === d.referenceEngineId && latest.tolerances === JSON.stringify(d.tolerances)) {
      const prevReasons = await tx.orm.select().from(gateReasons).where(eq(gateReasons.decisionId, latest.id)).orderBy(gateReasons.id);
      const same = prevReasons.map(reasonKey).sort().join("\n") === d.reasons.map(reasonKey).sort().join("\n");
      const active = await tx.orm.select().from(releases).where(and(eq(releases.engineId, d.engineId), eq(releases.active, true)));
      const consistent = d.decision === "pass" ? active.length === 1 && active[0]!.gateDecisionId === latest.id : active.length === 0;
      if (same && consistent) return { decision: latest, reasons: prevReasons, release: active[0], ended: [], unchanged: true };
    }
    const at = new Date().toISOString();
    const decision = await one(
      tx.orm
      .insert(gateDecisions)
      .values({
        engineId: d.engineId,
        referenceEngineId: d.referenceEngineId,
        decision: d.decision,
        tolerances: JSON.stringify(d.tolerances),
        summary: d.summary,
        createdAt: at,
      })
      .returning(),
    );
    const reasons: GateReasonRow[] = [];
    for (const r of d.reasons) reasons.push(await one(tx.orm.insert(gateReasons).values({ ...r, decisionId: decision.id }).returning()));
    const ended = await tx.orm
      .update(releases)
      .set({ active: false, endedAt: at, endedByDecisionId: decision.id })
      .where(and(eq(releases.engineId, d.engineId), eq(releases.active, true)))
      .returning();
    const release =
      d.decision === "pass"
        ? await one(tx.orm.insert(releases).values({ engineId: d.engineId, gateDecisionId: decision.id, releasedAt: at, active: true }).returning())
        : undefined;
    if (release || ended.length > 0) await notifyOnCommit(tx, RELEASES_CHANNEL, String(d.engineId));
    return { decision, reasons, release, ended, unchanged: false };
  });
}

export async function gateReasonsOf(db: DbOrTx, decisionId: number): Promise<GateReasonRow[]> {
  const { gateReasons } = db.t;
  return db.orm.select().from(gateReasons).where(eq(gateReasons.decisionId, decisionId)).orderBy(gateReasons.id);
}

export async function gateDecisionsOf(db: DbOrTx, engineId: number): Promise<GateDecisionRow[]> {
  const { gateDecisions } = db.t;
  return db.orm.select().from(gateDecisions).where(eq(gateDecisions.engineId, engineId)).orderBy(desc(gateDecisions.id));
}

export interface ReleaseListing {
  release: ReleaseRow;
  engine: EngineRow;
  decision: GateDecisionRow;
}

/** Releases, newest first; only active ones unless `all`. */
export async function listReleases(db: DbOrTx, opts: { all?: boolean } = {}): Promise<ReleaseListing[]> {
  const { releases, engines, gateDecisions } = db.t;
  const q = db.orm
    .select({ release: releases, engine: engines, decision: gateDecisions })
    .from(releases)
    .innerJoin(engines, eq(releases.engineId, engines.id))
    .innerJoin(gateDecisions, eq(releases.gateDecisionId, gateDecisions.id));
  return (opts.all ? q : q.where(eq(releases.active, true))).orderBy(desc(releases.id));
}

/** Why an engine is served: the reference baseline, or an active release. */
export type ReleaseBasis = { kind: "reference" } | { kind: "release"; release: ReleaseRow };

export interface ReleasedEngine {
  engine: EngineRow;
  basis: ReleaseBasis;
}

/**
 * The engines the server may serve: every reference engine (released by definition), then every engine
 * with an active release, newest release first.
 */
export async function releasedEngines(db: DbOrTx): Promise<ReleasedEngine[]> {
  const { engines } = db.t;
  const refs = await db.orm.select().from(engines).where(eq(engines.isReference, true)).orderBy(engines.id);
  const out: ReleasedEngine[] = refs.map((engine) => ({ engine, basis: { kind: "reference" } }));
  for (const r of await listReleases(db)) out.push({ engine: r.engine, basis: { kind: "release", release: r.release } });
  return out;
}

/** True for a reference engine and for an engine with an active release; false otherwise (unknown ids included). */
export async function isReleased(db: DbOrTx, engineId: number): Promise<boolean> {
  const { engines, releases } = db.t;
  const e = await first(db.orm.select().from(engines).where(eq(engines.id, engineId)));
  if (!e) return false;
  if (e.isReference) return true;
  const active = await first(db.orm.select({ id: releases.id }).from(releases).where(and(eq(releases.engineId, engineId), eq(releases.active, true))));
  return active !== undefined;
}
