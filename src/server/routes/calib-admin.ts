/**
 * Calibration-data admin routes, a Hono sub-app the server mounts under /admin:
 *
 *   GET  /calib-data                 the calibration sets                       -> { sets: SetSummary[] }
 *   GET  /calib-data/:set/stats      one set's statistics                       -> SetStats
 *   POST /calib-data/sample          { lang, size?, seed?, name?, replace? }     -> 201 SetSummary
 *   POST /calib-data/:set/exclude    { sha256?: string[], lines?: string[], reason, refill? } -> ExcludeResult
 *
 * Every route requires the admin key (header `Authorization: Bearer <key>` or `x-admin-key: <key>`,
 * key from deps.adminKey, deps.settings.adminKey or env GLOSSA_ADMIN_KEY): no key given -> 401,
 * a wrong key or none configured -> 403. Errors are JSON { error }.
 */
import { timingSafeEqual, createHash } from "node:crypto";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { openRegistry, type Registry, type RegistryDb } from "../../storage/db.js";
import { calibManifestDir } from "../../calib/data/context.js";
import { corporaDir, evalDir, repoRoot } from "../../config.js";
import { CalibDataError, CalibInputError, CalibNotFoundError, CorpusChangedError } from "../../calib/data/errors.js";
import { excludeMembers, listSets, sampleSet, setStats, type CalibDataContext } from "../../calib/data/service.js";

export interface CalibAdminDeps {
  /** An open registry; when absent one is opened from dbPath (or the configured default) on first use. */
  readonly db?: RegistryDb;
  readonly dbPath?: string;
  /** The admin key; falls back to settings.adminKey, then env GLOSSA_ADMIN_KEY. */
  readonly adminKey?: string;
  readonly settings?: { readonly adminKey?: string | undefined };
  readonly corpora?: string;
  readonly manifestDir?: string;
  readonly evalDir?: string;
  readonly repoRoot?: string;
  readonly log?: (line: string) => void;
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/** 401 without credentials, 403 with wrong ones (or when no key is configured). */
export function requireAdminKey(key: () => string | undefined): MiddlewareHandler {
  return async (c, next) => {
    const bearer = /^Bearer\s+(\S.*)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
    const given = bearer ?? c.req.header("x-admin-key");
    if (given === undefined || given === "") {
      return c.json({ error: "admin key required: send Authorization: Bearer <GLOSSA_ADMIN_KEY> or x-admin-key" }, 401);
    }
    const expected = key();
    if (expected === undefined || expected === "") return c.json({ error: "admin key not configured on this server (GLOSSA_ADMIN_KEY)" }, 403);
    // Compare fixed-length digests: constant time and no length leak.
    if (!timingSafeEqual(digest(given), digest(expected))) return c.json({ error: "admin key rejected" }, 403);
    await next();
  };
}

export function calibAdminRoutes(deps: CalibAdminDeps = {}): Hono {
  const app = new Hono();
  const adminKey = (): string | undefined => deps.adminKey ?? deps.settings?.adminKey ?? process.env.GLOSSA_ADMIN_KEY;
  let ctx: Promise<CalibDataContext> | undefined;
  const open = async (): Promise<CalibDataContext> => {
    let db = deps.db;
    if (db === undefined) {
      const registry: Registry = await openRegistry(deps.dbPath !== undefined ? { path: deps.dbPath } : {});
      db = registry.db;
    }
    return {
      db,
      corpora: deps.corpora ?? corporaDir(),
      repoRoot: deps.repoRoot ?? repoRoot(),
      manifestDir: deps.manifestDir ?? calibManifestDir(),
      evalDir: deps.evalDir ?? evalDir(),
      ...(deps.log ? { log: deps.log } : {}),
    };
  };
  const context = (): Promise<CalibDataContext> => {
    ctx ??= open().catch((e: unknown) => {
      ctx = undefined; // a failed open is retried by the next request
      throw e;
    });
    return ctx;
  };

  const auth = requireAdminKey(adminKey);
  app.use("/calib-data", auth);
  app.use("/calib-data/*", auth);

  app.get("/calib-data", (c) => handle(c, async () => ({ sets: await listSets(await context()) })));

  app.get("/calib-data/:set/stats", (c) => handle(c, async () => setStats(await context(), c.req.param("set"))));

  app.post("/calib-data/sample", async (c) => {
    const body = await jsonBody(c);
    if (body instanceof Response) return body;
    return handle(
      c,
      async () => {
        const lang = field(body, "lang", "string", true)!;
        const size = field(body, "size", "number", false);
        const seed = field(body, "seed", "string", false);
        const name = field(body, "name", "string", false);
        const replace = field(body, "replace", "boolean", false);
        return sampleSet(await context(), {
          lang,
          ...(size !== undefined ? { size } : {}),
          ...(seed !== undefined ? { seed } : {}),
          ...(name !== undefined ? { name } : {}),
          replace: replace ?? false,
        });
      },
      201,
    );
  });

  app.post("/calib-data/:set/exclude", async (c) => {
    const body = await jsonBody(c);
    if (body instanceof Response) return body;
    return handle(c, async () => {
      const hashes = stringList(body, "sha256");
      const lines = stringList(body, "lines");
      const reason = field(body, "reason", "string", true)!;
      const refill = field(body, "refill", "boolean", false);
      return excludeMembers(await context(), c.req.param("set"), { ids: [...hashes, ...lines], reason, refill: refill ?? false });
    });
  });

  app.all("/calib-data/*", (c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  return app;
}

export default calibAdminRoutes;

type FieldType = { string: string; number: number; boolean: boolean };

function field<K extends keyof FieldType>(body: Record<string, unknown>, key: string, type: K, required: boolean): FieldType[K] | undefined {
  const v = body[key];
  if (v === undefined || v === null) {
    if (required) throw new CalibInputError(`"${key}" is required`);
    return undefined;
  }
  if (typeof v !== type) throw new CalibInputError(`"${key}" must be a ${type}`);
  return v as FieldType[K];
}

function stringList(body: Record<string, unknown>, key: string): string[] {
  const v = body[key];
  if (v === undefined || v === null) return [];
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) throw new CalibInputError(`"${key}" must be a string or a list of strings`);
  return list;
}

async function jsonBody(c: Context): Promise<Record<string, unknown> | Response> {
  let parsed: unknown;
  try {
    parsed = await c.req.json();
  } catch {
    return c.json({ error: "body must be a JSON object" }, 400);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return c.json({ error: "body must be a JSON object" }, 400);
  return parsed as Record<string, unknown>;
}

async function handle(c: Context, fn: () => Promise<unknown>, okStatus: 200 | 201 = 200): Promise<Response> {
  try {
    return c.json((await fn()) as object, okStatus);
  } catch (e) {
    if (e instanceof CalibNotFoundError) return c.json({ error: e.message }, 404);
    if (e instanceof CalibInputError) return c.json({ error: e.message }, 400);
    if (e instanceof CorpusChangedError) return c.json({ error: e.message }, 409);
    if (e instanceof CalibDataError) return c.json({ error: e.message }, 500);
    throw e;
  }
}
