/**
 * Calibration tables (src/storage/schema/calibration.ts) read and written: pools, sets, members,
 * exclusions. Each function is one query or one transaction; the curation logic lives in service.ts.
 */
import { and, asc, eq } from "drizzle-orm";
import { byText, first, inTransaction, one, type DbOrTx, type RegistryDb } from "../../storage/db.js";
import type {
  CalibExclusionRow,
  CalibPoolRow,
  CalibPoolSourceRow,
  CalibSetMemberRow,
  CalibSetRow,
} from "../../storage/schema/calibration.js";
import type { Candidate, Pool } from "./pool.js";
import type { Bucket, Member, PoolEntry } from "./sample.js";

/** Rows per multi-row INSERT: 13 columns each, well under SQLite's bound-parameter limit. */
const INSERT_CHUNK = 1000;

/** Packs non-negative integers as little-endian int32. */
export function packInt32(values: readonly number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeInt32LE(v, i * 4));
  return b;
}

export function unpackInt32(b: Uint8Array): number[] {
  if (b.byteLength % 4 !== 0) throw new Error(`packed int32 array of ${b.byteLength} bytes`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Array<number>(b.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt32(i * 4, true);
  return out;
}

function targetColumns(c: Candidate): {
  targetLang: string | null;
  targetFile: string | null;
  targetLine: number | null;
  targetSha256: string | null;
} {
  return {
    targetLang: c.target?.lang ?? null,
    targetFile: c.target?.file ?? null,
    targetLine: c.target?.line ?? null,
    targetSha256: c.target?.sha256 ?? null,
  };
}

function rowTarget(r: CalibSetMemberRow): Candidate["target"] {
  if (r.targetFile === null || r.targetLang === null || r.targetLine === null || r.targetSha256 === null) return undefined;
  return { lang: r.targetLang, file: r.targetFile, line: r.targetLine, sha256: r.targetSha256 };
}

export function memberFromRow(r: CalibSetMemberRow): Member {
  const target = rowTarget(r);
  return {
    file: r.file,
    line: r.line,
    sha256: r.sha256,
    normHash: r.normHash,
    units: r.units,
    scriptShare: r.scriptShare,
    bucket: r.bucket as Bucket,
    ...(target ? { target } : {}),
  };
}

export interface EvalIndexInfo {
  readonly fingerprint: string;
  readonly files: number;
  readonly sentences: number;
}

/** Replaces `pool.lang`'s pool (row and packed sources) in one transaction. */
export async function replacePool(db: RegistryDb, pool: Pool, evalInfo: EvalIndexInfo): Promise<CalibPoolRow> {
  const { calibPools, calibPoolSources } = db.t;
  return inTransaction(db, async (tx) => {
    await tx.orm.delete(calibPools).where(eq(calibPools.lang, pool.lang));
    const row = await one(
      tx.orm
      .insert(calibPools)
      .values({
        lang: pool.lang,
        unit: pool.unit,
        candidates: pool.candidates.length,
        options: JSON.stringify(pool.options),
        rejected: JSON.stringify(pool.rejected),
        sources: JSON.stringify(pool.sources),
        evalFingerprint: evalInfo.fingerprint,
        evalFiles: evalInfo.files,
        evalSentences: evalInfo.sentences,
        importedAt: new Date().toISOString(),
      })
      .returning(),
    );
    const byFile = new Map<string, Candidate[]>();
    for (const c of pool.candidates) {
      let list = byFile.get(c.file);
      if (!list) byFile.set(c.file, (list = []));
      list.push(c);
    }
    for (const src of pool.sources) {
      const list = (byFile.get(src.file) ?? []).slice().sort((a, b) => a.line - b.line);
      await tx.orm
        .insert(calibPoolSources)
        .values({
          poolId: row.id,
          file: src.file,
          fileSha256: src.fileSha256,
          lines: src.lines,
          targetLang: src.target?.lang ?? null,
          targetFile: src.target?.file ?? null,
          targetFileSha256: src.target?.fileSha256 ?? null,
          accepted: list.length,
          candidateLines: packInt32(list.map((c) => c.line)),
          candidateUnits: packInt32(list.map((c) => c.units)),
        });
    }
    return row;
  });
}

export async function poolOf(db: DbOrTx, lang: string): Promise<CalibPoolRow | undefined> {
  const { calibPools } = db.t;
  return first(db.orm.select().from(calibPools).where(eq(calibPools.lang, lang)));
}

export async function poolSourcesOf(db: DbOrTx, poolId: number): Promise<CalibPoolSourceRow[]> {
  const { calibPoolSources } = db.t;
  return db.orm.select().from(calibPoolSources).where(eq(calibPoolSources.poolId, poolId)).orderBy(byText(db, calibPoolSources.file));
}

/** The pool's candidates as drawable entries (file, line, length). */
export function poolEntries(sources: readonly CalibPoolSourceRow[]): PoolEntry[] {
  const out: PoolEntry[] = [];
  for (const s of sources) {
    const lines = unpackInt32(s.candidateLines);
    const units = unpackInt32(s.candidateUnits);
    if (lines.length !== units.length || lines.length !== s.accepted) {
      throw new Error(`calib_pool_sources ${s.file}: ${lines.length} lines, ${units.length} lengths, ${s.accepted} accepted`);
    }
    for (let i = 0; i < lines.length; i++) out.push({ file: s.file, line: lines[i]!, units: units[i]! });
  }
  return out;
}

export interface NewSet {
  readonly name: string;
  readonly lang: string;
  readonly seed: string;
  readonly requestedSize: number;
  readonly setHash: string;
  readonly unit: string;
  readonly bucketEdges: readonly number[];
  readonly options: unknown;
  readonly evalFingerprint: string;
  readonly manifestPath: string;
  readonly members: readonly Member[];
}

function memberRows(setId: number, members: readonly Member[]) {
  return members.map((m) => ({
    setId,
    file: m.file,
    line: m.line,
    sha256: m.sha256,
    normHash: m.normHash,
    bucket: m.bucket,
    units: m.units,
    scriptShare: m.scriptShare,
    ...targetColumns(m),
  }));
}

async function insertMembers(tx: DbOrTx, setId: number, members: readonly Member[]): Promise<void> {
  const rows = memberRows(setId, members);
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) await tx.orm.insert(tx.t.calibSetMembers).values(rows.slice(i, i + INSERT_CHUNK));
}

/** Inserts a set and its members; with `replace`, an existing set of that name is deleted first. */
export async function insertSet(db: RegistryDb, s: NewSet, replace: boolean): Promise<CalibSetRow> {
  const { calibSets } = db.t;
  return inTransaction(db, async (tx) => {
    if (replace) await tx.orm.delete(calibSets).where(eq(calibSets.name, s.name));
    const at = new Date().toISOString();
    const row = await one(
      tx.orm
      .insert(calibSets)
      .values({
        name: s.name,
        lang: s.lang,
        seed: s.seed,
        requestedSize: s.requestedSize,
        size: s.members.length,
        setHash: s.setHash,
        unit: s.unit,
        bucketEdges: JSON.stringify(s.bucketEdges),
        options: JSON.stringify(s.options),
        evalFingerprint: s.evalFingerprint,
        manifestPath: s.manifestPath,
        createdAt: at,
        updatedAt: at,
      })
      .returning(),
    );
    await insertMembers(tx, row.id, s.members);
    return row;
  });
}

export async function setByName(db: DbOrTx, name: string): Promise<CalibSetRow | undefined> {
  const { calibSets } = db.t;
  return first(db.orm.select().from(calibSets).where(eq(calibSets.name, name)));
}

export async function setsAll(db: DbOrTx): Promise<CalibSetRow[]> {
  const { calibSets } = db.t;
  return db.orm.select().from(calibSets).orderBy(byText(db, calibSets.lang), byText(db, calibSets.name));
}

export async function membersOf(db: DbOrTx, setId: number): Promise<Member[]> {
  const { calibSetMembers } = db.t;
  const rows = await db.orm
    .select()
    .from(calibSetMembers)
    .where(eq(calibSetMembers.setId, setId))
    .orderBy(byText(db, calibSetMembers.file), asc(calibSetMembers.line));
  return rows.map(memberFromRow);
}

export async function exclusionsOfLang(db: DbOrTx, lang: string): Promise<CalibExclusionRow[]> {
  const { calibExclusions } = db.t;
  return db.orm.select().from(calibExclusions).where(eq(calibExclusions.lang, lang)).orderBy(asc(calibExclusions.id));
}

export async function exclusionsOfSet(db: DbOrTx, setId: number): Promise<CalibExclusionRow[]> {
  const { calibExclusions } = db.t;
  return db.orm.select().from(calibExclusions).where(eq(calibExclusions.setId, setId)).orderBy(asc(calibExclusions.id));
}

/** Records exclusions of a set as a committed manifest lists them (adoption of calib-data/<name>.json). */
export async function insertExclusions(
  db: RegistryDb,
  set: CalibSetRow,
  rows: readonly { file: string; line: number; sha256: string; normHash: string; reason: string; at: string }[],
): Promise<void> {
  const { calibExclusions } = db.t;
  await inTransaction(db, async (tx) => {
    for (const e of rows)
      await tx.orm
        .insert(calibExclusions)
        .values({ setId: set.id, setName: set.name, lang: set.lang, file: e.file, line: e.line, sha256: e.sha256, normHash: e.normHash, reason: e.reason, excludedAt: e.at });
  });
}

export interface MembershipChange {
  readonly set: CalibSetRow;
  readonly removed: readonly Member[];
  readonly added: readonly Member[];
  readonly reason: string;
  readonly newSetHash: string;
  readonly newSize: number;
}

/** Removes and adds members, records the exclusions, updates the set's hash and size: one transaction. */
export async function applyMembershipChange(db: RegistryDb, ch: MembershipChange): Promise<CalibSetRow> {
  const { calibSetMembers, calibExclusions, calibSets } = db.t;
  return inTransaction(db, async (tx) => {
    const at = new Date().toISOString();
    for (const m of ch.removed) {
      await tx.orm
        .delete(calibSetMembers)
        .where(and(eq(calibSetMembers.setId, ch.set.id), eq(calibSetMembers.file, m.file), eq(calibSetMembers.line, m.line)));
      await tx.orm
        .insert(calibExclusions)
        .values({
          setId: ch.set.id,
          setName: ch.set.name,
          lang: ch.set.lang,
          file: m.file,
          line: m.line,
          sha256: m.sha256,
          normHash: m.normHash,
          reason: ch.reason,
          excludedAt: at,
        });
    }
    if (ch.added.length > 0) await insertMembers(tx, ch.set.id, ch.added);
    return one(
      tx.orm
        .update(calibSets)
        .set({ setHash: ch.newSetHash, size: ch.newSize, updatedAt: at })
        .where(eq(calibSets.id, ch.set.id))
        .returning(),
      `calib_sets ${ch.set.name}`,
    );
  });
}
