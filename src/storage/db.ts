/**
 * Opening the registry database: better-sqlite3 + drizzle, WAL journal, foreign keys on, and every
 * pending drizzle-kit migration from migrations/ applied before the handle is returned.
 */
import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { dbPath, migrationsDir } from "../config.js";

export type RegistryDb = BetterSQLite3Database;
/** What repositories need: the database or a transaction on it. */
export type DbOrTx = Pick<RegistryDb, "select" | "insert" | "update" | "delete" | "run" | "all" | "get">;

export interface Registry {
  readonly db: RegistryDb;
  /** The raw connection, for pragmas and tests. */
  readonly sqlite: Database.Database;
  readonly path: string;
  close(): void;
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

/** Opens (creating when missing) and migrates the registry database. */
export function openRegistry(opts: OpenOptions = {}): Registry {
  const path = opts.path ?? dbPath();
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  let sqlite: Database.Database;
  try {
    sqlite = new Database(path);
  } catch (e) {
    throw new StorageError(`cannot open registry database ${path}: ${(e as Error).message}`);
  }
  try {
    sqlite.pragma("busy_timeout = 10000");
    if (path !== ":memory:") sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("foreign_keys = ON");
    const db = drizzle(sqlite);
    applyMigrations(db, opts.migrationsFolder ?? migrationsDir());
    return { db, sqlite, path, close: () => sqlite.close() };
  } catch (e) {
    sqlite.close();
    if (e instanceof StorageError) throw e;
    throw new StorageError(`cannot prepare registry database ${path}: ${(e as Error).message}`);
  }
}

/**
 * Applies pending migrations. drizzle's migrator reads the last applied migration before it takes the
 * write lock, so two processes opening a fresh database together can race; the loser's transaction
 * is rolled back and a retry sees the winner's work.
 */
function applyMigrations(db: RegistryDb, migrationsFolder: string): void {
  const attempts = 3;
  for (let i = 1; ; i++) {
    try {
      migrate(db, { migrationsFolder });
      return;
    } catch (e) {
      if (i >= attempts) {
        throw new StorageError(`migrations from ${migrationsFolder} failed: ${(e as Error).message}`);
      }
    }
  }
}

/** Runs fn in one write transaction (BEGIN IMMEDIATE), committed when it returns, rolled back when it throws. */
export function inTransaction<T>(db: RegistryDb, fn: (tx: DbOrTx) => T): T {
  return db.transaction((tx) => fn(tx), { behavior: "immediate" });
}

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
