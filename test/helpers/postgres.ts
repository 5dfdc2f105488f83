/**
 * PostgreSQL for tests: every test run creates its own uniquely named database (and drops it), so engineers and
 * CI runs sharing one server never collide.
 *
 * Policy when the server is unreachable: the tests FAIL when CI is set (CI=true, as CI runs them: PostgreSQL is
 * always there) or when GLOSSA_TEST_PG=require; otherwise (a developer machine without PostgreSQL) they are skipped
 * with the reason. GLOSSA_TEST_PG_URL names the server's maintenance database (default
 * postgres://postgres@127.0.0.1:5432/postgres); the test databases are created next to it.
 */
import pg from "pg";

export const PG_ADMIN_URL = process.env.GLOSSA_TEST_PG_URL?.trim() || "postgres://postgres@127.0.0.1:5432/postgres";

export function pgRequired(): boolean {
  const ci = process.env.CI?.trim().toLowerCase();
  return (ci !== undefined && ci !== "" && ci !== "0" && ci !== "false") || process.env.GLOSSA_TEST_PG === "require";
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

let reachable: Promise<string | undefined> | undefined;

/**
 * For `describe(name, { skip: await pgSkip() }, ...)`: false when PostgreSQL answers; the reason when it does not
 * and it is not required; throws (failing the test file) when it is required and does not answer.
 */
export async function pgSkip(): Promise<string | false> {
  reachable ??= withAdmin(async (c) => {
    await c.query("SELECT 1");
    return undefined;
  }).catch((e: unknown) => `PostgreSQL unreachable at ${PG_ADMIN_URL}: ${(e as Error).message}`);
  const why = await reachable;
  if (why === undefined) return false;
  if (pgRequired()) throw new Error(`${why} (required: CI or GLOSSA_TEST_PG=require)`);
  return `${why} (set GLOSSA_TEST_PG_URL, or GLOSSA_TEST_PG=require to make this a failure)`;
}

export interface TestDatabase {
  /** Connection URL of the new database. */
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

let counter = 0;

export interface TestDatabaseOptions {
  /**
   * Create the database with this ICU collation (e.g. "en": case-insensitive-ish, accents folded) when the server
   * supports ICU, so that a query whose order depends on the database's collation is caught; the server's default
   * collation otherwise.
   */
  readonly icuLocale?: string;
}

/** Creates an empty database named glossa_test_<tag>_<pid>_<n>_<random>. */
export async function createTestDatabase(tag: string, opts: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const safe = tag.toLowerCase().replace(/[^a-z0-9]+/g, "_").slice(0, 20);
  const name = `glossa_test_${safe}_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  await withAdmin(async (c) => {
    if (opts.icuLocale !== undefined && /^[A-Za-z0-9_-]+$/.test(opts.icuLocale)) {
      try {
        await c.query(`CREATE DATABASE "${name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '${opts.icuLocale}' LOCALE 'C.UTF-8'`);
        return;
      } catch {
        // No ICU (or PostgreSQL < 15): the default collation below.
      }
    }
    await c.query(`CREATE DATABASE "${name}"`);
  });
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  let dropped = false;
  return {
    url: u.toString(),
    name,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}
