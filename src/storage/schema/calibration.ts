/**
 * Registry schema, calibration domain: each language's candidate pool (training lines that passed the
 * curation filters, packed per source file), calibration sets drawn from it, their members with
 * provenance, and exclusions.
 * Text is never stored: a line is (corpus-relative file, 1-based line, sha256 of the line as stored).
 */
import { sql } from "drizzle-orm";
import { blob, check, index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { engines } from "./models.js";

/** One row per language: the latest `calib-data import`. Re-importing replaces the row and its sources. */
export const calibPools = sqliteTable(
  "calib_pools",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** ISO 639-1 code, e.g. "de". */
    lang: text("lang").notNull(),
    /** "whitespace-token" or "character" (Han). */
    unit: text("unit").notNull(),
    candidates: integer("candidates").notNull(),
    /** JSON: filter thresholds used (script share, length bounds, segment length). */
    options: text("options").notNull(),
    /** JSON: { reason: count } of rejected lines. */
    rejected: text("rejected").notNull(),
    /** JSON: [{ file, targetFile?, lines, accepted }]. */
    sources: text("sources").notNull(),
    /** Fingerprint of the evaluation sentences checked against (see calib/data/eval-index.ts). */
    evalFingerprint: text("eval_fingerprint").notNull(),
    evalFiles: integer("eval_files").notNull(),
    evalSentences: integer("eval_sentences").notNull(),
    importedAt: text("imported_at").notNull(),
  },
  (t) => [uniqueIndex("calib_pools_lang").on(t.lang)],
);

/**
 * One row per training file of a pool: the file's sha256 when imported (a changed file makes the pool
 * stale) and the pool's candidates from it, packed: line numbers and lengths as little-endian int32
 * arrays. Hashes, script shares and references are re-read from the corpora for drawn lines only, so
 * a pool of a quarter million English lines costs about 2 MB instead of one wide row per line.
 */
export const calibPoolSources = sqliteTable(
  "calib_pool_sources",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    poolId: integer("pool_id")
      .notNull()
      .references(() => calibPools.id, { onDelete: "cascade" }),
    /** Corpus-relative path, e.g. "train/en-de/multi30k.de". */
    file: text("file").notNull(),
    fileSha256: text("file_sha256").notNull(),
    lines: integer("lines").notNull(),
    /** Aligned other side (same line numbers), null when the corpus has none. */
    targetLang: text("target_lang"),
    targetFile: text("target_file"),
    targetFileSha256: text("target_file_sha256"),
    accepted: integer("accepted").notNull(),
    /** Int32 LE: 1-based line numbers of the candidates, ascending. */
    candidateLines: blob("candidate_lines", { mode: "buffer" }).notNull(),
    /** Int32 LE: each candidate's length in the pool's unit, aligned with candidate_lines. */
    candidateUnits: blob("candidate_units", { mode: "buffer" }).notNull(),
  },
  (t) => [uniqueIndex("calib_pool_sources_file").on(t.poolId, t.file)],
);

export const calibSets = sqliteTable(
  "calib_sets",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** Unique name; the manifest is calib-data/<name>.json. */
    name: text("name").notNull(),
    lang: text("lang").notNull(),
    seed: text("seed").notNull(),
    requestedSize: integer("requested_size").notNull(),
    size: integer("size").notNull(),
    /** sha256 identifying the membership (calib/data/manifest.ts setHash); changes on exclusion. */
    setHash: text("set_hash").notNull(),
    unit: text("unit").notNull(),
    /** JSON [short, medium, long] inclusive upper bounds in `unit`. */
    bucketEdges: text("bucket_edges").notNull(),
    /** JSON: the pool's filter thresholds when drawn. */
    options: text("options").notNull(),
    evalFingerprint: text("eval_fingerprint").notNull(),
    /** Manifest path relative to the repository root. */
    manifestPath: text("manifest_path").notNull(),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [uniqueIndex("calib_sets_name").on(t.name), index("calib_sets_lang").on(t.lang)],
);

export const calibSetMembers = sqliteTable(
  "calib_set_members",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    setId: integer("set_id")
      .notNull()
      .references(() => calibSets.id, { onDelete: "cascade" }),
    file: text("file").notNull(),
    line: integer("line").notNull(),
    sha256: text("sha256").notNull(),
    normHash: text("norm_hash").notNull(),
    bucket: text("bucket", { enum: ["short", "medium", "long", "very_long"] }).notNull(),
    units: integer("units").notNull(),
    scriptShare: real("script_share").notNull(),
    targetLang: text("target_lang"),
    targetFile: text("target_file"),
    targetLine: integer("target_line"),
    targetSha256: text("target_sha256"),
  },
  (t) => [
    uniqueIndex("calib_set_members_line").on(t.setId, t.file, t.line),
    check("calib_set_members_bucket", sql`${t.bucket} in ('short', 'medium', 'long', 'very_long')`),
  ],
);

/** Lines removed from a set by `calib-data exclude`; they are also skipped by later draws for the language. */
export const calibExclusions = sqliteTable(
  "calib_exclusions",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    setId: integer("set_id").references(() => calibSets.id, { onDelete: "set null" }),
    /** Set name at exclusion time (kept when the set is later deleted). */
    setName: text("set_name").notNull(),
    lang: text("lang").notNull(),
    file: text("file").notNull(),
    line: integer("line").notNull(),
    sha256: text("sha256").notNull(),
    normHash: text("norm_hash").notNull(),
    reason: text("reason").notNull(),
    excludedAt: text("excluded_at").notNull(),
  },
  (t) => [index("calib_exclusions_lang").on(t.lang)],
);

/**
 * The calibration profile of a calibrated engine, as `glossa calibrate` wrote it into the engine file's metadata
 * (src/calib/build.ts report: KL estimate and measurement, per-unit precision, KL per precision tried, AWQ alpha).
 * Kept in the registry so the dashboard shows it without the engine file.
 */
export const engineProfiles = sqliteTable("engine_profiles", {
  engineId: integer("engine_id")
    .primaryKey()
    .references(() => engines.id),
  /** JSON: the report. */
  report: text("report").notNull(),
  createdAt: text("created_at").notNull(),
});

export type EngineProfileRow = typeof engineProfiles.$inferSelect;
export type CalibPoolRow = typeof calibPools.$inferSelect;
export type CalibPoolSourceRow = typeof calibPoolSources.$inferSelect;
export type CalibSetRow = typeof calibSets.$inferSelect;
export type CalibSetMemberRow = typeof calibSetMembers.$inferSelect;
export type CalibExclusionRow = typeof calibExclusions.$inferSelect;
