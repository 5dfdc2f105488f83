/**
 * Registry schema, evaluation domain: evaluation sets (one row per set, direction and text version)
 * and evaluation runs (one row per engine, set and direction scored).
 */
import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { engines } from "./models.js";

export const evalSets = sqliteTable(
  "eval_sets",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** Set name as in the manifests, e.g. "flores200-dev", "tatoeba". */
    name: text("name").notNull(),
    /** Direction, e.g. "de-en". */
    pair: text("pair").notNull(),
    srcLang: text("src_lang").notNull(),
    tgtLang: text("tgt_lang").notNull(),
    /** Paths relative to the corpora folder. */
    sourceFile: text("source_file").notNull(),
    refFile: text("ref_file").notNull(),
    lines: integer("lines").notNull(),
    /** sha256 of the source and reference files' bytes the manifest expects. */
    sourceSha256: text("source_sha256").notNull(),
    refSha256: text("ref_sha256").notNull(),
    createdAt: text("created_at").notNull(),
  },
  // A changed text is a different set version: runs stay attached to the text they scored.
  (t) => [uniqueIndex("eval_sets_identity").on(t.name, t.pair, t.sourceSha256, t.refSha256)],
);

export const evalRuns = sqliteTable(
  "eval_runs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    engineId: integer("engine_id")
      .notNull()
      .references(() => engines.id),
    evalSetId: integer("eval_set_id")
      .notNull()
      .references(() => evalSets.id),
    pair: text("pair").notNull(),
    bleu: real("bleu").notNull(),
    /** chrF++ (word order 2). */
    chrf: real("chrf").notNull(),
    bleuSignature: text("bleu_signature").notNull(),
    chrfSignature: text("chrf_signature").notNull(),
    /** Sentences translated and scored. */
    sentences: integer("sentences").notNull(),
    /** `--limit N` (first N lines) when given, else null (whole set). */
    lineLimit: integer("line_limit"),
    wallSeconds: real("wall_seconds").notNull(),
    /** JSON DecodeOptions actually used. */
    decodeOptions: text("decode_options").notNull(),
    /** sha256 of the hypotheses joined by "\n": tells identical outputs apart from equal scores. */
    hypSha256: text("hyp_sha256").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("eval_runs_engine_set").on(t.engineId, t.evalSetId)],
);

export type EvalSetRow = typeof evalSets.$inferSelect;
export type EvalRunRow = typeof evalRuns.$inferSelect;
export type NewEvalRunRow = typeof evalRuns.$inferInsert;
