/**
 * API keys in the registry: stored as digests, limits enforced by admitRequest() (monthly characters, sliding
 * minute), revocation, refunds, and exact counting when several connections (worker threads, as separate
 * processes would) admit requests on one database at the same time.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { openRegistry } from "../src/storage/db.js";
import { createTestDatabase, pgSkip } from "./helpers/postgres.js";
import {
  admitRequest, apiKeyUsageOf, createApiKey, findApiKey, hashApiKey, KEY_PREFIX, KeyError, listApiKeys, msUntilNextPeriod,
  refundCharacters, revokeApiKey, usagePeriod,
} from "../src/storage/keys.js";

const tmp = mkdtempSync(join(tmpdir(), "glossa-keys-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
const freshPath = (): string => join(tmp, `db${++counter}.sqlite`);

const NOV_15 = Date.UTC(2026, 10, 15, 12, 0, 0);

describe("API keys storage", () => {
  it("creates keys shown once and stores only their digest", async () => {
    const path = freshPath();
    const reg = await openRegistry({ path });
    const { key, row } = await createApiKey(reg.db, { name: "ci bot", charsPerMonth: 1000, requestsPerMinute: 10 });
    assert.ok(key.startsWith(KEY_PREFIX) && key.length >= KEY_PREFIX.length + 30, key);
    assert.equal(row.keyHash, hashApiKey(key));
    assert.ok(key.startsWith(row.keyPrefix) && row.keyPrefix.length < key.length - 20);
    assert.equal((await findApiKey(reg.db, key))?.id, row.id);
    assert.equal(await findApiKey(reg.db, `${key}x`), undefined);
    const second = await createApiKey(reg.db, { name: "other" });
    assert.notEqual(second.key, key);
    assert.equal(second.row.charsPerMonth, null);
    await reg.close();
    // Neither the database file nor its WAL holds the secret.
    for (const f of [path, `${path}-wal`]) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(f);
      } catch {
        continue;
      }
      assert.equal(bytes.includes(Buffer.from(key)), false, `${f} contains the key in clear`);
    }
  });

  it("refuses invalid limits and names", async () => {
    const reg = await openRegistry({ path: freshPath() });
    await assert.rejects(createApiKey(reg.db, { name: "  " }), KeyError);
    await assert.rejects(createApiKey(reg.db, { name: "x", charsPerMonth: -1 }), KeyError);
    await assert.rejects(createApiKey(reg.db, { name: "x", requestsPerMinute: 1.5 }), KeyError);
    await reg.close();
  });

  it("enforces characters per month and starts afresh the next month", async () => {
    const reg = await openRegistry({ path: freshPath() });
    const { key, row } = await createApiKey(reg.db, { name: "monthly", charsPerMonth: 100 });
    assert.deepEqual(await admitRequest(reg.db, key, 60, { nowMs: NOV_15 }), { kind: "admitted", keyId: row.id, period: "2026-11", characters: 60 });
    assert.equal((await admitRequest(reg.db, key, 40, { nowMs: NOV_15 })).kind, "admitted");
    const refused = await admitRequest(reg.db, key, 1, { nowMs: NOV_15 });
    assert.deepEqual(refused, { kind: "quota_exceeded", keyId: row.id, limit: 100, used: 100, requested: 1 });
    // A request that asks for nothing is still admitted at the limit.
    assert.equal((await admitRequest(reg.db, key, 0, { nowMs: NOV_15 })).kind, "admitted");
    assert.deepEqual(await apiKeyUsageOf(reg.db, row.id, "2026-11"), { characters: 100, requests: 3 });
    const december = Date.UTC(2026, 11, 1, 0, 0, 0);
    assert.equal(msUntilNextPeriod(december - 1), 1);
    assert.equal((await admitRequest(reg.db, key, 100, { nowMs: december })).kind, "admitted");
    assert.deepEqual(await apiKeyUsageOf(reg.db, row.id, "2026-12"), { characters: 100, requests: 1 });
    await reg.close();
  });

  it("enforces requests per sliding minute, with the time until a slot frees", async () => {
    const reg = await openRegistry({ path: freshPath() });
    const { key } = await createApiKey(reg.db, { name: "rpm", requestsPerMinute: 3 });
    const t = NOV_15;
    for (const dt of [0, 10_000, 20_000]) assert.equal((await admitRequest(reg.db, key, 5, { nowMs: t + dt })).kind, "admitted");
    const limited = await admitRequest(reg.db, key, 5, { nowMs: t + 30_000 });
    assert.equal(limited.kind, "rate_limited");
    assert.equal(limited.kind === "rate_limited" && limited.retryAfterMs, 30_000);
    // A rate-limited request is not counted: usage is 3 requests, 15 characters.
    const id = (await findApiKey(reg.db, key))!.id;
    assert.deepEqual(await apiKeyUsageOf(reg.db, id, "2026-11"), { characters: 15, requests: 3 });
    // 60 s after the first request its slot is free again; the other two still count.
    assert.equal((await admitRequest(reg.db, key, 5, { nowMs: t + 60_000 })).kind, "admitted");
    assert.equal((await admitRequest(reg.db, key, 5, { nowMs: t + 60_001 })).kind, "rate_limited");
    // Requests that are not counted (languages, usage) pass the window untouched.
    assert.equal((await admitRequest(reg.db, key, 0, { nowMs: t + 60_001, countRequest: false })).kind, "admitted");
    await reg.close();
  });

  it("revokes by id or prefix, refuses revoked and unknown keys, lists usage", async () => {
    const reg = await openRegistry({ path: freshPath() });
    const a = await createApiKey(reg.db, { name: "a" });
    const b = await createApiKey(reg.db, { name: "b", charsPerMonth: 50 });
    await admitRequest(reg.db, b.key, 7, { nowMs: NOV_15 });
    assert.deepEqual(await admitRequest(reg.db, "glossa_nope", 1), { kind: "unknown" });
    const revoked = await revokeApiKey(reg.db, a.row.keyPrefix);
    assert.equal(revoked.id, a.row.id);
    assert.ok(revoked.revokedAt);
    assert.deepEqual(await admitRequest(reg.db, a.key, 1), { kind: "revoked", keyId: a.row.id });
    assert.equal((await revokeApiKey(reg.db, String(a.row.id))).revokedAt, revoked.revokedAt, "revoking twice keeps the date");
    await assert.rejects(revokeApiKey(reg.db, "999"), /no API key with id 999/);
    await assert.rejects(revokeApiKey(reg.db, KEY_PREFIX), /matches 2 keys/);
    await assert.rejects(revokeApiKey(reg.db, "abc"), /too short/);
    const active = await listApiKeys(reg.db, { period: "2026-11" });
    assert.deepEqual(active.map((k) => [k.row.name, k.characters, k.requests]), [["b", 7, 1]]);
    const all = await listApiKeys(reg.db, { period: "2026-11", all: true });
    assert.deepEqual(all.map((k) => k.row.name), ["a", "b"]);
    await reg.close();
  });

  it("refunds characters of a failed request, never below zero", async () => {
    const reg = await openRegistry({ path: freshPath() });
    const { key, row } = await createApiKey(reg.db, { name: "refund", charsPerMonth: 10 });
    const adm = await admitRequest(reg.db, key, 10, { nowMs: NOV_15 });
    assert.equal(adm.kind, "admitted");
    assert.equal((await admitRequest(reg.db, key, 1, { nowMs: NOV_15 })).kind, "quota_exceeded");
    await refundCharacters(reg.db, row.id, "2026-11", 4);
    assert.equal((await admitRequest(reg.db, key, 4, { nowMs: NOV_15 })).kind, "admitted");
    await refundCharacters(reg.db, row.id, "2026-11", 1000);
    assert.equal((await apiKeyUsageOf(reg.db, row.id, "2026-11")).characters, 0);
    assert.equal(usagePeriod(NOV_15), "2026-11");
    await reg.close();
  });

  it("counts exactly when 4 connections admit 64 requests each at once", async () => {
    const path = freshPath();
    const reg = await openRegistry({ path });
    // Room for 150 requests of 7 characters; 256 are attempted.
    const { key, row } = await createApiKey(reg.db, { name: "shared", charsPerMonth: 7 * 150, requestsPerMinute: 200 });
    // Compiled (dist/test) the modules are .js; under tsx they are .ts and the worker needs tsx's loader.
    const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
    const keysModule = new URL(`../src/storage/keys.${ext}`, import.meta.url).href;
    const dbModule = new URL(`../src/storage/db.${ext}`, import.meta.url).href;
    const code = `
      const { workerData, parentPort } = require("node:worker_threads");
      (async () => {
        if (workerData.tsx) (await import("tsx/esm/api")).register();
        const { openRegistry } = await import(workerData.dbModule);
        const { admitRequest } = await import(workerData.keysModule);
        const reg = await openRegistry({ path: workerData.path });
        const outcomes = await Promise.all(Array.from({ length: 64 }, () => admitRequest(reg.db, workerData.key, 7, { nowMs: workerData.now })));
        await reg.close();
        parentPort.postMessage(outcomes.map((o) => o.kind));
      })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
    `;
    const runs = Array.from({ length: 4 }, () =>
      new Promise<string[]>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { path, key, keysModule, dbModule, now: NOV_15, tsx: ext === "ts" } });
        w.once("message", (m: unknown) => (Array.isArray(m) ? resolve(m as string[]) : reject(new Error(JSON.stringify(m)))));
        w.once("error", reject);
      }),
    );
    const kinds = (await Promise.all(runs)).flat();
    const admitted = kinds.filter((k) => k === "admitted").length;
    const refused = kinds.filter((k) => k === "quota_exceeded" || k === "rate_limited").length;
    assert.equal(kinds.length, 256);
    assert.equal(admitted + refused, 256);
    // 150 fit the monthly budget (the minute allows 200): exactly those are admitted and counted.
    assert.equal(admitted, 150);
    assert.deepEqual(await apiKeyUsageOf(reg.db, row.id, "2026-11"), { characters: 7 * 150, requests: 150 });
    await reg.close();
  });
});

describe("API keys on PostgreSQL", { skip: await pgSkip() }, () => {
  it("admits exactly what the limits allow under 64 concurrent requests over a pool of connections", async () => {
    const database = await createTestDatabase("keys");
    try {
      const a = await openRegistry({ path: database.url });
      const b = await openRegistry({ path: database.url });
      try {
        const { key, row } = await createApiKey(a.db, { name: "shared", charsPerMonth: 7 * 25, requestsPerMinute: 40 });
        // Two registries (two pools) race on one key: 25 fit the month, 40 the minute.
        const kinds = await Promise.all(Array.from({ length: 64 }, (_, i) => admitRequest((i % 2 ? a : b).db, key, 7, { nowMs: NOV_15 })));
        assert.equal(kinds.filter((k) => k.kind === "admitted").length, 25);
        assert.ok(kinds.every((k) => k.kind === "admitted" || k.kind === "quota_exceeded"));
        assert.deepEqual(await apiKeyUsageOf(a.db, row.id, "2026-11"), { characters: 175, requests: 25 });
        const burst = await createApiKey(a.db, { name: "burst", requestsPerMinute: 10 });
        const r = await Promise.all(Array.from({ length: 64 }, (_, i) => admitRequest((i % 2 ? a : b).db, burst.key, 0, { nowMs: NOV_15 })));
        assert.equal(r.filter((k) => k.kind === "admitted").length, 10);
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await database.drop();
    }
  });
});
