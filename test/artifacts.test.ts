/**
 * Issue 14 item 2: the artifact store (src/storage/artifacts/). Each store (a shared directory; chunks in the
 * registry database on SQLite and on PostgreSQL) stores a file under its sha256 and gives the same bytes back,
 * puts are idempotent, a missing file is a clear error, and a replica fetching an engine it lacks gets a verified
 * content-addressed copy (tampered bytes are refused and leave nothing behind).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { eq } from "drizzle-orm";
import { ArtifactError, ArtifactMissingError, openArtifactStore, type ArtifactStore } from "../src/storage/artifacts/index.js";
import { CHUNK_BYTES } from "../src/storage/artifacts/registry-store.js";
import { ensureLocalFile } from "../src/storage/artifacts/engine-files.js";
import { openRegistry, type Registry } from "../src/storage/db.js";
import { createTestDatabase, pgSkip } from "./helpers/postgres.js";

const skipPg = await pgSkip();
const tmp = mkdtempSync(join(tmpdir(), "glossa-artifacts-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** 2.5 chunks of random bytes (self-made), so chunk boundaries and a short last chunk are exercised. */
function sampleFile(name: string): { path: string; bytes: Buffer; sha256: string } {
  const bytes = randomBytes(Math.floor(CHUNK_BYTES * 2.5));
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  return { path, bytes, sha256: sha(bytes) };
}

async function roundTrip(store: ArtifactStore, registry: Registry | undefined): Promise<void> {
  const f = sampleFile(`engine-${Math.random().toString(36).slice(2)}.bin`);
  assert.equal(await store.has(f.sha256), false);
  await assert.rejects(store.get(f.sha256, join(tmp, "nothing")), ArtifactMissingError);
  await store.put(f.sha256, f.path);
  await store.put(f.sha256, f.path); // idempotent
  assert.equal(await store.has(f.sha256), true);
  const back = join(tmp, `back-${f.sha256.slice(0, 8)}`);
  await store.get(f.sha256, back);
  assert.ok(readFileSync(back).equals(f.bytes), `${store.description}: same bytes back`);
  await assert.rejects(store.get("not-a-sha", back), ArtifactError);

  // A replica without the file: fetched into its engines folder under the content-addressed name, verified.
  const replicaRoot = join(tmp, `replica-${Math.random().toString(36).slice(2)}`);
  const local = await ensureLocalFile(store, f.sha256, replicaRoot);
  assert.equal(local, join(replicaRoot, `${f.sha256}.safetensors`));
  assert.ok(readFileSync(local).equals(f.bytes));
  assert.equal(await ensureLocalFile(store, f.sha256, replicaRoot), local, "present: not fetched again");

  // Bytes damaged in the store are refused by the replica, which keeps nothing.
  if (registry) {
    const { artifactChunks } = registry.db.t;
    const [c] = await registry.db.orm.select().from(artifactChunks).where(eq(artifactChunks.sha256, f.sha256)).limit(1);
    const bad = Buffer.from(c!.data);
    bad[7] = bad[7]! ^ 0xff;
    await registry.db.orm.update(artifactChunks).set({ data: bad }).where(eq(artifactChunks.id, c!.id));
  } else {
    writeFileSync(join((store as unknown as { dir: string }).dir, f.sha256), Buffer.concat([f.bytes.subarray(0, 100), Buffer.from("tampered")]));
  }
  const other = join(tmp, `replica-bad-${Math.random().toString(36).slice(2)}`);
  await assert.rejects(ensureLocalFile(store, f.sha256, other), new RegExp(f.sha256));
  assert.deepEqual(existsSync(other) ? readdirSync(other) : [], [], "no file left after a refused fetch");
  await assert.rejects(ensureLocalFile(undefined, sha(randomBytes(8)), other), /no artifact store is configured/);
}

describe("artifact store", () => {
  it("setting: none, registry, dir:/path, an absolute path; anything else is refused", async () => {
    const reg = await openRegistry({ path: join(tmp, "settings.sqlite") });
    try {
      assert.equal(openArtifactStore(undefined, reg), undefined);
      assert.equal(openArtifactStore("none", reg), undefined);
      assert.match(openArtifactStore("registry", reg)!.description, /^registry \(/);
      assert.match(openArtifactStore("postgres", reg)!.description, /^registry \(/);
      assert.equal(openArtifactStore(`dir:${tmp}/shared`, reg)!.description, `dir:${tmp}/shared`);
      assert.equal(openArtifactStore(`${tmp}/shared`, reg)!.description, `dir:${tmp}/shared`);
      assert.throws(() => openArtifactStore("s4://bucket", reg), /GLOSSA_ARTIFACTS must be/);
    } finally {
      await reg.close();
    }
  });

  it("shared directory", async () => {
    const reg = await openRegistry({ path: join(tmp, "dir.sqlite") });
    try {
      await roundTrip(openArtifactStore(`dir:${join(tmp, "shared")}`, reg)!, undefined);
    } finally {
      await reg.close();
    }
  });

  it("chunks in the registry database (SQLite)", async () => {
    const reg = await openRegistry({ path: join(tmp, "chunks.sqlite") });
    try {
      await roundTrip(openArtifactStore("registry", reg)!, reg);
    } finally {
      await reg.close();
    }
  });

  it("chunks in the registry database (PostgreSQL)", { skip: skipPg }, async () => {
    const db = await createTestDatabase("artifacts");
    try {
      const reg = await openRegistry({ path: db.url });
      try {
        await roundTrip(openArtifactStore("registry", reg)!, reg);
      } finally {
        await reg.close();
      }
    } finally {
      await db.drop();
    }
  });
});
