/**
 * Repository: benchmark results (schema/benchmarks.ts) and calibration profiles (schema/calibration.ts
 * engine_profiles), the two things the dashboard charts besides evaluation runs.
 */
import { eq } from "drizzle-orm";
import { inTransaction, type DbOrTx } from "./db.js";
import type { BenchResultRow, NewBenchResultRow } from "./schema/benchmarks.js";
import type { EngineProfileRow } from "./schema/calibration.js";

export type NewBenchResult = Omit<NewBenchResultRow, "id" | "createdAt">;

/** Records the rows of one benchmark run together (all or none). */
export async function recordBenchResults(db: DbOrTx, rows: readonly NewBenchResult[]): Promise<BenchResultRow[]> {
  if (rows.length === 0) return [];
  const at = new Date().toISOString();
  return inTransaction(db, async (tx) => tx.orm.insert(tx.t.benchResults).values(rows.map((r) => ({ ...r, createdAt: at }))).returning());
}

/** Every benchmark result, oldest first. */
export async function benchResults(db: DbOrTx): Promise<BenchResultRow[]> {
  const { benchResults: t } = db.t;
  return db.orm.select().from(t).orderBy(t.id);
}

/** Stores (or replaces) an engine's calibration profile: the report `glossa calibrate` wrote into its file. */
export async function recordEngineProfile(db: DbOrTx, engineId: number, report: unknown): Promise<void> {
  const json = typeof report === "string" ? report : JSON.stringify(report);
  const { engineProfiles: t } = db.t;
  await db.orm
    .insert(t)
    .values({ engineId, report: json, createdAt: new Date().toISOString() })
    .onConflictDoUpdate({ target: t.engineId, set: { report: json } });
}

export async function engineProfiles(db: DbOrTx): Promise<EngineProfileRow[]> {
  return db.orm.select().from(db.t.engineProfiles);
}

export async function engineProfileOf(db: DbOrTx, engineId: number): Promise<EngineProfileRow | undefined> {
  const { engineProfiles: t } = db.t;
  return (await db.orm.select().from(t).where(eq(t.engineId, engineId)))[0];
}
