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
import { drizzle as drizzleBetterSqlite } from "drizzle-orm/better-sqlite3";
import { migrate as migrateBetterSqlite } from "drizzle-orm/better-sqlite3/migrator";
import { drizzle as drizzleSqliteProxy, type SqliteRemoteDatabase } from "drizzle-orm/sqlite-proxy";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { dbPath, migrationsDir } from "../config.js";
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
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Database file; default dbPath() (env GLOSSA_DB or var/glossa.sqlite). ":memory:" works too. */
  path?: string;
  /** drizzle-kit output folder to apply; default the repository's migrations/. */
  migrationsFolder?: string;
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
  return openSqlite(path, opts.migrationsFolder ?? migrationsDir());
}

/**
 * Runs fn in one transaction, committed when it resolves, rolled back when it throws. Called with a
 * transaction's handle, fn simply joins that transaction.
 */
export async function inTransaction<T>(db: RegistryDb, fn: (tx: RegistryDb) => Promise<T>): Promise<T> {
  if (db.inTransaction) return fn(db);
  return db[BACKEND].transaction(fn);
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
