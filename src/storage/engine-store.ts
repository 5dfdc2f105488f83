/**
 * Content-addressed, immutable engine files on the local disk (issue 9 item 1).
 *
 * Layout: `<root>/<sha256>.safetensors`, root = GLOSSA_ENGINES_DIR or var/engines (enginesDir()). The name is the
 * sha256 of the file's bytes, so a build never writes over a file a registry row points to: other bytes get
 * another name, the same bytes the same file. A file is written under `<root>/.tmp-<pid>-<random>`, fsynced, then
 * renamed to its content name and the folder fsynced (commitTemp): a build killed at any moment leaves at most a
 * temporary file (removed by sweepTemps), never a partial file under a content name.
 *
 * Before an engine is served, verifyContent hashes the file and compares it with the sha256 the registry recorded
 * when the engine was gated: the registry row is the statement of what was released, not the file's own checksum.
 * Storage backends that keep copies elsewhere (shared folder, PostgreSQL, S3) put and fetch by the same sha256 and
 * place fetched files with commitTemp, so a local path always holds the bytes its name says.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

export const ENGINE_FILE_SUFFIX = ".safetensors";
const SHA256 = /^[0-9a-f]{64}$/;
const TEMP_PREFIX = ".tmp-";

/** Why an engine file cannot be served. */
export type EngineFileProblem = "missing" | "checksum" | "changed";

/** An engine file that does not hold the bytes the registry recorded (or disappeared, or changed while loading). */
export class EngineFileError extends Error {
  override readonly name = "EngineFileError";
  constructor(
    readonly problem: EngineFileProblem,
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

/** The content-addressed path of the bytes with this sha256 under root. */
export function contentPath(root: string, sha256: string): string {
  if (!SHA256.test(sha256)) throw new Error(`not a sha256: ${JSON.stringify(sha256)}`);
  return join(resolve(root), `${sha256}${ENGINE_FILE_SUFFIX}`);
}

/** The sha256 a content-addressed path names, or undefined for any other path (e.g. an older engine file). */
export function contentSha256Of(path: string): string | undefined {
  const name = basename(path);
  if (!name.endsWith(ENGINE_FILE_SUFFIX)) return undefined;
  const sha = name.slice(0, -ENGINE_FILE_SUFFIX.length);
  return SHA256.test(sha) ? sha : undefined;
}

/** A new temporary path inside root (the root is created); write the file there, then commitTemp. */
export async function newTempPath(root: string): Promise<string> {
  const dir = resolve(root);
  await mkdir(dir, { recursive: true });
  return join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
}

async function fsyncPath(path: string, flags: "r" | "r+" = "r"): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** sha256 of a file's bytes, streamed. */
export async function sha256OfFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

/**
 * Makes a finished temporary file the content-addressed file of its bytes: fsync, check its sha256 (when the
 * caller computed one while writing, it must agree), rename, fsync the folder. Returns the final path. Storing
 * bytes that are already there leaves the existing file (same bytes by construction) and removes the temporary.
 */
export async function commitTemp(tmpPath: string, root: string, expectedSha256?: string): Promise<{ path: string; sha256: string; bytes: number }> {
  await fsyncPath(tmpPath);
  const sha256 = await sha256OfFile(tmpPath);
  if (expectedSha256 !== undefined && expectedSha256 !== sha256) {
    await rm(tmpPath, { force: true });
    throw new Error(`${tmpPath}: bytes on disk hash to ${sha256}, the writer computed ${expectedSha256}; nothing stored`);
  }
  const final = contentPath(root, sha256);
  const bytes = (await stat(tmpPath)).size;
  let existing: string | undefined;
  try {
    existing = await sha256OfFile(final);
  } catch {
    existing = undefined;
  }
  if (existing === sha256) {
    await rm(tmpPath, { force: true });
    return { path: final, sha256, bytes };
  }
  // Absent, or a damaged copy under this name: the rename puts the right bytes there atomically.
  await rename(tmpPath, final);
  await fsyncPath(dirname(final));
  return { path: final, sha256, bytes };
}

/**
 * Checks a file against the sha256 the registry recorded; throws EngineFileError (missing / checksum) naming the
 * file, the expected and the actual hash. Returns the file's identity (device, inode, size, mtime) so a caller
 * that loads it can check afterwards that the same file was read (assertUnchanged).
 */
export async function verifyContent(path: string, expectedSha256: string, what = "engine file"): Promise<FileIdentity> {
  let before: FileIdentity;
  try {
    before = await identity(path);
  } catch (e) {
    throw new EngineFileError("missing", path, `${what} ${path} is missing (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the registry expects sha256 ${expectedSha256}`);
  }
  const actual = await sha256OfFile(path);
  if (actual !== expectedSha256)
    throw new EngineFileError("checksum", path, `${what} ${path} has sha256 ${actual}, but the registry recorded ${expectedSha256} when it was gated: refusing to serve bytes that were not gated`);
  const after = await identity(path);
  if (!sameFile(before, after)) throw new EngineFileError("changed", path, `${what} ${path} changed while it was being verified`);
  return after;
}

export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

async function identity(path: string): Promise<FileIdentity> {
  const s = await stat(path);
  if (!s.isFile()) throw Object.assign(new Error("not a regular file"), { code: "ENOTFILE" });
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
}

function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** Throws EngineFileError("changed") when the file at path is no longer the one verifyContent checked. */
export async function assertUnchanged(path: string, verified: FileIdentity, what = "engine file"): Promise<void> {
  let now: FileIdentity;
  try {
    now = await identity(path);
  } catch {
    throw new EngineFileError("missing", path, `${what} ${path} disappeared while it was being loaded`);
  }
  if (!sameFile(verified, now)) throw new EngineFileError("changed", path, `${what} ${path} was replaced or modified while it was being loaded`);
}

/** Removes temporary files of builds that died (older than maxAgeMs, default one day). Returns their names. */
export async function sweepTemps(root: string, maxAgeMs = 24 * 3600 * 1000): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const p = join(root, name);
    const pid = Number(name.slice(TEMP_PREFIX.length).split("-")[0]);
    const s = await stat(p).catch(() => undefined);
    if (!s) continue;
    const dead = Number.isInteger(pid) && pid > 0 && pid !== process.pid && !processAlive(pid);
    if (dead || now - s.mtimeMs > maxAgeMs) {
      await rm(p, { force: true });
      removed.push(name);
    }
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
