/**
 * Central configuration: where the repository, the corpora, the registry database, the model and the
 * evaluation manifests live. Every path can be overridden by an environment variable; defaults are
 * resolved against the repository root, so they work the same from src/ (tsx) and from dist/src/ (built).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const PACKAGE_NAME = "glossa";

let cachedRoot: string | undefined;

/**
 * The repository root: the nearest ancestor of this module holding Glossa's package.json.
 * From src/config.ts that is one level up, from dist/src/config.js two levels up.
 */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && packageName(pkg) === PACKAGE_NAME) {
      cachedRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new ConfigError(`cannot find Glossa's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

function packageName(pkgPath: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(pkgPath, "utf8"));
    if (typeof parsed === "object" && parsed !== null && "name" in parsed && typeof parsed.name === "string") {
      return parsed.name;
    }
  } catch {
    // An unreadable or invalid package.json is not Glossa's: keep walking up.
  }
  return undefined;
}

/** An env variable's value when set and non-empty, resolved against the working directory. */
function envPath(name: string): string | undefined {
  const v = process.env[name];
  if (v === undefined || v.trim() === "") return undefined;
  return resolve(v);
}

function fromRoot(p: string): string {
  return isAbsolute(p) ? p : join(repoRoot(), p);
}

/**
 * The corpora folder: env GLOSSA_CORPORA, else ../shared/corpora next to the repository when it exists.
 * Throws ConfigError when neither is available (nothing can be evaluated without it).
 */
export function corporaDir(): string {
  const fromEnv = envPath("GLOSSA_CORPORA");
  if (fromEnv !== undefined) return fromEnv;
  const sibling = resolve(repoRoot(), "..", "shared", "corpora");
  if (existsSync(sibling)) return sibling;
  throw new ConfigError(`no corpora folder: set GLOSSA_CORPORA (looked for ${sibling})`);
}

/** A postgres:// or postgresql:// URL selects the PostgreSQL registry; anything else is a SQLite file path. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location.trim());
}

/** A GLOSSA_DB / --db value as the registry opens it: a PostgreSQL URL unchanged, a file path resolved. */
export function resolveDbLocation(raw: string): string {
  return isPostgresUrl(raw) ? raw.trim() : resolve(raw);
}

/**
 * The registry database: env GLOSSA_DB (a SQLite file, or a postgres:// URL for the PostgreSQL registry), else
 * var/glossa.sqlite in the repository.
 */
export function dbPath(): string {
  const v = process.env.GLOSSA_DB;
  if (v !== undefined && v.trim() !== "") return resolveDbLocation(v);
  return fromRoot(join("var", "glossa.sqlite"));
}

/** The reference model checkpoint folder: env GLOSSA_MODEL, else models/glossa-mini-50 in the repository. */
export function modelDir(): string {
  return envPath("GLOSSA_MODEL") ?? fromRoot(join("models", "glossa-mini-50"));
}

/** Content-addressed engine files (src/storage/engine-store.ts): env GLOSSA_ENGINES_DIR, else var/engines. */
export function enginesDir(): string {
  return envPath("GLOSSA_ENGINES_DIR") ?? fromRoot(join("var", "engines"));
}

/** Evaluation manifests and gate tolerances: env GLOSSA_EVAL_DIR, else eval/ in the repository. */
export function evalDir(): string {
  return envPath("GLOSSA_EVAL_DIR") ?? fromRoot("eval");
}

/**
 * drizzle-kit's output folder, applied at database open. Not configurable: it ships with the code. SQLite's
 * migrations are in migrations/, PostgreSQL's in migrations/postgres/ (both generated from one schema).
 */
export function migrationsDir(dialect: "sqlite" | "postgres" = "sqlite"): string {
  return dialect === "sqlite" ? fromRoot("migrations") : fromRoot(join("migrations", "postgres"));
}
