/**
 * Artifact store in the registry database: the file in 1 MiB chunks (artifact_chunks), then one artifacts row that
 * makes it visible. Puts of the same file from several machines at once are harmless (same chunks, conflicts
 * ignored; the row is written once). Works on PostgreSQL (bytea) and SQLite (blob).
 */
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import { and, asc, eq } from "drizzle-orm";
import { first, inTransaction, violatedConstraint, type Registry } from "../db.js";
import { ArtifactError, ArtifactMissingError, checkSha256 } from "./errors.js";
import type { ArtifactStore } from "./index.js";

export const CHUNK_BYTES = 1 << 20;

export class RegistryArtifactStore implements ArtifactStore {
  readonly description: string;

  constructor(private readonly registry: Registry) {
    this.description = `registry (${registry.location})`;
  }

  async has(sha256: string): Promise<boolean> {
    const { artifacts } = this.registry.db.t;
    return (await first(this.registry.db.orm.select({ id: artifacts.id }).from(artifacts).where(eq(artifacts.sha256, checkSha256(sha256))))) !== undefined;
  }

  async put(sha256: string, file: string): Promise<void> {
    checkSha256(sha256);
    if (await this.has(sha256)) return;
    const db = this.registry.db;
    const { artifactChunks } = db.t;
    const size = (await stat(file)).size;
    const chunks = Math.max(1, Math.ceil(size / CHUNK_BYTES));
    const h = await open(file, "r");
    const hash = createHash("sha256");
    try {
      for (let idx = 0; idx < chunks; idx++) {
        const buf = Buffer.alloc(Math.min(CHUNK_BYTES, size - idx * CHUNK_BYTES));
        const { bytesRead } = await h.read(buf, 0, buf.length, idx * CHUNK_BYTES);
        if (bytesRead !== buf.length) throw new ArtifactError(`${file} shrank while being stored`);
        hash.update(buf);
        const present = await first(db.orm.select({ id: artifactChunks.id }).from(artifactChunks).where(and(eq(artifactChunks.sha256, sha256), eq(artifactChunks.idx, idx))));
        if (present) continue;
        try {
          await db.orm.insert(artifactChunks).values({ sha256, idx, data: buf });
        } catch (e) {
          if (violatedConstraint(e) !== "unique") throw e; // another machine stored the same chunk meanwhile
        }
      }
    } finally {
      await h.close();
    }
    if (hash.digest("hex") !== sha256) throw new ArtifactError(`${file} does not hold the bytes of ${sha256}`);
    await inTransaction(db, async (tx) => {
      const row = await first(tx.orm.select({ id: tx.t.artifacts.id }).from(tx.t.artifacts).where(eq(tx.t.artifacts.sha256, sha256)));
      if (!row) await tx.orm.insert(tx.t.artifacts).values({ sha256, sizeBytes: size, chunkBytes: CHUNK_BYTES, chunks, createdAt: new Date().toISOString() });
    });
  }

  async get(sha256: string, dest: string): Promise<void> {
    const db = this.registry.db;
    const { artifacts, artifactChunks } = db.t;
    const row = await first(db.orm.select().from(artifacts).where(eq(artifacts.sha256, checkSha256(sha256))));
    if (!row) throw new ArtifactMissingError(`${this.description}: no file ${sha256}`);
    const out = await open(dest, "w");
    try {
      let written = 0;
      // One chunk per query: a 600 MB engine never sits in memory at once.
      for (let idx = 0; idx < row.chunks; idx++) {
        const c = await first(db.orm.select({ data: artifactChunks.data }).from(artifactChunks).where(and(eq(artifactChunks.sha256, sha256), eq(artifactChunks.idx, idx))).orderBy(asc(artifactChunks.idx)));
        if (!c) throw new ArtifactError(`${this.description}: file ${sha256} lacks chunk ${idx} of ${row.chunks}`);
        await out.write(c.data, 0, c.data.length, written);
        written += c.data.length;
      }
      if (written !== row.sizeBytes) throw new ArtifactError(`${this.description}: file ${sha256} has ${written} bytes, ${row.sizeBytes} recorded`);
      await out.sync();
    } finally {
      await out.close();
    }
  }
}
