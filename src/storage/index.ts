/**
 * The registry database's public API: drizzle-orm, asynchronous and dialect-neutral (see db.ts for the rules).
 *
 *   const reg = await openRegistry();           // GLOSSA_DB or var/glossa.sqlite; migrations applied
 *   await releasedEngines(reg.db); await isReleased(reg.db, id);
 *   await inTransaction(reg.db, async (tx) => { ... tx.orm / tx.t ... });
 *   await reg.close();
 *
 * Schema: one file per domain under src/storage/schema/ (models.ts, evaluation.ts, releases.ts, ...), each listed
 * in schema/index.ts. After changing a schema file run `npm run db:generate` and commit the new migrations.
 */
export {
  byText, copyMigrationsPrefix, first, inTransaction, lockRow, migrationTags, one, openRegistry, redactUrl, StorageError, violatedConstraint,
} from "./db.js";
export type { ConstraintKind, DbOrTx, Dialect, OpenOptions, Orm, Registry, RegistryDb, Schema } from "./db.js";
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
