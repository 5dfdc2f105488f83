/**
 * Calibration-data operations behind `glossa calib-data` and the admin routes: import a language's
 * candidate pool, draw a set, list sets, per-set statistics, exclude members, re-read a set's text.
 */
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import type { RegistryDb } from "../../storage/db.js";
import type { CalibExclusionRow, CalibPoolRow, CalibPoolSourceRow, CalibSetRow } from "../../storage/schema/calibration.js";
import { fileSha256, readLines, requireLanguage, trainSourcesFor } from "./corpus.js";
import { CalibDataError, CalibInputError, CalibNotFoundError } from "./errors.js";
import { buildEvalIndex, type EvalIndex } from "./eval-index.js";
import { bucketTable, manifestPath, MANIFEST_FORMAT, readManifest, setHash, writeManifest, type CalibManifest } from "./manifest.js";
import { buildPool, type PoolOptions, type PoolSourceSummary, type RejectReason } from "./pool.js";
import { lineId, sampleStratified, type Bucket, type BucketEdges, type Drawn, type Exclusions, type Member, type PoolEntry } from "./sample.js";
import {
  applyMembershipChange,
  exclusionsOfLang,
  exclusionsOfSet,
  insertSet,
  membersOf,
  poolEntries,
  poolOf,
  poolSourcesOf,
  insertExclusions,
  replacePool,
  setByName,
  setsAll,
} from "./store.js";
import { normalizeForMatch, scriptShare, sha256Hex, type LengthUnit } from "./text.js";
import { readSetText, type CalibSentence } from "./verify.js";

export const DEFAULT_SET_SIZE = 512;
export const DEFAULT_SEED = "glossa-calib-1";

export interface CalibDataContext {
  readonly db: RegistryDb;
  /** Corpora root (train/ and the evaluation folders). */
  readonly corpora: string;
  /** Repository root: manifest paths are stored relative to it. */
  readonly repoRoot: string;
  /** Where manifests are written (calib-data/). */
  readonly manifestDir: string;
  /** Evaluation manifests folder (eval/); its files are added to the evaluation index. */
  readonly evalDir?: string;
  /** Progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** Built on first use and reused: the evaluation index is the expensive part of an import. */
  evalIndex?: EvalIndex;
}

export function evalIndexOf(ctx: CalibDataContext): EvalIndex {
  if (ctx.evalIndex === undefined) {
    ctx.log?.(`building the evaluation-sentence index from ${ctx.corpora}${ctx.evalDir ? ` and ${ctx.evalDir}` : ""} ...`);
    ctx.evalIndex = buildEvalIndex({
      corpora: ctx.corpora,
      ...(ctx.evalDir !== undefined ? { evalDir: ctx.evalDir } : {}),
      repoRoot: ctx.repoRoot,
    });
    ctx.log?.(`evaluation index: ${ctx.evalIndex.hashes.size} distinct sentences from ${ctx.evalIndex.files.length} files`);
  }
  return ctx.evalIndex;
}

// ---------------------------------------------------------------------------------------------- import

export interface PoolSummary {
  readonly lang: string;
  readonly unit: string;
  readonly candidates: number;
  readonly rejected: Readonly<Record<RejectReason, number>>;
  readonly sources: readonly PoolSourceSummary[];
  readonly evalFingerprint: string;
  readonly evalFiles: number;
  readonly evalSentences: number;
  readonly importedAt: string;
}

/** Builds (or rebuilds) a language's candidate pool from the corpora and stores it. */
export async function importPool(ctx: CalibDataContext, lang: string, options: PoolOptions = {}): Promise<PoolSummary> {
  const language = requireLanguage(lang);
  const index = evalIndexOf(ctx);
  ctx.log?.(`importing ${language.iso} candidates from ${ctx.corpora}/train ...`);
  const pool = buildPool(ctx.corpora, language.iso, index, options);
  const row = await replacePool(ctx.db, pool, { fingerprint: index.fingerprint, files: index.files.length, sentences: index.hashes.size });
  ctx.log?.(`${language.iso}: ${pool.candidates.length} candidates kept`);
  return {
    lang: row.lang,
    unit: row.unit,
    candidates: row.candidates,
    rejected: pool.rejected,
    sources: pool.sources,
    evalFingerprint: row.evalFingerprint,
    evalFiles: row.evalFiles,
    evalSentences: row.evalSentences,
    importedAt: row.importedAt,
  };
}

// ---------------------------------------------------------------------------------------------- sample

export interface SampleRequest {
  readonly lang: string;
  readonly size?: number;
  readonly seed?: string;
  readonly name?: string;
  /** Replace an existing set of the same name (default: refuse). */
  readonly replace?: boolean;
}

export interface SetSummary {
  readonly name: string;
  readonly lang: string;
  readonly size: number;
  readonly requestedSize: number;
  readonly seed: string;
  readonly setHash: string;
  readonly unit: string;
  readonly buckets: readonly { name: Bucket; minUnits: number; maxUnits: number | null; count: number }[];
  readonly manifestPath: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

const SET_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkSetName(name: string): string {
  if (!SET_NAME_RE.test(name) || name.endsWith(".json")) {
    throw new CalibInputError(`bad set name "${name}": 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit`);
  }
  return name;
}

function exclusionsFrom(rows: readonly CalibExclusionRow[]): Exclusions {
  return {
    hashes: new Set(rows.flatMap((r) => [r.sha256, r.normHash])),
    lines: new Set(rows.map((r) => lineId(r.file, r.line))),
  };
}

/** A pool known to match the current corpora files and evaluation data, with its packed sources. */
interface FreshPool {
  readonly row: CalibPoolRow;
  readonly sources: readonly CalibPoolSourceRow[];
}

/** Why a stored pool cannot be drawn from as it is, or undefined when it can. */
function staleness(ctx: CalibDataContext, row: CalibPoolRow, sources: readonly CalibPoolSourceRow[]): string | undefined {
  if (row.evalFingerprint !== evalIndexOf(ctx).fingerprint) return "it was built against other evaluation data";
  if (sources.length === 0) return "it has no stored sources (built by an older Glossa)";
  for (const s of sources) {
    for (const [file, sha] of [[s.file, s.fileSha256], [s.targetFile, s.targetFileSha256]] as const) {
      if (file === null || sha === null) continue;
      let now: string;
      try {
        now = fileSha256(join(ctx.corpora, file));
      } catch {
        return `${file} is gone`;
      }
      if (now !== sha) return `${file} changed since the import`;
    }
  }
  const current = trainSourcesFor(ctx.corpora, row.lang).map((t) => t.file);
  const stored = sources.map((s) => s.file);
  if (current.join("\n") !== [...stored].sort().join("\n")) return "the corpora's training files for it changed";
  return undefined;
}

/** The language's pool, (re-)imported first when missing or stale. */
async function freshPool(ctx: CalibDataContext, lang: string): Promise<FreshPool> {
  let row = await poolOf(ctx.db, lang);
  const why = row === undefined ? "there is none yet" : staleness(ctx, row, await poolSourcesOf(ctx.db, row.id));
  if (why !== undefined) {
    ctx.log?.(`importing the ${lang} pool: ${why}`);
    await importPool(ctx, lang);
    row = await poolOf(ctx.db, lang);
    if (row === undefined) throw new CalibDataError(`the ${lang} pool vanished right after its import`);
  }
  return { row: row!, sources: await poolSourcesOf(ctx.db, row!.id) };
}

/**
 * Reads drawn pool entries from the corpora and turns them into members with provenance (sha256 of
 * the line and of its aligned reference). Both sides are checked against the evaluation index once
 * more: a stale pool can never slip an evaluation sentence into a set.
 */
function materialize(ctx: CalibDataContext, lang: string, pool: FreshPool, drawn: readonly Drawn<PoolEntry>[]): Member[] {
  const language = requireLanguage(lang);
  const index = evalIndexOf(ctx);
  const bySource = new Map(pool.sources.map((s) => [s.file, s]));
  const cache = new Map<string, string[]>();
  const lineOf = (file: string, line: number): string => {
    let lines = cache.get(file);
    if (!lines) cache.set(file, (lines = readLines(join(ctx.corpora, file))));
    const t = lines[line - 1];
    if (t === undefined) throw new CalibDataError(`${file} has no line ${line}: the ${lang} pool is stale, re-import it`);
    return t;
  };
  return drawn.map((d) => {
    const src = bySource.get(d.file);
    if (src === undefined) throw new CalibDataError(`${d.file} is not a source of the ${lang} pool`);
    const text = lineOf(d.file, d.line);
    const normHash = sha256Hex(normalizeForMatch(text));
    const targetText = src.targetFile !== null ? lineOf(src.targetFile, d.line) : undefined;
    for (const side of [text, targetText]) {
      if (side !== undefined && index.hashes.has(sha256Hex(normalizeForMatch(side)))) {
        throw new CalibDataError(`${d.file}:${d.line} matches an evaluation sentence: the ${lang} pool is stale, re-import it`);
      }
    }
    return {
      file: d.file,
      line: d.line,
      sha256: sha256Hex(text),
      normHash,
      units: d.units,
      scriptShare: scriptShare(text, language.script).share,
      bucket: d.bucket,
      ...(src.targetFile !== null && src.targetLang !== null && targetText !== undefined
        ? { target: { lang: src.targetLang, file: src.targetFile, line: d.line, sha256: sha256Hex(targetText) } }
        : {}),
    };
  });
}

/**
 * Draws and materializes; a drawn line whose text is excluded by hash (or duplicates `avoid`) is
 * excluded by line too and the draw repeated, so hash exclusions hold although the pool stores no hashes.
 */
function drawMembers(
  ctx: CalibDataContext,
  lang: string,
  pool: FreshPool,
  opts: { size: number; seed: string; exclusions: Exclusions; edges?: BucketEdges; taken?: ReadonlySet<string>; quota?: Record<Bucket, number>; avoid?: ReadonlySet<string> },
): { members: Member[]; edges: BucketEdges } {
  const entries = poolEntries(pool.sources);
  const lines = new Set(opts.exclusions.lines);
  for (let attempt = 0; attempt < 50; attempt++) {
    const drawn = sampleStratified(entries, { ...opts, exclusions: { hashes: opts.exclusions.hashes, lines } });
    const members = materialize(ctx, lang, pool, drawn.members);
    const bad = members.filter((m) => opts.exclusions.hashes.has(m.sha256) || opts.exclusions.hashes.has(m.normHash) || (opts.avoid?.has(m.normHash) ?? false));
    if (bad.length === 0) return { members, edges: drawn.edges };
    for (const m of bad) lines.add(lineId(m.file, m.line));
  }
  throw new CalibDataError(`could not draw ${opts.size} ${lang} members clear of the exclusions`);
}

/** Draws a set from the language's pool (importing it first when missing or built against other eval data). */
export async function sampleSet(ctx: CalibDataContext, req: SampleRequest): Promise<SetSummary> {
  const language = requireLanguage(req.lang);
  const size = req.size ?? DEFAULT_SET_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > 100_000) throw new CalibInputError(`--size must be an integer in 1..100000, got ${size}`);
  const seed = req.seed ?? DEFAULT_SEED;
  if (seed === "") throw new CalibInputError("--seed must not be empty");
  const name = checkSetName(req.name ?? language.iso);
  const existing = await setByName(ctx.db, name);
  if (existing && !req.replace) {
    throw new CalibInputError(`calibration set "${name}" exists (${existing.lang}, ${existing.size} members): pass --replace or another --name`);
  }
  const fresh = await freshPool(ctx, language.iso);
  const pool = fresh.row;
  const exclusions = exclusionsFrom(await exclusionsOfLang(ctx.db, language.iso));
  const drawn = drawMembers(ctx, language.iso, fresh, { size, seed, exclusions });
  const hash = setHash(language.iso, drawn.members);
  const mPath = manifestPath(ctx.manifestDir, name);
  const row = await insertSet(
    ctx.db,
    {
      name,
      lang: language.iso,
      seed,
      requestedSize: size,
      setHash: hash,
      unit: pool.unit,
      bucketEdges: drawn.edges,
      options: JSON.parse(pool.options) as unknown,
      evalFingerprint: pool.evalFingerprint,
      manifestPath: relative(ctx.repoRoot, mPath).split("\\").join("/"),
      members: drawn.members,
    },
    req.replace === true,
  );
  await writeManifestOf(ctx, row);
  ctx.log?.(`${name}: ${drawn.members.length} members, set hash ${hash.slice(0, 16)}..., manifest ${mPath}`);
  return summaryOf(ctx, row);
}

// ---------------------------------------------------------------------------------------------- list / stats

function countsByBucket(members: readonly Member[]): Record<Bucket, number> {
  const c: Record<Bucket, number> = { short: 0, medium: 0, long: 0, very_long: 0 };
  for (const m of members) c[m.bucket]++;
  return c;
}

function edgesOf(row: CalibSetRow): BucketEdges {
  const e = JSON.parse(row.bucketEdges) as unknown;
  if (!Array.isArray(e) || e.length !== 3 || !e.every((x) => Number.isInteger(x))) {
    throw new CalibDataError(`set ${row.name}: malformed bucket_edges ${row.bucketEdges}`);
  }
  return [e[0], e[1], e[2]] as BucketEdges;
}

function minUnitsOf(row: CalibSetRow): number {
  const o = JSON.parse(row.options) as { minUnits?: unknown };
  return typeof o.minUnits === "number" ? o.minUnits : 1;
}

async function summaryOf(ctx: CalibDataContext, row: CalibSetRow, given?: readonly Member[]): Promise<SetSummary> {
  const members = given ?? (await membersOf(ctx.db, row.id));
  return {
    name: row.name,
    lang: row.lang,
    size: row.size,
    requestedSize: row.requestedSize,
    seed: row.seed,
    setHash: row.setHash,
    unit: row.unit,
    buckets: bucketTable(edgesOf(row), countsByBucket(members), minUnitsOf(row)),
    manifestPath: row.manifestPath,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * Committed manifests (calib-data/*.json) that the registry does not hold yet are adopted, so that a fresh clone
 * lists, verifies and uses the sets it ships without a manual import: the set row and its members are recreated
 * from the manifest, every member line (and aligned reference) is read from the corpora and checked against its
 * sha256, and the values the draw computed from the text (normalised hash, script share) are computed again.
 * A set the registry already holds under that name is left as it is (the registry is the working copy; sample and
 * exclude rewrite the manifest). `only` limits the adoption to one set name (and a failure then throws, naming
 * the manifest and the line); without it a manifest that cannot be adopted is reported through ctx.log and
 * skipped. Returns the names adopted.
 */
export async function adoptCommittedManifests(ctx: CalibDataContext, only?: string): Promise<string[]> {
  let files: string[];
  try {
    files = readdirSync(ctx.manifestDir).filter((f) => f.endsWith(".json")).sort();
  } catch {
    return [];
  }
  const adopted: string[] = [];
  for (const f of files) {
    const name = f.slice(0, -".json".length);
    if (only !== undefined && name !== only) continue;
    if ((await setByName(ctx.db, name)) !== undefined) continue;
    try {
      if (await adoptManifest(ctx, name, join(ctx.manifestDir, f))) adopted.push(name);
    } catch (e) {
      if (only !== undefined) throw e;
      ctx.log?.(`${name}: committed manifest not adopted: ${(e as Error).message}`);
    }
  }
  return adopted;
}

async function adoptManifest(ctx: CalibDataContext, name: string, path: string): Promise<boolean> {
  {
    let m: CalibManifest;
    try {
      m = readManifest(path);
    } catch {
      return false; // not a calibration-set manifest: nothing to adopt
    }
    if (m.name !== name) throw new CalibDataError(`${path}: manifest names set "${m.name}", the file is named "${name}"`);
    const language = requireLanguage(m.lang);
    const texts = readSetText(ctx.corpora, m.members);
    const members: Member[] = m.members.map((mm, i) => ({
      file: mm.file,
      line: mm.line,
      sha256: mm.sha256,
      normHash: sha256Hex(normalizeForMatch(texts[i]!.text)),
      units: mm.units,
      scriptShare: scriptShare(texts[i]!.text, language.script).share,
      bucket: mm.bucket,
      ...(mm.target ? { target: mm.target } : {}),
    }));
    if (setHash(m.lang, members) !== m.setHash) throw new CalibDataError(`${path}: set hash does not match its members (edited by hand?)`);
    const edges = m.buckets.slice(0, 3).map((b) => b.maxUnits);
    if (edges.some((e) => e === null)) throw new CalibDataError(`${path}: malformed buckets`);
    const row = await insertSet(
      ctx.db,
      {
        name,
        lang: m.lang,
        seed: m.seed,
        requestedSize: m.requestedSize,
        setHash: m.setHash,
        unit: m.unit,
        bucketEdges: edges as number[],
        options: { ...m.selection },
        evalFingerprint: m.evalIndexFingerprint,
        manifestPath: relative(ctx.repoRoot, path).split("\\").join("/"),
        members,
      },
      false,
    );
    if (m.exclusions.length > 0) {
      const cache = new Map<string, string[]>();
      const normOf = (file: string, line: number, sha: string): string => {
        let lines = cache.get(file);
        if (!lines) cache.set(file, (lines = readLines(join(ctx.corpora, file))));
        const t = lines[line - 1];
        return t !== undefined && sha256Hex(t) === sha ? sha256Hex(normalizeForMatch(t)) : "";
      };
      await insertExclusions(
        ctx.db,
        row,
        m.exclusions.map((e) => ({ file: e.file, line: e.line, sha256: e.sha256, normHash: normOf(e.file, e.line, e.sha256), reason: e.reason, at: e.at })),
      );
    }
    ctx.log?.(`${name}: adopted the committed manifest ${relative(ctx.repoRoot, path)} (${members.length} members, set hash ${m.setHash.slice(0, 16)}...)`);
    return true;
  }
}

export async function listSets(ctx: CalibDataContext): Promise<SetSummary[]> {
  await adoptCommittedManifests(ctx);
  const out: SetSummary[] = [];
  for (const r of await setsAll(ctx.db)) out.push(await summaryOf(ctx, r));
  return out;
}

export async function requireSet(ctx: CalibDataContext, name: string): Promise<CalibSetRow> {
  let row = await setByName(ctx.db, name);
  if (row === undefined && (await adoptCommittedManifests(ctx, name)).length > 0) row = await setByName(ctx.db, name);
  if (row === undefined) throw new CalibNotFoundError(`no calibration set named "${name}" (see: glossa calib-data list)`);
  return row;
}

export interface SetStats extends SetSummary {
  readonly lengths: { readonly min: number; readonly median: number; readonly mean: number; readonly max: number };
  readonly script: { readonly name: string; readonly meanShare: number; readonly minShare: number; readonly fullyInScript: number };
  readonly sources: readonly { file: string; members: number; withTarget: number; buckets: Record<Bucket, number> }[];
  readonly targets: Readonly<Record<string, number>>;
  readonly withoutTarget: number;
  readonly exclusions: readonly { file: string; line: number; sha256: string; reason: string; at: string }[];
}

export async function setStats(ctx: CalibDataContext, name: string): Promise<SetStats> {
  const row = await requireSet(ctx, name);
  const members = await membersOf(ctx.db, row.id);
  const units = members.map((m) => m.units).sort((a, b) => a - b);
  const shares = members.map((m) => m.scriptShare);
  const bySource = new Map<string, { file: string; members: number; withTarget: number; buckets: Record<Bucket, number> }>();
  const targets: Record<string, number> = {};
  let withoutTarget = 0;
  for (const m of members) {
    let s = bySource.get(m.file);
    if (!s) bySource.set(m.file, (s = { file: m.file, members: 0, withTarget: 0, buckets: { short: 0, medium: 0, long: 0, very_long: 0 } }));
    s.members++;
    s.buckets[m.bucket]++;
    if (m.target) {
      s.withTarget++;
      targets[m.target.lang] = (targets[m.target.lang] ?? 0) + 1;
    } else withoutTarget++;
  }
  const round = (x: number): number => Math.round(x * 1e4) / 1e4;
  return {
    ...(await summaryOf(ctx, row, members)),
    lengths: {
      min: units[0] ?? 0,
      median: units.length ? units[Math.floor((units.length - 1) / 2)]! : 0,
      mean: units.length ? round(units.reduce((a, b) => a + b, 0) / units.length) : 0,
      max: units[units.length - 1] ?? 0,
    },
    script: {
      name: requireLanguage(row.lang).script,
      meanShare: shares.length ? round(shares.reduce((a, b) => a + b, 0) / shares.length) : 0,
      minShare: shares.length ? round(Math.min(...shares)) : 0,
      fullyInScript: shares.filter((s) => s === 1).length,
    },
    sources: [...bySource.values()].sort((a, b) => (a.file < b.file ? -1 : 1)),
    targets,
    withoutTarget,
    exclusions: (await exclusionsOfSet(ctx.db, row.id)).map((e) => ({ file: e.file, line: e.line, sha256: e.sha256, reason: e.reason, at: e.excludedAt })),
  };
}

// ---------------------------------------------------------------------------------------------- exclude

export interface ExcludeRequest {
  /** Each a sentence sha256 (64 hex: the line's or its normalised form's) or a line id "file:line". */
  readonly ids: readonly string[];
  readonly reason: string;
  /** Draw replacements from the same length buckets so the set keeps its size. */
  readonly refill?: boolean;
}

export interface ExcludeResult {
  readonly set: SetSummary;
  readonly removed: readonly { file: string; line: number; sha256: string; bucket: Bucket }[];
  readonly added: readonly { file: string; line: number; sha256: string; bucket: Bucket }[];
  /** Ids that matched no member. */
  readonly notFound: readonly string[];
}

const HASH_RE = /^[0-9a-f]{64}$/;
const LINE_ID_RE = /^(.+):([1-9][0-9]*)$/;

export async function excludeMembers(ctx: CalibDataContext, name: string, req: ExcludeRequest): Promise<ExcludeResult> {
  const reason = req.reason.trim();
  if (reason === "") throw new CalibInputError("an exclusion needs a --reason");
  if (req.ids.length === 0) throw new CalibInputError("nothing to exclude: give sentence hashes or file:line ids");
  const row = await requireSet(ctx, name);
  const members = await membersOf(ctx.db, row.id);
  const removed = new Map<string, Member>();
  const notFound: string[] = [];
  for (const raw of req.ids) {
    const id = raw.trim();
    let hits: Member[];
    if (HASH_RE.test(id.toLowerCase())) {
      const h = id.toLowerCase();
      hits = members.filter((m) => m.sha256 === h || m.normHash === h);
    } else {
      const mm = LINE_ID_RE.exec(id);
      if (!mm) throw new CalibInputError(`"${id}" is neither a sha256 (64 hex digits) nor a line id file:line`);
      hits = members.filter((m) => m.file === mm[1] && m.line === Number(mm[2]));
    }
    if (hits.length === 0) notFound.push(id);
    for (const m of hits) removed.set(lineId(m.file, m.line), m);
  }
  if (removed.size === 0) throw new CalibNotFoundError(`none of ${req.ids.join(", ")} is a member of ${name}`);
  const removedList = [...removed.values()];
  let added: Member[] = [];
  if (req.refill) {
    const fresh = await freshPool(ctx, row.lang);
    const quota: Record<Bucket, number> = { short: 0, medium: 0, long: 0, very_long: 0 };
    for (const m of removedList) quota[m.bucket]++;
    const prior = await exclusionsOfLang(ctx.db, row.lang);
    const exclusions: Exclusions = {
      hashes: new Set([...prior.flatMap((r) => [r.sha256, r.normHash]), ...removedList.flatMap((m) => [m.sha256, m.normHash])]),
      lines: new Set([...prior.map((r) => lineId(r.file, r.line)), ...removedList.map((m) => lineId(m.file, m.line))]),
    };
    const taken = new Set(members.map((m) => lineId(m.file, m.line)));
    // A replacement must not duplicate a sentence already in the set.
    const inSet = new Set(members.map((m) => m.normHash));
    added = drawMembers(ctx, row.lang, fresh, { size: removedList.length, seed: row.seed, exclusions, edges: edgesOf(row), taken, quota, avoid: inSet }).members;
  }
  const gone = new Set(removed.keys());
  const next = [...members.filter((m) => !gone.has(lineId(m.file, m.line))), ...added];
  const updated = await applyMembershipChange(ctx.db, {
    set: row,
    removed: removedList,
    added,
    reason,
    newSetHash: setHash(row.lang, next),
    newSize: next.length,
  });
  await writeManifestOf(ctx, updated);
  const brief = (m: Member) => ({ file: m.file, line: m.line, sha256: m.sha256, bucket: m.bucket });
  return { set: await summaryOf(ctx, updated), removed: removedList.map(brief), added: added.map(brief), notFound };
}

// ---------------------------------------------------------------------------------------------- manifests, text

/** The manifest of a stored set, as written to calib-data/<name>.json. */
export async function manifestOf(ctx: CalibDataContext, row: CalibSetRow): Promise<CalibManifest> {
  const members = await membersOf(ctx.db, row.id);
  const options = JSON.parse(row.options) as CalibManifest["selection"];
  const sources = new Map<string, { file: string; targetFile?: string; members: number }>();
  for (const m of members) {
    let s = sources.get(m.file);
    if (!s) sources.set(m.file, (s = { file: m.file, ...(m.target ? { targetFile: m.target.file } : {}), members: 0 }));
    s.members++;
  }
  return {
    format: MANIFEST_FORMAT,
    name: row.name,
    lang: row.lang,
    mbart: requireLanguage(row.lang).mbart,
    setHash: row.setHash,
    seed: row.seed,
    requestedSize: row.requestedSize,
    size: members.length,
    unit: row.unit as LengthUnit,
    buckets: bucketTable(edgesOf(row), countsByBucket(members), minUnitsOf(row)),
    selection: {
      minScriptShare: options.minScriptShare,
      minUnits: options.minUnits,
      maxUnits: options.maxUnits,
      minSegmentChars: options.minSegmentChars,
    },
    evalIndexFingerprint: row.evalFingerprint,
    sources: [...sources.values()].sort((a, b) => (a.file < b.file ? -1 : 1)),
    exclusions: (await exclusionsOfSet(ctx.db, row.id)).map((e) => ({ file: e.file, line: e.line, sha256: e.sha256, reason: e.reason, at: e.excludedAt })),
    members: members.map((m) => ({
      file: m.file,
      line: m.line,
      sha256: m.sha256,
      bucket: m.bucket,
      units: m.units,
      ...(m.target ? { target: m.target } : {}),
    })),
  };
}

async function writeManifestOf(ctx: CalibDataContext, row: CalibSetRow): Promise<string> {
  return writeManifest(ctx.manifestDir, await manifestOf(ctx, row));
}

/** A stored set's sentences (and aligned references), every line sha256-verified against the corpora. */
export async function readStoredSetText(ctx: CalibDataContext, name: string): Promise<CalibSentence[]> {
  const row = await requireSet(ctx, name);
  return readSetText(ctx.corpora, await membersOf(ctx.db, row.id));
}

/** A manifest's sentences without the database: what the statistics pass reads. */
export function readManifestText(corpora: string, manifestFile: string): { manifest: CalibManifest; sentences: CalibSentence[] } {
  const manifest = readManifest(manifestFile);
  return { manifest, sentences: readSetText(corpora, manifest.members) };
}
