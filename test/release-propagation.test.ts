/**
 * Issue 14 items 2 and 3: three server processes (`node dist/src/server/main.js`) on one PostgreSQL registry, each
 * with its own engines folder, as if on three machines. The engine was built "elsewhere": its registered path does
 * not exist here, its bytes are only in the artifact store (GLOSSA_ARTIFACTS=registry: chunks in the PostgreSQL
 * database). A release is served by all three (each fetches the bytes, checks them against the registry's sha256,
 * keeps them in its engines folder), a revocation sends all three back to the reference, each within 2 s of the
 * commit (LISTEN/NOTIFY; polling every second is the fallback). The first release also fetches and loads the
 * engine in each process, so it is not timed; the revocation and a second release are.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { modelDir } from "../src/config.js";
import { openArtifactStore } from "../src/storage/artifacts/index.js";
import { openRegistry, type Registry } from "../src/storage/db.js";
import { ensureReferenceEngine, registerEngine } from "../src/storage/engines.js";
import { sha256File } from "../src/storage/hashing.js";
import { recordGateDecision } from "../src/storage/releases.js";
import { buildTestEngine, SKIP as CALIB_SKIP } from "./calib-fixture.js";
import { createTestDatabase, pgSkip } from "./helpers/postgres.js";
import { entryCommand, spawnCapturing, waitForOutput } from "./helpers/process.js";

const MODEL = modelDir();
const pgSkipReason = await pgSkip();
const skip = pgSkipReason || CALIB_SKIP || (existsSync(join(MODEL, "config.json")) ? false : `no model at ${MODEL}`);
const BOUND_MS = 2000;

interface Replica {
  child: ChildProcess;
  url: string;
  output(): string;
}

async function startReplica(db: string, enginesDir: string): Promise<Replica> {
  const p = spawnCapturing(entryCommand("server/main"), {
    PORT: "0", GLOSSA_HOST: "127.0.0.1", GLOSSA_THREADS: "1", GLOSSA_MODEL: MODEL, GLOSSA_DB: db, GLOSSA_SHUTDOWN_GRACE_MS: "2000",
    GLOSSA_ARTIFACTS: "registry", GLOSSA_ENGINES_DIR: enginesDir,
  });
  const end = Date.now() + 180_000;
  const [, url] = await waitForOutput(p, /glossa listening on (http:\/\/\S+)/, 180_000);
  await waitForOutput(p, /glossa ready/, end - Date.now());
  return { child: p.child, url: url!, output: p.output };
}

/** Which engine answers an en -> de request on this replica. */
async function engineOf(r: Replica): Promise<string> {
  const res = await fetch(`${r.url}/translate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: "Good morning.", source_lang: "en", target_lang: "de", options: { max_new_tokens: 8 } }),
  });
  const body = (await res.json()) as { engine?: string; error?: string };
  assert.equal(res.status, 200, body.error);
  return body.engine!;
}

/** Polls every replica until it answers with `engine`; returns, per replica, ms from `since` to the first such request. */
async function waitSwitch(replicas: Replica[], engine: string, since: number, limitMs: number): Promise<number[]> {
  return Promise.all(
    replicas.map(async (r) => {
      for (;;) {
        const sent = Date.now();
        if ((await engineOf(r)) === engine) return sent - since;
        if (Date.now() - since > limitMs) throw new Error(`${r.url} still not on ${engine} after ${limitMs} ms:\n${r.output().slice(-2000)}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    }),
  );
}

describe("release propagation across replicas", { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), "glossa-replicas-"));
  const replicas: Replica[] = [];
  let reg: Registry | undefined;
  let drop: (() => Promise<void>) | undefined;
  after(async () => {
    for (const r of replicas) r.child.kill("SIGTERM");
    await Promise.all(replicas.map((r) => new Promise((res) => (r.child.exitCode !== null ? res(null) : r.child.once("exit", res)))));
    await reg?.close();
    await drop?.();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("three servers on one PostgreSQL switch to a release and back within 2 s", async () => {
    const db = await createTestDatabase("replicas");
    drop = db.drop;
    reg = await openRegistry({ path: db.url });
    const reference = await ensureReferenceEngine(reg.db, MODEL);
    const built = await buildTestEngine(join(tmp, "builder"), "int8", 8);
    const sha256 = await sha256File(built.path);
    // Registered under the builder machine's path (absent on the replicas' "machines"), published to the store.
    const engine = await registerEngine(reg.db, {
      name: "glossa-mini-50/int8-en-test", modelId: reference.modelId, file: join("/nonexistent-builder-machine", `${sha256}.safetensors`), recipe: "int8", language: "en",
      fileSha256: sha256, sizeBytes: statSync(built.path).size,
    });
    const store = openArtifactStore("registry", reg)!;
    await store.put(sha256, built.path);
    const dirs = [0, 1, 2].map((i) => join(tmp, `replica-${i}-engines`));
    const gate = (decision: "pass" | "fail") =>
      recordGateDecision(reg!.db, { engineId: engine.id, referenceEngineId: reference.id, decision, tolerances: {}, summary: `test ${decision}`, reasons: [] });

    for (const r of await Promise.all(dirs.map((d) => startReplica(db.url, d)))) replicas.push(r);
    for (const r of replicas) assert.equal(await engineOf(r), reference.name);

    await gate("pass");
    const loaded = await waitSwitch(replicas, engine.name, Date.now(), 120_000); // includes fetching and loading the engine
    for (const d of dirs) assert.ok(readFileSync(join(d, `${sha256}.safetensors`)).equals(readFileSync(built.path)), `${d}: fetched bytes`);
    await gate("fail");
    const t1 = Date.now();
    const revoked = await waitSwitch(replicas, reference.name, t1, 10_000);
    await gate("pass");
    const t2 = Date.now();
    const released = await waitSwitch(replicas, engine.name, t2, 10_000);
    process.stdout.write(`# propagation ms: first release (with load) ${loaded.join(", ")}; revocation ${revoked.join(", ")}; release ${released.join(", ")}\n`);
    for (const ms of [...revoked, ...released]) assert.ok(ms <= BOUND_MS, `a replica switched after ${ms} ms (bound ${BOUND_MS})`);
  });
});
