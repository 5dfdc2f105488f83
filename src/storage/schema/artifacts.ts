/**
 * Registry schema, artifact domain: content-addressed files (engine files) stored in the registry database itself,
 * in chunks, for GLOSSA_ARTIFACTS=registry (src/storage/artifacts/registry-store.ts). A file is readable once its
 * artifacts row exists: chunks are written first, the row last.
 */
import { sql } from "drizzle-orm";
import { blob, check, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const artifacts = sqliteTable(
  "artifacts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** sha256 of the whole file (hex). */
    sha256: text("sha256").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    chunkBytes: integer("chunk_bytes").notNull(),
    chunks: integer("chunks").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [uniqueIndex("artifacts_sha256").on(t.sha256), check("artifacts_size_nonnegative", sql`${t.sizeBytes} >= 0`)],
);

export const artifactChunks = sqliteTable(
  "artifact_chunks",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    sha256: text("sha256").notNull(),
    /** 0-based chunk number. */
    idx: integer("idx").notNull(),
    data: blob("data", { mode: "buffer" }).notNull(),
  },
  (t) => [uniqueIndex("artifact_chunks_position").on(t.sha256, t.idx)],
);

export type ArtifactRow = typeof artifacts.$inferSelect;
