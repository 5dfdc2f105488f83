/**
 * Registry schema, release domain: gate decisions (an engine compared with its model's reference
 * engine, pair by pair), the reasons behind each decision, and releases.
 *
 * Policy: the unquantized reference engine (engines.is_reference) is the baseline every gate compares
 * against, so it is released by definition and has no rows here. Every other engine is released only
 * by a passing gate decision; a later failing decision revokes its active release.
 */
import { sql } from "drizzle-orm";
import { check, index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { evalRuns, evalSets } from "./evaluation.js";
import { engines } from "./models.js";

export const gateDecisions = sqliteTable(
  "gate_decisions",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    engineId: integer("engine_id")
      .notNull()
      .references(() => engines.id),
    referenceEngineId: integer("reference_engine_id")
      .notNull()
      .references(() => engines.id),
    decision: text("decision", { enum: ["pass", "fail"] }).notNull(),
    /** JSON of the tolerances applied (eval/gates.json as resolved). */
    tolerances: text("tolerances").notNull(),
    /** One line: what passed, or every failing pair. */
    summary: text("summary").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [
    index("gate_decisions_engine").on(t.engineId),
    check("gate_decisions_decision", sql`${t.decision} in ('pass', 'fail')`),
  ],
);

/** One row per (pair, set) the gate looked at. */
export const gateReasons = sqliteTable(
  "gate_reasons",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    decisionId: integer("decision_id")
      .notNull()
      .references(() => gateDecisions.id),
    pair: text("pair").notNull(),
    setName: text("set_name").notNull(),
    evalSetId: integer("eval_set_id").references(() => evalSets.id),
    /** The runs compared; null when one side had no run (itself a failure). */
    engineRunId: integer("engine_run_id").references(() => evalRuns.id),
    referenceRunId: integer("reference_run_id").references(() => evalRuns.id),
    engineBleu: real("engine_bleu"),
    referenceBleu: real("reference_bleu"),
    engineChrf: real("engine_chrf"),
    referenceChrf: real("reference_chrf"),
    passed: integer("passed", { mode: "boolean" }).notNull(),
    /** Human-readable, e.g. "BLEU 21.30 vs 24.10 (-2.80 < -1.00)". */
    reason: text("reason").notNull(),
  },
  (t) => [index("gate_reasons_decision").on(t.decisionId)],
);

export const releases = sqliteTable(
  "releases",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    engineId: integer("engine_id")
      .notNull()
      .references(() => engines.id),
    gateDecisionId: integer("gate_decision_id")
      .notNull()
      .references(() => gateDecisions.id),
    releasedAt: text("released_at").notNull(),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    /** When a later decision (pass: superseded, fail: revoked) ended this release. */
    endedAt: text("ended_at"),
    endedByDecisionId: integer("ended_by_decision_id").references(() => gateDecisions.id),
  },
  (t) => [index("releases_engine_active").on(t.engineId, t.active)],
);

export type GateDecisionRow = typeof gateDecisions.$inferSelect;
export type GateReasonRow = typeof gateReasons.$inferSelect;
export type ReleaseRow = typeof releases.$inferSelect;
