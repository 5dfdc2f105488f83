/**
 * Registry schema, API keys domain: the keys clients present (stored as SHA-256 digests, never in clear),
 * their limits, their monthly usage and the timestamps of their recent requests (a sliding one-minute window).
 *
 * Keys are random 192-bit secrets, so a plain SHA-256 digest is enough to make a stolen database useless
 * for authenticating (no password-style slow hash is needed for high-entropy secrets).
 */
import { sql } from "drizzle-orm";
import { check, index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** Human label given at creation (who or what uses the key). */
    name: text("name").notNull(),
    /** Lower-case hex SHA-256 of the key's UTF-8 bytes. */
    keyHash: text("key_hash").notNull(),
    /** The key's first characters, shown by `glossa keys list` to tell keys apart. */
    keyPrefix: text("key_prefix").notNull(),
    /** Characters translatable per calendar month (UTC); null = unlimited. */
    charsPerMonth: integer("chars_per_month"),
    /** Requests per sliding minute; null = unlimited. */
    requestsPerMinute: integer("requests_per_minute"),
    createdAt: text("created_at").notNull(),
    /** Set when revoked; a revoked key is refused at once. */
    revokedAt: text("revoked_at"),
  },
  (t) => [
    uniqueIndex("api_keys_hash").on(t.keyHash),
    check("api_keys_chars_positive", sql`${t.charsPerMonth} is null or ${t.charsPerMonth} >= 0`),
    check("api_keys_rpm_positive", sql`${t.requestsPerMinute} is null or ${t.requestsPerMinute} >= 0`),
  ],
);

/** Characters and requests counted per key and calendar month ("2026-11", UTC). */
export const apiKeyUsage = sqliteTable(
  "api_key_usage",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    keyId: integer("key_id")
      .notNull()
      .references(() => apiKeys.id),
    period: text("period").notNull(),
    characters: integer("characters").notNull().default(0),
    requests: integer("requests").notNull().default(0),
  },
  (t) => [uniqueIndex("api_key_usage_key_period").on(t.keyId, t.period)],
);

/** One row per admitted request of a key with a requests-per-minute limit, pruned past one minute. */
export const apiKeyRequests = sqliteTable(
  "api_key_requests",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    keyId: integer("key_id")
      .notNull()
      .references(() => apiKeys.id),
    /** Milliseconds since the epoch. */
    atMs: integer("at_ms").notNull(),
  },
  (t) => [index("api_key_requests_key_time").on(t.keyId, t.atMs)],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type ApiKeyUsageRow = typeof apiKeyUsage.$inferSelect;
