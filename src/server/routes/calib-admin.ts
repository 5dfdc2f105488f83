/**
 * Calibration-data admin routes, a Hono sub-app the server mounts under /admin:
 *
 *   GET  /calib-data                 the calibration sets                       -> { sets: SetSummary[] }
 *   GET  /calib-data/:set/stats      one set's statistics                       -> SetStats
 *   POST /calib-data/sample          { lang, size?, seed?, name?, replace? }     -> 202 Job (result: SetSummary)
 *   POST /calib-data/:set/exclude    { sha256?: string[], lines?: string[], reason, refill? } -> 202 Job (result: ExcludeResult)
 *   GET  /jobs, GET /jobs/:id        admin jobs: status queued|running|succeeded|failed, log, result or error
 *
 * Drawing a set reads the corpora and builds candidate pools (seconds to minutes of CPU): the two writing routes
 * check their input at once (400), then answer 202 with a job (Location: /admin/jobs/<id>) and do the work in a
 * worker thread (calib-admin-worker.ts), one job at a time, so the server's event loop keeps serving. Bodies are
 * held to the server's size limit (GLOSSA_MAX_BODY_BYTES: 413 beyond).
 *
 * Every route requires the admin key (header `Authorization: Bearer <key>` or `x-admin-key: <key>`,
 * key from deps.adminKey, deps.settings.adminKey or env GLOSSA_ADMIN_KEY): no key given -> 401,
 * a wrong key or none configured -> 403. Errors are JSON { error }.
 */
import { timingSafeEqual, createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { openRegistry, type Registry, type RegistryDb } from "../../storage/db.js";
import { calibManifestDir } from "../../calib/data/context.js";
import { corporaDir, evalDir, repoRoot } from "../../config.js";
import { CalibDataError, CalibInputError, CalibNotFoundError, CorpusChangedError } from "../../calib/data/errors.js";
import { excludeMembers, listSets, sampleSet, setStats, type CalibDataContext } from "../../calib/data/service.js";
import { resolveLanguage } from "../../languages.js";
import { decodeUtf8, parseJsonBody, readBodyBytes } from "../body.js";
import { HttpError } from "../http-error.js";
import { JobError, JobQueueFullError, JobRunner, type JobView } from "../jobs.js";
import type { AdminJobInput, AdminJobMessage } from "./calib-admin-worker.js";

export interface CalibAdminDeps {
  /** An open registry; when absent one is opened from dbPath (or the configured default) on first use. */
  readonly db?: RegistryDb;
  readonly dbPath?: string;
  /** The admin key; falls back to settings.adminKey, then env GLOSSA_ADMIN_KEY. */
  readonly adminKey?: string;
  readonly settings?: { readonly adminKey?: string | undefined; readonly maxBodyBytes?: number };
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

  const jobContext = () => ({
    ...(deps.dbPath !== undefined ? { dbPath: deps.dbPath } : {}),
    corpora: deps.corpora ?? corporaDir(),
    repoRoot: deps.repoRoot ?? repoRoot(),
    manifestDir: deps.manifestDir ?? calibManifestDir(),
    evalDir: deps.evalDir ?? evalDir(),
  });
  // An open registry handle cannot move to another thread: with deps.db (embedders' tests) jobs run here.
  const jobs = new JobRunner(deps.db === undefined ? (kind, params, log) => runInWorker({ kind: kind as AdminJobInput["kind"], params: params as Record<string, unknown>, context: jobContext() }, log) : async (kind, params) => {
    const ctx = await context();
    const p = params as Record<string, unknown>;
    try {
      return kind === "calib-data.sample" ? await sampleSet(ctx, p as never) : await excludeMembers(ctx, String(p.set), p as never);
    } catch (e) {
      throw new JobError(e instanceof Error ? e.message : String(e), statusOf(e));
    }
  });
  const maxBodyBytes = deps.settings?.maxBodyBytes ?? 1 << 20;
  const startJob = (c: Context, kind: AdminJobInput["kind"], params: Record<string, unknown>): Response => {
    let job: JobView;
    try {
      job = jobs.submit(kind, params);
    } catch (e) {
      if (e instanceof JobQueueFullError) return c.json({ error: e.message }, 429, { "retry-after": "10" });
      throw e;
    }
    const location = `${c.req.path.replace(/\/calib-data\/.*$/, "")}/jobs/${job.id}`;
    return c.json(job, 202, { location });
  };

  app.post("/calib-data/sample", async (c) => {
    const body = await jsonBody(c, maxBodyBytes);
    if (body instanceof Response) return body;
    try {
      const lang = field(body, "lang", "string", true)!;
      if (!resolveLanguage(lang)) throw new CalibInputError(`unknown language "${lang.slice(0, 20)}"`);
      const size = field(body, "size", "number", false);
      if (size !== undefined && (!Number.isInteger(size) || size < 1 || size > 100_000)) throw new CalibInputError(`"size" must be an integer in 1..100000`);
      const seed = field(body, "seed", "string", false);
      const name = field(body, "name", "string", false);
      const replace = field(body, "replace", "boolean", false);
      return startJob(c, "calib-data.sample", {
        lang,
        ...(size !== undefined ? { size } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(name !== undefined ? { name } : {}),
        replace: replace ?? false,
      });
    } catch (e) {
      if (e instanceof CalibInputError) return c.json({ error: e.message }, 400);
      throw e;
    }
  });

  app.post("/calib-data/:set/exclude", async (c) => {
    const body = await jsonBody(c, maxBodyBytes);
    if (body instanceof Response) return body;
    try {
      const hashes = stringList(body, "sha256");
      const lines = stringList(body, "lines");
      const reason = field(body, "reason", "string", true)!;
      const refill = field(body, "refill", "boolean", false);
      return startJob(c, "calib-data.exclude", { set: c.req.param("set"), ids: [...hashes, ...lines], reason, refill: refill ?? false });
    } catch (e) {
      if (e instanceof CalibInputError) return c.json({ error: e.message }, 400);
      throw e;
    }
  });

  app.use("/jobs", auth);
  app.use("/jobs/*", auth);
  app.get("/jobs", (c) => c.json({ jobs: jobs.list() }));
  app.get("/jobs/:id", (c) => {
    const job = jobs.get(c.req.param("id"));
    return job ? c.json(job) : c.json({ error: `no admin job ${c.req.param("id").slice(0, 64)}` }, 404);
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

/** The JSON object body, read within the size limit; a Response (400/413/415) when it is not one. */
async function jsonBody(c: Context, limit: number): Promise<Record<string, unknown> | Response> {
  let parsed: unknown;
  try {
    parsed = parseJsonBody(decodeUtf8(await readBodyBytes(c.req.raw, limit)));
  } catch (e) {
    if (e instanceof HttpError) return c.json({ error: e.message }, e.status as 400);
    throw e;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return c.json({ error: "body must be a JSON object" }, 400);
  return parsed as Record<string, unknown>;
}

function statusOf(e: unknown): number {
  if (e instanceof CalibNotFoundError) return 404;
  if (e instanceof CalibInputError) return 400;
  if (e instanceof CorpusChangedError) return 409;
  return 500;
}

/** Runs one admin job in a worker thread; its log lines arrive as it goes. */
function runInWorker(input: AdminJobInput, log: (line: string) => void): Promise<unknown> {
  const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
  const worker = new Worker(new URL(`./calib-admin-worker.${ext}`, import.meta.url), { workerData: input });
  // A job left running must not keep a finished process alive.
  worker.unref();
  return new Promise((resolve, reject) => {
    let settled = false;
    worker.on("message", (m: AdminJobMessage) => {
      if (m.type === "log") log(m.line);
      else if (m.type === "done") {
        settled = true;
        resolve(m.result);
      } else {
        settled = true;
        reject(new JobError(m.message, m.status));
      }
    });
    worker.on("error", (e) => {
      if (!settled) reject(new JobError(`admin job worker failed: ${e.message}`, 500));
      settled = true;
    });
    worker.on("exit", (code) => {
      if (!settled) reject(new JobError(`admin job worker exited with code ${code} before finishing`, 500));
      settled = true;
    });
  });
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
