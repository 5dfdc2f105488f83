/**
 * API keys at the HTTP edge: which key a request presents, whether it may be served (GLOSSA_REQUIRE_KEYS), and
 * the charge of its characters against the key's limits (src/storage/keys.ts does the counting, atomically).
 * Each API family answers refusals in its own dialect: see libreRefusal(), glossaRefusal() and the DeepL routes.
 * The admin key (GLOSSA_ADMIN_KEY) is separate: it is not an API key and API keys never open /admin.
 */
import { existsSync } from "node:fs";
import { isPostgresUrl } from "../config.js";
import { openRegistry, type Registry } from "../storage/db.js";
import { admitRequest, apiKeyUsageOf, findApiKey, msUntilNextPeriod, refundCharacters, usagePeriod, type Admission } from "../storage/keys.js";
import { HttpError } from "./http-error.js";

/** Characters as clients and quotas count them: Unicode code points (an emoji is one character). */
export function countCharacters(texts: readonly string[]): number {
  let n = 0;
  for (const t of texts) {
    n += t.length;
    // Each surrogate pair is two UTF-16 units but one character.
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < t.length) {
        const d = t.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          n--;
          i++;
        }
      }
    }
  }
  return n;
}

/** The key in an Authorization header: `DeepL-Auth-Key KEY` or `Bearer KEY`; undefined when absent. */
export function keyFromAuthorization(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const m = /^(?:DeepL-Auth-Key|Bearer)\s+(\S+)\s*$/i.exec(header.trim());
  return m?.[1];
}

export type Refusal =
  | { reason: "missing" }
  | { reason: "unknown" }
  | { reason: "revoked" }
  | { reason: "rate_limited"; limit: number; retryAfterSeconds: number }
  | { reason: "quota_exceeded"; limit: number; used: number; requested: number; retryAfterSeconds: number };

/** An admitted request: refund() gives its characters back when the translation then fails. */
export interface Grant {
  /** undefined when keys are not required (nothing is counted). */
  readonly keyId: number | undefined;
  refund(): Promise<void>;
}

export type AdmitResult = { ok: true; grant: Grant } | { ok: false; refusal: Refusal };

const NO_GRANT: Grant = { keyId: undefined, refund: async () => undefined };

/** What a key's /v2/usage reports. */
export interface KeyUsage {
  characters: number;
  /** null: unlimited. */
  limit: number | null;
}

export interface AccessGateOptions {
  /** Keys required on every translation route. */
  required: boolean;
  /** Registry database holding the keys (created and migrated when keys are required). */
  dbPath: string;
  log: (msg: string, err?: unknown) => void;
}

/**
 * Key checks for the translation routes. With keys not required every request is admitted and nothing is
 * counted (a key, if sent, is ignored, as LibreTranslate does without --api-keys).
 */
export class AccessGate {
  private constructor(
    readonly required: boolean,
    private readonly registry: Registry | undefined,
  ) {}

  static async open(opts: AccessGateOptions): Promise<AccessGate> {
    if (!opts.required) return new AccessGate(false, undefined);
    const existed = isPostgresUrl(opts.dbPath) || existsSync(opts.dbPath);
    const registry = await openRegistry({ path: opts.dbPath });
    if (!existed) opts.log(`API keys are required but ${opts.dbPath} did not exist: created it; add keys with \`glossa keys create\``);
    return new AccessGate(true, registry);
  }

  /** Keys not required: every request admitted, nothing counted. */
  static disabled(): AccessGate {
    return new AccessGate(false, undefined);
  }

  /**
   * Admits a request presenting `key` that will translate `characters` characters; `countRequest` false for
   * requests that only read (languages, usage), which need a valid key but use no quota.
   */
  async admit(key: string | undefined, characters: number, countRequest = true): Promise<AdmitResult> {
    if (!this.required || !this.registry) return { ok: true, grant: NO_GRANT };
    if (key === undefined || key === "") return { ok: false, refusal: { reason: "missing" } };
    const now = Date.now();
    const a: Admission = await admitRequest(this.registry.db, key, characters, { nowMs: now, countRequest });
    switch (a.kind) {
      case "admitted": {
        const db = this.registry.db;
        let refunded = false;
        return {
          ok: true,
          grant: {
            keyId: a.keyId,
            refund: async () => {
              if (refunded) return;
              refunded = true;
              await refundCharacters(db, a.keyId, a.period, a.characters);
            },
          },
        };
      }
      case "unknown":
        return { ok: false, refusal: { reason: "unknown" } };
      case "revoked":
        return { ok: false, refusal: { reason: "revoked" } };
      case "rate_limited":
        return { ok: false, refusal: { reason: "rate_limited", limit: a.limit, retryAfterSeconds: Math.max(1, Math.ceil(a.retryAfterMs / 1000)) } };
      case "quota_exceeded":
        return {
          ok: false,
          refusal: {
            reason: "quota_exceeded",
            limit: a.limit,
            used: a.used,
            requested: a.requested,
            retryAfterSeconds: Math.max(1, Math.ceil(msUntilNextPeriod(now) / 1000)),
          },
        };
    }
  }

  /** Usage of a valid key this month; undefined for an unknown or revoked key (or when keys are not required). */
  async usage(key: string | undefined): Promise<KeyUsage | undefined> {
    if (!this.registry || key === undefined) return undefined;
    const row = await findApiKey(this.registry.db, key);
    if (!row || row.revokedAt !== null) return undefined;
    const u = await apiKeyUsageOf(this.registry.db, row.id, usagePeriod(Date.now()));
    return { characters: u.characters, limit: row.charsPerMonth };
  }

  async close(): Promise<void> {
    await this.registry?.close();
  }
}

/** LibreTranslate's answers (its access_check and rate limiter), as JSON {error}. */
export function libreRefusal(r: Refusal): HttpError {
  switch (r.reason) {
    case "missing":
      return new HttpError(400, "Please contact the server operator to get an API key");
    case "unknown":
    case "revoked":
      return new HttpError(403, "Invalid API key");
    case "rate_limited":
      return new HttpError(429, `Slowdown: ${r.limit} per 1 minute`, { "retry-after": String(r.retryAfterSeconds) });
    case "quota_exceeded":
      return new HttpError(
        429,
        `Slowdown: character quota of this API key exhausted (${r.used} of ${r.limit} characters this month; the request has ${r.requested})`,
        { "retry-after": String(r.retryAfterSeconds) },
      );
  }
}

/** The Glossa shape's answers: 401 without a key, 403 with a bad one, 429 over a limit (with Retry-After). */
export function glossaRefusal(r: Refusal): HttpError {
  switch (r.reason) {
    case "missing":
      return new HttpError(401, "an API key is required: send Authorization: Bearer KEY (keys are created with `glossa keys create`)", {
        "www-authenticate": 'Bearer realm="glossa"',
      });
    case "unknown":
      return new HttpError(403, "API key rejected: unknown key");
    case "revoked":
      return new HttpError(403, "API key rejected: the key was revoked");
    case "rate_limited":
      return new HttpError(429, `rate limit of this API key reached: ${r.limit} requests per minute`, { "retry-after": String(r.retryAfterSeconds) });
    case "quota_exceeded":
      return new HttpError(429, `character quota of this API key exhausted: ${r.used} of ${r.limit} characters used this month, the request has ${r.requested}`, {
        "retry-after": String(r.retryAfterSeconds),
      });
  }
}
