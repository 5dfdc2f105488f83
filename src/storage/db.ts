/**
 * Opening the registry database and running transactions, behind one dialect-neutral, asynchronous API.
 *
 *   const reg = await openRegistry();            // GLOSSA_DB or var/glossa.sqlite; migrations applied
 *   const { engines } = reg.db.t;                 // the tables of this database's dialect
 *   const rows = await reg.db.orm.select().from(engines).where(eq(engines.id, 3));
 *   await inTransaction(reg.db, async (tx) => { ...queries on tx.orm / tx.t... });
 *   await reg.close();
 *
 * Rules for repository code (what keeps it dialect-neutral):
 * - Every query is awaited as a whole (`await q` gives the rows; `.returning()` for inserted/updated rows).
 *   Never call `.get()`, `.all()`, `.run()` or `.values()` on a query: those exist on SQLite only.
 *   `first(q)` / `one(q)` give one row.
 * - Tables come from `db.t`, never from importing src/storage/schema/* directly (import those for types only).
 * - ORDER BY on a text column: `byText(db, col)` (code-point order in both dialects).
 * - Transactions: `inTransaction(db, async (tx) => ...)`; inside, use only `tx` (a query on the outer handle
 *   there is refused, as it would deadlock on SQLite). A transaction body may run more than once (retried after
 *   a serialization conflict), so it does registry work only: hash files and read inputs before it.
 *
 * SQLite (better-sqlite3, the embedded default): one connection per Registry, WAL journal, foreign keys on,
 * busy timeout 10 s. Queries go through drizzle's async sqlite-proxy driver onto that connection; a transaction
 * (BEGIN IMMEDIATE) holds the connection exclusively until it commits, and other queries of the process wait
 * for it (as they would for a connection from a pool).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import Database from "better-sqlite3";
import pg from "pg";
import { drizzle as drizzleNodePg, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate as migrateNodePg } from "drizzle-orm/node-postgres/migrator";
import { sql, type SQL } from "drizzle-orm";
import { drizzle as drizzleBetterSqlite } from "drizzle-orm/better-sqlite3";
import { migrate as migrateBetterSqlite } from "drizzle-orm/better-sqlite3/migrator";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import { drizzle as drizzleSqliteProxy, type SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { dbPath, isPostgresUrl, migrationsDir } from "../config.js";
import { pgSchema } from "./pg-tables.js";
import * as schema from "./schema/index.js";

export type Dialect = "sqlite" | "postgres";

/** The registry's tables (typed as the SQLite declarations; `db.t` holds the dialect's own objects). */
export type Schema = typeof schema;

/**
 * drizzle's query builder as repositories use it: select / insert / update / delete, each awaited.
 * Typed as drizzle's asynchronous SQLite database.
 */
export type Orm = SqliteRemoteDatabase;

const BACKEND: unique symbol = Symbol("glossa.registry.backend");

/** A handle on the registry: the database, or one transaction on it. Repositories take this. */
export interface RegistryDb {
  readonly dialect: Dialect;
  /** drizzle's query builder on this handle's connection (or transaction). */
  readonly orm: Orm;
  /** This dialect's tables. */
  readonly t: Schema;
  /** True on the handle a transaction body receives. */
  readonly inTransaction: boolean;
  /** @internal */
  readonly [BACKEND]: Backend;
}

/** Kept for readability at call sites: a function that works on the database or inside a transaction. */
export type DbOrTx = RegistryDb;

export interface Registry {
  readonly db: RegistryDb;
  readonly dialect: Dialect;
  /** The database file (SQLite), or the URL without its password (PostgreSQL). */
  readonly location: string;
  /** SQLite: the database file (same as location). */
  readonly path: string;
  /** SQLite only: the raw connection, for pragmas and tests. */
  readonly sqlite: Database.Database | undefined;
  /**
   * PostgreSQL only (undefined on SQLite): LISTEN on a channel over a dedicated connection, reconnecting after a
   * lost connection (onReconnect is called then: notifications may have been missed). Returns the unsubscribe.
   */
  readonly listen: ((channel: string, onMessage: (payload: string) => void, onReconnect?: () => void) => Promise<() => Promise<void>>) | undefined;
  close(): Promise<void>;
}

export interface OpenOptions {
  /**
   * A SQLite database file (":memory:" works too) or a postgres:// URL; default dbPath() (env GLOSSA_DB or
   * var/glossa.sqlite).
   */
  path?: string;
  /** drizzle-kit output folder to apply; default the repository's migrations/ (SQLite) or migrations/postgres/. */
  migrationsFolder?: string;
  /** PostgreSQL: connections in the pool (default 10). */
  poolSize?: number;
  /** PostgreSQL: where errors of idle pooled connections go (default: written to stderr). */
  onPoolError?: (err: Error) => void;
}

export class StorageError extends Error {
  override readonly name = "StorageError";
}

interface Backend {
  transaction<T>(fn: (tx: RegistryDb) => Promise<T>): Promise<T>;
}

/** Which backend's transaction the current async context is running inside (see the guard in queries). */
const txContext = new AsyncLocalStorage<Backend>();

function handle(dialect: Dialect, orm: Orm, t: Schema, inTx: boolean, backend: Backend): RegistryDb {
  return Object.freeze({ dialect, orm, t, inTransaction: inTx, [BACKEND]: backend });
}

/** Opens (creating when missing) and migrates the registry database. */
export async function openRegistry(opts: OpenOptions = {}): Promise<Registry> {
  const path = opts.path ?? dbPath();
  if (isPostgresUrl(path)) return openPostgres(path, opts);
  return openSqlite(path, opts.migrationsFolder ?? migrationsDir("sqlite"));
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  }
}

/**
 * Runs fn in one transaction, committed when it resolves, rolled back when it throws. Called with a
 * transaction's handle, fn simply joins that transaction.
 */
export async function inTransaction<T>(db: RegistryDb, fn: (tx: RegistryDb) => Promise<T>): Promise<T> {
  if (db.inTransaction) return fn(db);
  return db[BACKEND].transaction(fn);
}

/**
 * An ORDER BY term for a text column that sorts the same in both dialects: by code point (SQLite's BINARY
 * collation; on PostgreSQL COLLATE "C", whatever collation the database was created with).
 */
export function byText(db: RegistryDb, column: SQLiteColumn): SQLiteColumn | SQL {
  return db.dialect === "postgres" ? sql`${column} collate "C"` : column;
}

export type ConstraintKind = "unique" | "foreign_key" | "check" | "not_null";

const SQLITE_CONSTRAINTS: Record<string, ConstraintKind> = {
  SQLITE_CONSTRAINT_UNIQUE: "unique",
  SQLITE_CONSTRAINT_PRIMARYKEY: "unique",
  SQLITE_CONSTRAINT_FOREIGNKEY: "foreign_key",
  SQLITE_CONSTRAINT_CHECK: "check",
  SQLITE_CONSTRAINT_NOTNULL: "not_null",
};
const PG_CONSTRAINTS: Record<string, ConstraintKind> = { "23505": "unique", "23503": "foreign_key", "23514": "check", "23502": "not_null" };

/**
 * Which constraint a failed query violated, in either dialect (drizzle wraps the driver's error: "Failed
 * query: ...", cause = the driver error), or undefined for any other error.
 */
export function violatedConstraint(e: unknown): ConstraintKind | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 4; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code !== "string") continue;
    const kind = SQLITE_CONSTRAINTS[code] ?? PG_CONSTRAINTS[code];
    if (kind) return kind;
  }
  return undefined;
}

/**
 * Inside a transaction: tells listeners of `channel` (Registry.listen) once the transaction commits (PostgreSQL
 * NOTIFY is transactional; nothing is sent on rollback). On SQLite nothing is sent: watchers poll (one machine).
 */
export async function notifyOnCommit(tx: RegistryDb, channel: string, payload: string): Promise<void> {
  if (!tx.inTransaction) throw new StorageError("notifyOnCommit needs a transaction's handle");
  if (tx.dialect !== "postgres") return;
  await (tx.orm as unknown as NodePgDatabase).execute(sql`select pg_notify(${channel}, ${payload})`);
}

/**
 * Inside a transaction, locks one row (by its integer id column) until the transaction ends, so that
 * transactions about the same thing (e.g. gate decisions of one engine) run one after the other and their rows'
 * ids follow their commit order. PostgreSQL: SELECT ... FOR UPDATE; SQLite: nothing to do, a transaction
 * (BEGIN IMMEDIATE) already holds the whole database.
 */
export async function lockRow(tx: RegistryDb, table: SQLiteTable, idColumn: SQLiteColumn, id: number): Promise<void> {
  if (!tx.inTransaction) throw new StorageError("lockRow needs a transaction's handle");
  if (tx.dialect !== "postgres") return;
  await (tx.orm as unknown as NodePgDatabase).execute(sql`select 1 from ${table} where ${idColumn} = ${id} for update`);
}

/** The first row of a query, or undefined. */
export async function first<T>(rows: PromiseLike<T[]>): Promise<T | undefined> {
  return (await rows)[0];
}

/** The one row a query must give (an INSERT ... RETURNING, a lookup known to succeed). */
export async function one<T>(rows: PromiseLike<T[]>, what = "query"): Promise<T> {
  const r = await rows;
  if (r.length === 0) throw new StorageError(`${what}: no row`);
  return r[0]!;
}

// ---------------------------------------------------------------------------------------------------------
// SQLite

type Method = "run" | "all" | "values" | "get";

/** FIFO lock: a transaction holds it until it ends; plain queries wait while it is held. */
class Lock {
  private held = false;
  private readonly waiters: Array<() => void> = [];

  get busy(): boolean {
    return this.held;
  }

  async acquire(): Promise<() => void> {
    if (this.held) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.held = true;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.held = false;
    };
  }
}

class SqliteBackend implements Backend {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly lock = new Lock();
  readonly db: RegistryDb;

  constructor(readonly conn: Database.Database) {
    const orm = drizzleSqliteProxy(async (sql, params, method) => {
      if (txContext.getStore() === this) {
        throw new StorageError("a registry query on the database handle inside one of its own transactions: use the transaction's handle there");
      }
      if (!this.lock.busy) return this.exec(sql, params, method);
      const release = await this.lock.acquire();
      try {
        return this.exec(sql, params, method);
      } finally {
        release();
      }
    });
    this.db = handle("sqlite", orm, schema, false, this);
  }

  private statement(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.conn.prepare(sql);
      if (s.reader) s.raw(true);
      if (this.statements.size >= 256) this.statements.delete(this.statements.keys().next().value!);
      this.statements.set(sql, s);
    }
    return s;
  }

  private exec(sql: string, params: unknown[], method: Method): { rows: unknown[] } {
    const s = this.statement(sql);
    if (!s.reader) {
      s.run(params);
      return { rows: [] };
    }
    if (method === "get") return { rows: s.get(params) as unknown[] };
    return { rows: s.all(params) as unknown[] };
  }

  async transaction<T>(fn: (tx: RegistryDb) => Promise<T>): Promise<T> {
    if (txContext.getStore() === this) {
      throw new StorageError("a registry transaction opened on the database handle inside one of its own transactions: use the transaction's handle there");
    }
    const release = await this.lock.acquire();
    let open = true;
    const orm = drizzleSqliteProxy(async (sql, params, method) => {
      if (!open) throw new StorageError("a registry transaction's handle was used after the transaction ended");
      return this.exec(sql, params, method);
    });
    const tx = handle("sqlite", orm, schema, true, this);
    try {
      this.conn.exec("BEGIN IMMEDIATE");
      try {
        const result = await txContext.run(this, () => fn(tx));
        this.conn.exec("COMMIT");
        return result;
      } catch (e) {
        if (this.conn.inTransaction) this.conn.exec("ROLLBACK");
        throw e;
      }
    } finally {
      open = false;
      release();
    }
  }
}

function openSqlite(path: string, migrationsFolder: string): Registry {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  let conn: Database.Database;
  try {
    conn = new Database(path);
  } catch (e) {
    throw new StorageError(`cannot open registry database ${path}: ${(e as Error).message}`);
  }
  try {
    conn.pragma("busy_timeout = 10000");
    if (path !== ":memory:") conn.pragma("journal_mode = WAL");
    conn.pragma("foreign_keys = ON");
    applySqliteMigrations(conn, migrationsFolder);
  } catch (e) {
    conn.close();
    if (e instanceof StorageError) throw e;
    throw new StorageError(`cannot prepare registry database ${path}: ${(e as Error).message}`);
  }
  const backend = new SqliteBackend(conn);
  let closed = false;
  return {
    db: backend.db,
    dialect: "sqlite",
    location: path,
    path,
    sqlite: conn,
    listen: undefined,
    close: async () => {
      if (closed) return;
      closed = true;
      conn.close();
    },
  };
}

/**
 * Applies pending migrations. drizzle's migrator reads the last applied migration before it takes the
 * write lock, so two processes opening a fresh database together can race; the loser's transaction
 * is rolled back and a retry sees the winner's work.
 */
function applySqliteMigrations(conn: Database.Database, migrationsFolder: string): void {
  const attempts = 3;
  for (let i = 1; ; i++) {
    try {
      migrateBetterSqlite(drizzleBetterSqlite(conn), { migrationsFolder });
      return;
    } catch (e) {
      if (i >= attempts) {
        throw new StorageError(`migrations from ${migrationsFolder} failed: ${(e as Error).message}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// PostgreSQL

/** SQLSTATEs after which a transaction is rolled back and run again: serialization failure, deadlock. */
const RETRYABLE = new Set(["40001", "40P01"]);
const MAX_TX_ATTEMPTS = 30;
/** pg_advisory_lock key held while migrating, so replicas starting together migrate one after the other. */
const MIGRATION_LOCK = 0x676c6f7373610001n;

function sqlState(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 4; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** Query-builder entry points: a handle refuses them when it must not be used (see the guards below). */
const BUILDER_METHODS = new Set(["select", "selectDistinct", "selectDistinctOn", "insert", "update", "delete", "execute", "with", "$count", "$with"]);

function guarded<T extends object>(target: T, check: () => void): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      if (typeof prop === "string" && BUILDER_METHODS.has(prop)) check();
      return Reflect.get(t, prop, receiver) as unknown;
    },
  });
}

class PostgresBackend implements Backend {
  readonly db: RegistryDb;

  constructor(readonly pool: pg.Pool) {
    const orm = drizzleNodePg(pool);
    const outer = guarded(orm, () => {
      if (txContext.getStore() === this) {
        throw new StorageError("a registry query on the database handle inside one of its own transactions: use the transaction's handle there");
      }
    });
    this.db = handle("postgres", outer as unknown as Orm, pgSchema, false, this);
  }

  async transaction<T>(fn: (tx: RegistryDb) => Promise<T>): Promise<T> {
    if (txContext.getStore() === this) {
      throw new StorageError("a registry transaction opened on the database handle inside one of its own transactions: use the transaction's handle there");
    }
    const orm: NodePgDatabase = drizzleNodePg(this.pool);
    for (let attempt = 1; ; attempt++) {
      try {
        return await orm.transaction(
          async (txOrm) => {
            let open = true;
            const tx = handle(
              "postgres",
              guarded(txOrm, () => {
                if (!open) throw new StorageError("a registry transaction's handle was used after the transaction ended");
              }) as unknown as Orm,
              pgSchema,
              true,
              this,
            );
            try {
              return await txContext.run(this, () => fn(tx));
            } finally {
              open = false;
            }
          },
          { isolationLevel: "serializable" },
        );
      } catch (e) {
        const state = sqlState(e);
        if (state === undefined || !RETRYABLE.has(state) || attempt >= MAX_TX_ATTEMPTS) throw e;
        // Another writer won: back off a little (randomised, growing) and run the body again.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** Math.min(attempt, 6))));
      }
    }
  }
}

async function openPostgres(url: string, opts: OpenOptions): Promise<Registry> {
  const location = redactUrl(url);
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10 });
  let closed: Promise<void> | undefined;
  const onError = opts.onPoolError ?? ((err: Error) => process.stderr.write(`registry ${location}: idle connection error: ${err.message}\n`));
  // After close() the pool's connections are going away on purpose: their errors say nothing.
  pool.on("error", (err: Error) => {
    if (closed === undefined) onError(err);
  });
  const migrationsFolder = opts.migrationsFolder ?? migrationsDir("postgres");
  try {
    const client = await pool.connect();
    try {
      await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK.toString()]);
      try {
        await migrateNodePg(drizzleNodePg(client), { migrationsFolder });
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK.toString()]);
      }
    } finally {
      client.release();
    }
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new StorageError(`cannot open registry database ${location}: ${(e as Error).message}`);
  }
  const backend = new PostgresBackend(pool);
  const listeners = new Set<() => Promise<void>>();
  const listen = async (channel: string, onMessage: (payload: string) => void, onReconnect?: () => void): Promise<() => Promise<void>> => {
    let client: pg.Client | undefined;
    let stopped = false;
    let retry: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      const c = new pg.Client({ connectionString: url });
      c.on("notification", (n) => {
        if (n.channel === channel) onMessage(n.payload ?? "");
      });
      c.on("error", (err: Error) => {
        if (stopped) return;
        onError(err);
        void c.end().catch(() => undefined);
        if (client === c) client = undefined;
        retry ??= setTimeout(() => {
          retry = undefined;
          if (!stopped) connect().then(() => onReconnect?.(), (e: Error) => c.emit("error", e));
        }, 1000);
      });
      await c.connect();
      await c.query(`LISTEN "${channel.replace(/"/g, '""')}"`);
      client = c;
    };
    await connect();
    const stop = async (): Promise<void> => {
      stopped = true;
      if (retry) clearTimeout(retry);
      listeners.delete(stop);
      await client?.end().catch(() => undefined);
    };
    listeners.add(stop);
    return stop;
  };
  return {
    db: backend.db,
    dialect: "postgres",
    location,
    path: location,
    sqlite: undefined,
    listen,
    close: () =>
      (closed ??= (async () => {
        await Promise.all([...listeners].map((stop) => stop()));
        await pool.end();
      })()),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Migration folders

interface JournalEntry {
  idx: number;
  tag: string;
  when: number;
}

/** The migrations drizzle-kit generated, oldest first (meta/_journal.json). */
export function migrationTags(migrationsFolder: string = migrationsDir()): string[] {
  const journal = JSON.parse(readFileSync(join(migrationsFolder, "meta", "_journal.json"), "utf8")) as { entries: JournalEntry[] };
  return journal.entries.map((e) => e.tag);
}

/**
 * Writes a migrations folder holding only the first `n` migrations (their .sql files and journal
 * entries) into `dest`: opening a database with it leaves the database at migration n, as an older
 * Glossa would have. Used by upgrade tests.
 */
export function copyMigrationsPrefix(n: number, dest: string, migrationsFolder: string = migrationsDir()): void {
  const journalPath = join(migrationsFolder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalPath, "utf8")) as { entries: JournalEntry[] } & Record<string, unknown>;
  if (!Number.isInteger(n) || n < 0 || n > journal.entries.length) {
    throw new StorageError(`cannot take ${n} of ${journal.entries.length} migrations`);
  }
  const kept = journal.entries.slice(0, n);
  mkdirSync(join(dest, "meta"), { recursive: true });
  for (const e of kept) copyFileSync(join(migrationsFolder, `${e.tag}.sql`), join(dest, `${e.tag}.sql`));
  writeFileSync(join(dest, "meta", "_journal.json"), JSON.stringify({ ...journal, entries: kept }, null, 2));
}
