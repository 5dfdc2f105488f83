/**
 * Repository: API keys, their limits and their usage.
 *
 * A key is shown once, at creation; the registry keeps its SHA-256 digest and a short prefix for display.
 * admitRequest() is the one place where limits are enforced: it checks the key, its requests-per-minute window
 * and its characters-per-month budget and records the request, all in one transaction that holds the key's row
 * (SQLite: the write transaction; PostgreSQL: SELECT ... FOR UPDATE under serializable isolation), so that any
 * number of concurrent requests (and processes sharing the database) can never admit more than the limits.
 */
import { createHash, randomBytes } from "node:crypto";
import { and, asc, count, eq, lt, sql } from "drizzle-orm";
import { first, inTransaction, lockRow, one, type RegistryDb } from "./db.js";
import type { ApiKeyRow } from "./schema/keys.js";

/** Prefix of every generated key: tells a Glossa key apart from other secrets in logs and config files. */
export const KEY_PREFIX = "glossa_";
/** Characters of the key kept in clear for display (the prefix plus a few random characters). */
const DISPLAY_CHARS = KEY_PREFIX.length + 6;
const MINUTE_MS = 60_000;

export interface NewApiKey {
  name: string;
  /** Characters per calendar month (UTC); undefined/null = unlimited. */
  charsPerMonth?: number | null;
  /** Requests per sliding minute; undefined/null = unlimited. */
  requestsPerMinute?: number | null;
}

export interface CreatedApiKey {
  /** The secret, in clear: shown to the operator once, never stored. */
  key: string;
  row: ApiKeyRow;
}

export interface ApiKeyListing {
  row: ApiKeyRow;
  /** Usage in the period asked for. */
  characters: number;
  requests: number;
}

export type Admission =
  | { kind: "admitted"; keyId: number; period: string; characters: number }
  | { kind: "unknown" }
  | { kind: "revoked"; keyId: number }
  | { kind: "rate_limited"; keyId: number; limit: number; retryAfterMs: number }
  | { kind: "quota_exceeded"; keyId: number; limit: number; used: number; requested: number };

export class KeyError extends Error {
  override readonly name = "KeyError";
}

/** Lower-case hex SHA-256 of the key's UTF-8 bytes: what the registry stores. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** The calendar month (UTC) a usage count belongs to, e.g. "2026-11". */
export function usagePeriod(atMs: number): string {
  return new Date(atMs).toISOString().slice(0, 7);
}

/** Milliseconds from atMs to the start of the next calendar month (UTC), when a monthly budget refills. */
export function msUntilNextPeriod(atMs: number): number {
  const d = new Date(atMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - atMs;
}

function checkLimit(v: number | null | undefined, what: string): number | null {
  if (v === undefined || v === null) return null;
  if (!Number.isSafeInteger(v) || v < 0) throw new KeyError(`${what} must be a non-negative integer, got ${String(v)}`);
  return v;
}

/** Creates a key with its limits; the returned secret is never stored and cannot be shown again. */
export async function createApiKey(db: RegistryDb, k: NewApiKey): Promise<CreatedApiKey> {
  const name = k.name.trim();
  if (name === "") throw new KeyError("a key needs a name");
  const charsPerMonth = checkLimit(k.charsPerMonth, "characters per month");
  const requestsPerMinute = checkLimit(k.requestsPerMinute, "requests per minute");
  const key = KEY_PREFIX + randomBytes(24).toString("base64url");
  const { apiKeys } = db.t;
  const row = await one(
    db.orm
    .insert(apiKeys)
    .values({
      name,
      keyHash: hashApiKey(key),
      keyPrefix: key.slice(0, DISPLAY_CHARS),
      charsPerMonth,
      requestsPerMinute,
      createdAt: new Date().toISOString(),
      revokedAt: null,
    })
    .returning(),
  );
  return { key, row };
}

/** Every key (revoked ones too when `all`), oldest first, with its usage in `period`. */
export async function listApiKeys(db: RegistryDb, opts: { period: string; all?: boolean }): Promise<ApiKeyListing[]> {
  const { apiKeys, apiKeyUsage } = db.t;
  const rows = await db.orm
    .select({ row: apiKeys, characters: apiKeyUsage.characters, requests: apiKeyUsage.requests })
    .from(apiKeys)
    .leftJoin(apiKeyUsage, and(eq(apiKeyUsage.keyId, apiKeys.id), eq(apiKeyUsage.period, opts.period)))
    .orderBy(asc(apiKeys.id));
  return rows
    .filter((r) => opts.all || r.row.revokedAt === null)
    .map((r) => ({ row: r.row, characters: r.characters ?? 0, requests: r.requests ?? 0 }));
}

/**
 * Revokes the key with this id, or the one whose display prefix starts with `ref` (it must be unambiguous).
 * Returns the row as revoked; KeyError when no key or several keys match. Revoking twice keeps the first date.
 */
export async function revokeApiKey(db: RegistryDb, ref: string): Promise<ApiKeyRow> {
  return inTransaction(db, async (tx) => {
    const { apiKeys } = tx.t;
    const row = await resolveKey(tx, ref);
    if (row.revokedAt !== null) return row;
    return one(tx.orm.update(apiKeys).set({ revokedAt: new Date().toISOString() }).where(eq(apiKeys.id, row.id)).returning());
  });
}

async function resolveKey(tx: RegistryDb, ref: string): Promise<ApiKeyRow> {
  const { apiKeys } = tx.t;
  const r = ref.trim();
  if (/^\d+$/.test(r)) {
    const row = await first(tx.orm.select().from(apiKeys).where(eq(apiKeys.id, Number(r))));
    if (!row) throw new KeyError(`no API key with id ${r}`);
    return row;
  }
  if (r.length < 4) throw new KeyError(`"${r}" is too short to identify a key: give its id or its prefix`);
  // A full key given by mistake is found by its digest; otherwise by its display prefix.
  const exact = await first(tx.orm.select().from(apiKeys).where(eq(apiKeys.keyHash, hashApiKey(r))));
  if (exact) return exact;
  const all: ApiKeyRow[] = await tx.orm.select().from(apiKeys);
  const matches = all.filter((k) => k.keyPrefix.startsWith(r) || r.startsWith(k.keyPrefix));
  if (matches.length === 0) throw new KeyError(`no API key matches "${r}"`);
  if (matches.length > 1) throw new KeyError(`"${r}" matches ${matches.length} keys (ids ${matches.map((m) => m.id).join(", ")}): give the id`);
  return matches[0]!;
}

/** The key's row by its secret, revoked or not; undefined when unknown. */
export async function findApiKey(db: RegistryDb, key: string): Promise<ApiKeyRow | undefined> {
  const { apiKeys } = db.t;
  return first(db.orm.select().from(apiKeys).where(eq(apiKeys.keyHash, hashApiKey(key))));
}

/** A key's usage in a period (zeros when it has none). */
export async function apiKeyUsageOf(db: RegistryDb, keyId: number, period: string): Promise<{ characters: number; requests: number }> {
  const { apiKeyUsage } = db.t;
  const u = await first(db.orm.select().from(apiKeyUsage).where(and(eq(apiKeyUsage.keyId, keyId), eq(apiKeyUsage.period, period))));
  return { characters: u?.characters ?? 0, requests: u?.requests ?? 0 };
}

/**
 * Admits one request of `characters` characters for the key, or says why not; when admitted, the request is
 * counted (monthly characters and requests, and the minute window) before the transaction commits.
 * `characters` may be 0 (a request that translates nothing still counts against requests per minute when
 * `countRequest` is true, the default).
 */
export async function admitRequest(
  db: RegistryDb,
  key: string,
  characters: number,
  opts: { nowMs?: number; countRequest?: boolean } = {},
): Promise<Admission> {
  if (!Number.isSafeInteger(characters) || characters < 0) throw new KeyError(`characters must be a non-negative integer, got ${characters}`);
  const now = opts.nowMs ?? Date.now();
  const countRequest = opts.countRequest ?? true;
  const digest = hashApiKey(key);
  return inTransaction(db, async (tx): Promise<Admission> => {
    const { apiKeys, apiKeyUsage, apiKeyRequests } = tx.t;
    const row = await first(tx.orm.select().from(apiKeys).where(eq(apiKeys.keyHash, digest)));
    if (!row) return { kind: "unknown" };
    if (row.revokedAt !== null) return { kind: "revoked", keyId: row.id };
    // One admission per key at a time (PostgreSQL: FOR UPDATE; SQLite's write transaction holds the database).
    await lockRow(tx, apiKeys, apiKeys.id, row.id);
    if (countRequest && row.requestsPerMinute !== null) {
      await tx.orm.delete(apiKeyRequests).where(and(eq(apiKeyRequests.keyId, row.id), lt(apiKeyRequests.atMs, now - MINUTE_MS + 1)));
      const recent = (await first(tx.orm.select({ n: count() }).from(apiKeyRequests).where(eq(apiKeyRequests.keyId, row.id))))?.n ?? 0;
      if (Number(recent) >= row.requestsPerMinute) {
        const oldest = await first(
          tx.orm.select({ at: apiKeyRequests.atMs }).from(apiKeyRequests).where(eq(apiKeyRequests.keyId, row.id)).orderBy(asc(apiKeyRequests.atMs)).limit(1),
        );
        const retryAfterMs = oldest ? Math.max(1, oldest.at + MINUTE_MS - now) : MINUTE_MS;
        return { kind: "rate_limited", keyId: row.id, limit: row.requestsPerMinute, retryAfterMs };
      }
    }
    const period = usagePeriod(now);
    const usage = await first(
      tx.orm.select({ characters: apiKeyUsage.characters }).from(apiKeyUsage).where(and(eq(apiKeyUsage.keyId, row.id), eq(apiKeyUsage.period, period))),
    );
    const used = usage?.characters ?? 0;
    if (row.charsPerMonth !== null && used + characters > row.charsPerMonth) {
      return { kind: "quota_exceeded", keyId: row.id, limit: row.charsPerMonth, used, requested: characters };
    }
    if (countRequest && row.requestsPerMinute !== null) await tx.orm.insert(apiKeyRequests).values({ keyId: row.id, atMs: now });
    const requests = countRequest ? 1 : 0;
    if (characters > 0 || requests > 0) {
      await tx.orm
        .insert(apiKeyUsage)
        .values({ keyId: row.id, period, characters, requests })
        .onConflictDoUpdate({
          target: [apiKeyUsage.keyId, apiKeyUsage.period],
          set: {
            characters: sql`${apiKeyUsage.characters} + ${characters}`,
            requests: sql`${apiKeyUsage.requests} + ${requests}`,
          },
        });
    }
    return { kind: "admitted", keyId: row.id, period, characters };
  });
}

/**
 * Gives back characters charged by admitRequest() for a request that then failed (engine error, deadline,
 * queue full...): the client is billed only for what was translated. Never goes below zero.
 */
export async function refundCharacters(db: RegistryDb, keyId: number, period: string, characters: number): Promise<void> {
  if (characters <= 0) return;
  const { apiKeyUsage } = db.t;
  await db.orm
    .update(apiKeyUsage)
    .set({ characters: sql`case when ${apiKeyUsage.characters} > ${characters} then ${apiKeyUsage.characters} - ${characters} else 0 end` })
    .where(and(eq(apiKeyUsage.keyId, keyId), eq(apiKeyUsage.period, period)));
}
