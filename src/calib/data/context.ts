/** The default CalibDataContext from the configuration (src/config.ts) and an open registry. */
import { join } from "node:path";
import { corporaDir, evalDir, repoRoot } from "../../config.js";
import type { RegistryDb } from "../../storage/db.js";
import type { CalibDataContext } from "./service.js";

/** calib-data/ in the repository, or env GLOSSA_CALIB_DATA_DIR (tests write manifests elsewhere). */
export function calibManifestDir(): string {
  const v = process.env.GLOSSA_CALIB_DATA_DIR;
  return v !== undefined && v.trim() !== "" ? v : join(repoRoot(), "calib-data");
}

export function defaultCalibContext(db: RegistryDb, log?: (line: string) => void): CalibDataContext {
  return {
    db,
    corpora: corporaDir(),
    repoRoot: repoRoot(),
    manifestDir: calibManifestDir(),
    evalDir: evalDir(),
    ...(log ? { log } : {}),
  };
}
