/**
 * Registry schema, models domain: checkpoints and the engines built from them.
 * An engine is what serves translations: a model's weights in one precision recipe (the unquantized
 * reference, or a per-language INT8 / AWQ-INT4 build), plus optional decode-option overrides.
 */
import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const models = sqliteTable(
  "models",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** Checkpoint name, the folder's base name (e.g. "glossa-mini-50"). */
    name: text("name").notNull(),
    /** Absolute folder path when the row was created. */
    dir: text("dir").notNull(),
    /** sha256 of config.json's bytes. */
    configSha256: text("config_sha256").notNull(),
    /** sha256 over the weight files (see src/storage/hashing.ts). */
    weightsSha256: text("weights_sha256").notNull(),
    /** JSON [[file, size, mtimeMs], ...] of the weight files: lets a later open skip re-hashing unchanged files. */
    weightsFingerprint: text("weights_fingerprint").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [uniqueIndex("models_identity").on(t.dir, t.configSha256, t.weightsSha256)],
);

export const engines = sqliteTable(
  "engines",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** Unique human name, e.g. "glossa-mini-50" (reference) or "glossa-mini-50/int8-de". */
    name: text("name").notNull(),
    modelId: integer("model_id")
      .notNull()
      .references(() => models.id),
    /** Engine file, or the model folder for the unquantized reference. */
    file: text("file").notNull(),
    /** Precision recipe: "fp32" for the reference, "int8", "awq-int4", ... */
    recipe: text("recipe").notNull(),
    /** ISO code of the language the engine was calibrated for; null when it serves all languages. */
    language: text("language"),
    /** The model's unquantized engine: the gate's baseline, released by definition. */
    isReference: integer("is_reference", { mode: "boolean" }).notNull().default(false),
    /** sha256 of the engine file (the model's weights hash for the reference). */
    fileSha256: text("file_sha256").notNull(),
    /** sha256 of the calibration set the engine was built from; null for the reference. */
    calibrationSha256: text("calibration_sha256"),
    sizeBytes: integer("size_bytes").notNull(),
    /** JSON Partial<DecodeOptions> applied whenever this engine translates; null for none. */
    decodeOptions: text("decode_options"),
    createdAt: text("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("engines_name").on(t.name),
    index("engines_model").on(t.modelId),
    check("engines_size_nonnegative", sql`${t.sizeBytes} >= 0`),
  ],
);

export type ModelRow = typeof models.$inferSelect;
export type EngineRow = typeof engines.$inferSelect;
export type NewEngineRow = typeof engines.$inferInsert;
