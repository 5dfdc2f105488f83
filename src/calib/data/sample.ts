/**
 * Seeded, deterministic, length-stratified sampling of a calibration set from a candidate pool.
 *
 * Length buckets are the pool's quartiles, each source file weighted equally (short / medium / long /
 * very_long, inclusive upper bounds made strictly increasing so no bucket collapses on ties). Each bucket gets an equal quota; a bucket
 * with too few candidates hands its shortfall to the others. Within a bucket, sources (training files)
 * take turns so one large corpus does not crowd out the others, and each source's candidates are
 * ranked by sha256(seed, file, line): the draw depends only on the seed and the pool's content, not on
 * iteration order or platform.
 */
import { createHash } from "node:crypto";
import type { Candidate } from "./pool.js";
import { CalibInputError } from "./errors.js";

export const BUCKETS = ["short", "medium", "long", "very_long"] as const;
export type Bucket = (typeof BUCKETS)[number];

/** Inclusive upper bounds of short, medium and long; very_long is everything above the last. */
export type BucketEdges = readonly [number, number, number];

/** What drawing needs of a candidate: where it is and how long it is. */
export interface PoolEntry {
  readonly file: string;
  readonly line: number;
  readonly units: number;
}

/** A set member: a candidate with its provenance hashes and its length bucket. */
export interface Member extends Candidate {
  readonly bucket: Bucket;
}

export type Drawn<T extends PoolEntry> = T & { readonly bucket: Bucket };

export interface SampleResult<T extends PoolEntry> {
  readonly members: readonly Drawn<T>[];
  readonly edges: BucketEdges;
  /** Candidates available per bucket (after exclusions). */
  readonly available: Readonly<Record<Bucket, number>>;
  /** Members drawn per bucket. */
  readonly drawn: Readonly<Record<Bucket, number>>;
}

/**
 * Quartile edges of `units`, strictly increasing. With `weights`, weighted quartiles: sampling weights
 * every source file equally, so a large corpus of very short lines (e.g. Tatoeba's first 30k Russian
 * lines) does not squeeze three of the four buckets into 2-4 tokens. Throws on an empty list.
 */
export function bucketEdges(units: readonly number[], weights?: readonly number[]): BucketEdges {
  if (units.length === 0) throw new CalibInputError("cannot compute length buckets of an empty pool");
  if (weights !== undefined && weights.length !== units.length) throw new CalibInputError("one weight per length expected");
  const order = units.map((_, i) => i).sort((a, b) => units[a]! - units[b]!);
  const w = (i: number): number => weights?.[i] ?? 1;
  const total = order.reduce((acc, i) => acc + w(i), 0);
  const q = (p: number): number => {
    let acc = 0;
    for (const i of order) {
      acc += w(i);
      if (acc >= p * total) return units[i]!;
    }
    return units[order[order.length - 1]!]!;
  };
  const e1 = q(0.25);
  const e2 = Math.max(q(0.5), e1 + 1);
  const e3 = Math.max(q(0.75), e2 + 1);
  return [e1, e2, e3];
}

/** Weights giving every source file the same total weight. */
export function sourceBalancedWeights(candidates: readonly Pick<PoolEntry, "file">[]): number[] {
  const perFile = new Map<string, number>();
  for (const c of candidates) perFile.set(c.file, (perFile.get(c.file) ?? 0) + 1);
  return candidates.map((c) => 1 / perFile.get(c.file)!);
}

export function bucketOf(units: number, edges: BucketEdges): Bucket {
  if (units <= edges[0]) return "short";
  if (units <= edges[1]) return "medium";
  if (units <= edges[2]) return "long";
  return "very_long";
}

/** The rank of a candidate under `seed`: smaller is drawn first. */
export function drawKey(seed: string, file: string, line: number): string {
  return createHash("sha256").update(`${seed}\u0000${file}\u0000${line}`, "utf8").digest("hex");
}

/** Key identifying a line in exclusion lists: "file:line". */
export function lineId(file: string, line: number): string {
  return `${file}:${line}`;
}

export interface Exclusions {
  /** sha256 of excluded sentences (raw line hash or normalised hash both accepted). */
  readonly hashes: ReadonlySet<string>;
  /** "file:line" of excluded lines. */
  readonly lines: ReadonlySet<string>;
}

export const NO_EXCLUSIONS: Exclusions = { hashes: new Set(), lines: new Set() };

/** Excluded by line id, or by hash when the entry carries its hashes (a packed pool entry does not). */
export function isExcluded(c: PoolEntry & Partial<Pick<Candidate, "sha256" | "normHash">>, ex: Exclusions): boolean {
  if (ex.lines.has(lineId(c.file, c.line))) return true;
  return (c.sha256 !== undefined && ex.hashes.has(c.sha256)) || (c.normHash !== undefined && ex.hashes.has(c.normHash));
}

function emptyCounts(): Record<Bucket, number> {
  return { short: 0, medium: 0, long: 0, very_long: 0 };
}

/** Equal quotas per bucket, capped by availability, shortfalls handed on in bucket order. */
export function allocate(size: number, available: Readonly<Record<Bucket, number>>): Record<Bucket, number> {
  const total = BUCKETS.reduce((a, b) => a + available[b], 0);
  if (total < size) {
    throw new CalibInputError(`the pool has only ${total} eligible candidates, fewer than the ${size} requested`);
  }
  const quota = emptyCounts();
  let left = size;
  // Repeatedly split what is left evenly among buckets that still have room.
  while (left > 0) {
    const open = BUCKETS.filter((b) => available[b] > quota[b]);
    const share = Math.floor(left / open.length);
    const extra = left % open.length;
    let given = 0;
    open.forEach((b, i) => {
      const want = share + (i < extra ? 1 : 0);
      const give = Math.min(want, available[b] - quota[b]);
      quota[b] += give;
      given += give;
    });
    left -= given;
  }
  return quota;
}

/**
 * Draws `size` members. `edges` defaults to the quartiles of the eligible pool; pass a set's recorded
 * edges to draw replacements into the same buckets. Candidates in `taken` (lineId) are skipped.
 */
export function sampleStratified<T extends PoolEntry>(
  candidates: readonly T[],
  opts: { size: number; seed: string; exclusions?: Exclusions; edges?: BucketEdges; taken?: ReadonlySet<string>; quota?: Readonly<Record<Bucket, number>> },
): SampleResult<T> {
  if (!Number.isInteger(opts.size) || opts.size < 1) throw new CalibInputError(`set size must be a positive integer, got ${opts.size}`);
  const ex = opts.exclusions ?? NO_EXCLUSIONS;
  const eligible = candidates.filter((c) => !isExcluded(c, ex) && !(opts.taken?.has(lineId(c.file, c.line)) ?? false));
  const edges = opts.edges ?? bucketEdges(eligible.map((c) => c.units), sourceBalancedWeights(eligible));
  const byBucket = new Map<Bucket, Map<string, { key: string; c: T }[]>>();
  for (const b of BUCKETS) byBucket.set(b, new Map());
  const available = emptyCounts();
  for (const c of eligible) {
    const b = bucketOf(c.units, edges);
    available[b]++;
    const files = byBucket.get(b)!;
    let list = files.get(c.file);
    if (!list) files.set(c.file, (list = []));
    list.push({ key: drawKey(opts.seed, c.file, c.line), c });
  }
  const quota = opts.quota ?? allocate(opts.size, available);
  const drawn = emptyCounts();
  const members: Drawn<T>[] = [];
  for (const b of BUCKETS) {
    const files = [...byBucket.get(b)!.entries()].sort(([a], [z]) => (a < z ? -1 : a > z ? 1 : 0));
    const queues = files.map(([, list]) => list.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)));
    const pos = queues.map(() => 0);
    let need = quota[b];
    if (need > available[b]) throw new CalibInputError(`bucket ${b} has ${available[b]} candidates, ${need} needed`);
    while (need > 0) {
      for (let i = 0; i < queues.length && need > 0; i++) {
        const q = queues[i]!;
        if (pos[i]! >= q.length) continue;
        members.push({ ...q[pos[i]!]!.c, bucket: b });
        pos[i]!++;
        need--;
        drawn[b]++;
      }
    }
  }
  members.sort((x, y) => (x.file < y.file ? -1 : x.file > y.file ? 1 : x.line - y.line));
  return { members, edges, available, drawn };
}
