/**
 * The registry database's public API (drizzle-orm over better-sqlite3).
 *
 *   const reg = openRegistry();                 // GLOSSA_DB or var/glossa.sqlite; migrations applied, WAL
 *   releasedEngines(reg.db); isReleased(reg.db, id);
 *   reg.close();
 *
 * Schema: one file per domain under src/storage/schema/ (models.ts, evaluation.ts, releases.ts, ...).
 * After changing a schema file run `npm run db:generate` and commit the new folder entry in migrations/.
 */
export { copyMigrationsPrefix, inTransaction, migrationTags, openRegistry, StorageError } from "./db.js";
export type { DbOrTx, OpenOptions, Registry, RegistryDb } from "./db.js";
export {
  engineById, engineDecodeOptions, EngineFileMismatchError, verifyEngineFiles, ensureModel, ensureReferenceEngine, findEngine, listEngines, ModelMissingError,
  parseDecodeOptions, referenceEngineOf, registerEngine,
} from "./engines.js";
export type { NewEngine } from "./engines.js";
export { ensureEvalSet, insertEvalRun, latestRunsOfEngine, runsOfEngine } from "./evaluation.js";
export type { EvalSetIdentity, NewEvalRun, RunWithSet } from "./evaluation.js";
export { fingerprintJson, sha256Bytes, sha256File, weightFiles, weightsSha256 } from "./hashing.js";
export { gateDecisionsOf, gateReasonsOf, isReleased, listReleases, recordGateDecision, releasedEngines } from "./releases.js";
export type { NewGateDecision, NewGateReason, RecordedGate, ReleasedEngine, ReleaseBasis, ReleaseListing } from "./releases.js";
export type { EngineRow, ModelRow } from "./schema/models.js";
export type { EvalRunRow, EvalSetRow } from "./schema/evaluation.js";
export type { GateDecisionRow, GateReasonRow, ReleaseRow } from "./schema/releases.js";
