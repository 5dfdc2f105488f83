/**
 * Engine files on a replica: the local content-addressed copy (src/storage/engine-store.ts layout,
 * <GLOSSA_ENGINES_DIR>/<sha256>.safetensors), fetched from the artifact store when this machine lacks it. The
 * fetched bytes go to a temporary file and are committed only when their sha256 is the registry's (commitTemp), so
 * a damaged or tampered store never leaves a file behind; callers still verify before loading (verifyContent).
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { commitTemp, contentPath, newTempPath } from "../engine-store.js";
import type { ArtifactStore } from "./index.js";
import { ArtifactMissingError } from "./errors.js";

/** The local file holding the bytes `sha256` under root, fetched from the store when absent. */
export async function ensureLocalFile(store: ArtifactStore | undefined, sha256: string, root: string): Promise<string> {
  const path = contentPath(root, sha256);
  if (existsSync(path)) return path;
  if (!store) throw new ArtifactMissingError(`${path} is not on this machine and no artifact store is configured (GLOSSA_ARTIFACTS)`);
  const tmp = await newTempPath(root);
  try {
    await store.get(sha256, tmp);
    return (await commitTemp(tmp, root, sha256)).path;
  } catch (e) {
    await rm(tmp, { force: true });
    throw new ArtifactMissingError(`engine bytes ${sha256} from ${store.description}: ${(e as Error).message}`);
  }
}

/** An engine row's file: its recorded path when present here, else the local copy of its bytes (fetched if needed). */
export async function ensureEngineFile(row: { file: string; fileSha256: string }, store: ArtifactStore | undefined, root: string): Promise<string> {
  if (existsSync(row.file)) return row.file;
  return ensureLocalFile(store, row.fileSha256, root);
}
