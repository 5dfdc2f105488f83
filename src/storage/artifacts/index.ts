/**
 * The artifact store: content-addressed files (calibrated engine files) that every replica and worker can read, so
 * that an engine released on one machine is served everywhere without copying files by hand. Chosen by
 * GLOSSA_ARTIFACTS:
 *   (unset) or "none"     no store: engine files are local only (one machine)
 *   "registry"            chunks in the registry database itself (PostgreSQL or SQLite; "postgres" is an alias)
 *   "dir:/path" or /path  a directory every machine mounts (NFS, a ReadWriteMany volume)
 * A file is stored under its sha256 and never changes. Readers verify the bytes against the registry's sha256
 * before use (ensureEngineFile), whatever the store says.
 */
import { isAbsolute, resolve } from "node:path";
import type { Registry } from "../db.js";
import { DirArtifactStore } from "./dir-store.js";
import { ArtifactError } from "./errors.js";
import { RegistryArtifactStore } from "./registry-store.js";

export interface ArtifactStore {
  /** For messages: "registry (postgres://...)", "dir:/mnt/glossa". */
  readonly description: string;
  has(sha256: string): Promise<boolean>;
  /** Stores the file under sha256 (which the caller has checked); a no-op when it is already there. */
  put(sha256: string, file: string): Promise<void>;
  /** Writes the stored bytes to dest (a temporary file of the caller's). Throws ArtifactMissingError when absent. */
  get(sha256: string, dest: string): Promise<void>;
}

export { ArtifactError, ArtifactMissingError, checkSha256, SHA256_RE } from "./errors.js";

/** GLOSSA_ARTIFACTS as given (trimmed), undefined when unset. */
export function artifactSetting(): string | undefined {
  const v = process.env.GLOSSA_ARTIFACTS?.trim();
  return v === undefined || v === "" ? undefined : v;
}

/** The store a setting names, undefined for none. The registry store needs the open registry. */
export function openArtifactStore(setting: string | undefined, registry: Registry): ArtifactStore | undefined {
  if (setting === undefined || setting === "none") return undefined;
  if (setting === "registry" || setting === "postgres") return new RegistryArtifactStore(registry);
  const dir = setting.startsWith("dir:") ? setting.slice(4) : setting;
  if (dir !== "" && (isAbsolute(dir) || setting.startsWith("dir:"))) return new DirArtifactStore(resolve(dir));
  throw new ArtifactError(`GLOSSA_ARTIFACTS must be none, registry, dir:/path or an absolute path; got ${JSON.stringify(setting)}`);
}
