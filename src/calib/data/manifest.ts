/**
 * Calibration-set manifests (calib-data/<name>.json): provenance of every member (file, 1-based line,
 * sha256 of the line, and of its aligned reference), the buckets, and the set's own hash. Never the text.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { LengthUnit } from "./text.js";
import { sha256Hex } from "./text.js";
import type { Bucket, BucketEdges } from "./sample.js";
import { BUCKETS } from "./sample.js";
import type { TargetRef } from "./pool.js";
import { CalibDataError } from "./errors.js";

export const MANIFEST_FORMAT = "glossa-calib-set/1";

export interface ManifestMember {
  readonly file: string;
  readonly line: number;
  readonly sha256: string;
  readonly bucket: Bucket;
  readonly units: number;
  readonly target?: TargetRef;
}

export interface ManifestExclusion {
  readonly file: string;
  readonly line: number;
  readonly sha256: string;
  readonly reason: string;
  readonly at: string;
}

export interface CalibManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly name: string;
  readonly lang: string;
  readonly mbart: string;
  /** sha256 over the language and the sorted member provenance (see setHash). */
  readonly setHash: string;
  readonly seed: string;
  readonly requestedSize: number;
  readonly size: number;
  readonly unit: LengthUnit;
  readonly buckets: readonly { name: Bucket; minUnits: number; maxUnits: number | null; count: number }[];
  readonly selection: {
    readonly minScriptShare: number;
    readonly minUnits: number;
    readonly maxUnits: number;
    readonly minSegmentChars: number;
  };
  readonly evalIndexFingerprint: string;
  readonly sources: readonly { file: string; targetFile?: string; members: number }[];
  readonly exclusions: readonly ManifestExclusion[];
  readonly members: readonly ManifestMember[];
}

type HashableMember = Pick<ManifestMember, "file" | "line" | "sha256" | "target">;

/**
 * The identity of a set: sha256 over the format tag, the language, and one line per member
 * (file, line, sha256, target file, target line, target sha256), members sorted by (file, line).
 */
export function setHash(lang: string, members: readonly HashableMember[]): string {
  const rows = [...members]
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line))
    .map((m) => [m.file, m.line, m.sha256, m.target?.file ?? "", m.target?.line ?? "", m.target?.sha256 ?? ""].join("\t"));
  return sha256Hex(`${MANIFEST_FORMAT}\n${lang}\n${rows.join("\n")}\n`);
}

export function bucketTable(
  edges: BucketEdges,
  counts: Readonly<Record<Bucket, number>>,
  minUnits = 1,
): { name: Bucket; minUnits: number; maxUnits: number | null; count: number }[] {
  const lows = [minUnits, edges[0] + 1, edges[1] + 1, edges[2] + 1];
  const highs = [edges[0], edges[1], edges[2], null];
  return BUCKETS.map((name, i) => ({ name, minUnits: lows[i]!, maxUnits: highs[i]!, count: counts[name] }));
}

/** Pretty JSON with one member per line, so diffs of a re-drawn set stay readable. */
export function formatManifest(m: CalibManifest): string {
  const { members, ...head } = m;
  const headJson = JSON.stringify(head, null, 2);
  const body = members.map((x) => `    ${JSON.stringify(x)}`).join(",\n");
  return `${headJson.slice(0, -2)},\n  "members": [\n${body}\n  ]\n}\n`;
}

export function manifestPath(dir: string, name: string): string {
  return join(dir, `${name}.json`);
}

/** Writes atomically (temp file + rename). */
export function writeManifest(dir: string, m: CalibManifest): string {
  const path = manifestPath(dir, m.name);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, formatManifest(m), "utf8");
  renameSync(tmp, path);
  return path;
}

/** Reads and checks a manifest: its format tag and that its setHash matches its members. */
export function readManifest(path: string): CalibManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new CalibDataError(`cannot read calibration manifest ${path}: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || (parsed as { format?: unknown }).format !== MANIFEST_FORMAT) {
    throw new CalibDataError(`${path} is not a ${MANIFEST_FORMAT} manifest`);
  }
  const m = parsed as CalibManifest;
  if (!Array.isArray(m.members) || typeof m.lang !== "string" || typeof m.setHash !== "string") {
    throw new CalibDataError(`${path}: malformed manifest (members, lang or setHash missing)`);
  }
  const h = setHash(m.lang, m.members);
  if (h !== m.setHash) throw new CalibDataError(`${path}: setHash ${m.setHash} does not match its members (${h}): edited by hand?`);
  return m;
}
