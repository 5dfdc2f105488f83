/**
 * Evaluation set manifests (eval/sets/<set>.json): which corpus files make up each set and direction,
 * with the line count and sha256 of the exact text expected. The text itself never enters the repository;
 * loading a set reads it from the corpora folder and refuses a file whose bytes changed.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parsePair, pairName, type Pair } from "../languages.js";
import { sha256Bytes } from "../storage/hashing.js";

export class ManifestError extends Error {
  override readonly name = "ManifestError";
}

/** A corpus file changed since its manifest was written (or was never the file meant). */
export class ChecksumMismatchError extends ManifestError {}

export interface ManifestFile {
  /** Path relative to the corpora folder. */
  file: string;
  lines: number;
  /** sha256 of the file's bytes. */
  sha256: string;
}

export interface ManifestEntry {
  /** Direction, e.g. "de-en". */
  pair: string;
  source: ManifestFile;
  reference: ManifestFile;
}

export interface SetManifest {
  /** Set name used by `--sets`, e.g. "flores200-dev". */
  set: string;
  description: string;
  entries: ManifestEntry[];
}

/** A manifest entry resolved against the language table. */
export interface EvalSetEntry extends ManifestEntry {
  set: string;
  direction: Pair;
}

/** A loaded, verified evaluation set for one direction. */
export interface LoadedEvalSet {
  entry: EvalSetEntry;
  sources: string[];
  references: string[];
  /** Lines used (the first `limit` lines, or all). */
  lineLimit: number | null;
}

/**
 * Splits a text file into lines as sacreBLEU reads them: "\n"-separated, without the final newline,
 * and without a trailing "\r" per line.
 */
export function splitLines(text: string): string[] {
  if (text === "") return [];
  const body = text.endsWith("\n") ? text.slice(0, -1) : text;
  return body.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseFile(v: unknown, where: string): ManifestFile {
  if (!isRecord(v)) throw new ManifestError(`${where}: expected an object {file, lines, sha256}`);
  const { file, lines, sha256 } = v;
  if (typeof file !== "string" || file === "" || file.includes("..")) throw new ManifestError(`${where}.file: expected a relative path inside the corpora folder`);
  if (typeof lines !== "number" || !Number.isInteger(lines) || lines <= 0) throw new ManifestError(`${where}.lines: expected a positive integer`);
  if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) throw new ManifestError(`${where}.sha256: expected 64 hex digits`);
  return { file, lines, sha256 };
}

/** Parses and checks one manifest's JSON. */
export function parseManifest(json: unknown, where: string): SetManifest {
  if (!isRecord(json)) throw new ManifestError(`${where}: expected a JSON object`);
  const { set, description, entries } = json;
  if (typeof set !== "string" || !/^[a-z0-9][a-z0-9._-]*$/.test(set)) throw new ManifestError(`${where}: "set" must be a lowercase name`);
  if (!Array.isArray(entries) || entries.length === 0) throw new ManifestError(`${where}: "entries" must be a non-empty array`);
  const seen = new Set<string>();
  const parsed = entries.map((e, i): ManifestEntry => {
    const at = `${where} entries[${i}]`;
    if (!isRecord(e)) throw new ManifestError(`${at}: expected an object`);
    const pair = typeof e.pair === "string" ? parsePair(e.pair) : undefined;
    if (!pair || pairName(pair) !== e.pair) throw new ManifestError(`${at}.pair: expected a direction like "de-en" between served languages`);
    if (seen.has(e.pair as string)) throw new ManifestError(`${at}: direction ${String(e.pair)} listed twice`);
    seen.add(e.pair as string);
    const source = parseFile(e.source, `${at}.source`);
    const reference = parseFile(e.reference, `${at}.reference`);
    if (source.lines !== reference.lines) throw new ManifestError(`${at}: source has ${source.lines} lines, reference ${reference.lines}`);
    return { pair: e.pair as string, source, reference };
  });
  return { set, description: typeof description === "string" ? description : "", entries: parsed };
}

/** Every manifest under <evalDir>/sets/, by set name. */
export function readManifests(evalDir: string): Map<string, SetManifest> {
  const dir = join(evalDir, "sets");
  if (!existsSync(dir)) throw new ManifestError(`no evaluation manifests: ${dir} does not exist`);
  const out = new Map<string, SetManifest>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".json")).sort()) {
    const path = join(dir, f);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new ManifestError(`${path}: invalid JSON: ${(e as Error).message}`);
    }
    const m = parseManifest(json, path);
    if (out.has(m.set)) throw new ManifestError(`${path}: set ${m.set} is defined twice`);
    out.set(m.set, m);
  }
  if (out.size === 0) throw new ManifestError(`no evaluation manifests in ${dir}`);
  return out;
}

/**
 * The (set, direction) entries selected by `--sets` and `--pairs` (both optional: all when absent),
 * in manifest order. Unknown set names, unknown pairs, and a selection with nothing in it are errors.
 */
export function selectEntries(manifests: Map<string, SetManifest>, sets?: string[], pairs?: string[]): EvalSetEntry[] {
  for (const s of sets ?? []) {
    if (!manifests.has(s)) throw new ManifestError(`unknown evaluation set ${JSON.stringify(s)}; known: ${[...manifests.keys()].join(", ")}`);
  }
  const wantedPairs = pairs?.map((p) => {
    const parsed = parsePair(p);
    if (!parsed) throw new ManifestError(`invalid pair ${JSON.stringify(p)}: expected e.g. de-en between served languages`);
    return pairName(parsed);
  });
  const out: EvalSetEntry[] = [];
  for (const m of manifests.values()) {
    if (sets && !sets.includes(m.set)) continue;
    for (const e of m.entries) {
      if (wantedPairs && !wantedPairs.includes(e.pair)) continue;
      out.push({ ...e, set: m.set, direction: parsePair(e.pair)! });
    }
  }
  if (out.length === 0) throw new ManifestError(`no evaluation set has the pairs asked for (${(wantedPairs ?? []).join(", ")}) in ${(sets ?? [...manifests.keys()]).join(", ")}`);
  return out;
}

function readVerified(corporaDir: string, f: ManifestFile, what: string): string[] {
  const path = join(corporaDir, f.file);
  if (!existsSync(path)) throw new ManifestError(`${what}: ${path} not found (corpora folder ${corporaDir}; set GLOSSA_CORPORA)`);
  const bytes = readFileSync(path);
  const actual = sha256Bytes(bytes);
  if (actual !== f.sha256) {
    throw new ChecksumMismatchError(
      `${what}: ${f.file} has changed (sha256 ${actual}, the manifest expects ${f.sha256}); ` +
        `refusing to score against a different text. Restore the file, or regenerate the manifests if the change is intended.`,
    );
  }
  const lines = splitLines(bytes.toString("utf8"));
  if (lines.length !== f.lines) throw new ChecksumMismatchError(`${what}: ${f.file} has ${lines.length} lines, the manifest expects ${f.lines}`);
  return lines;
}

/** Reads and verifies an entry's files; with `limit`, keeps the first `limit` lines (after verifying whole files). */
export function loadEvalSet(corporaDir: string, entry: EvalSetEntry, limit?: number): LoadedEvalSet {
  if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) throw new ManifestError(`--limit must be a positive integer, got ${limit}`);
  const what = `evaluation set ${entry.set} ${entry.pair}`;
  const sources = readVerified(corporaDir, entry.source, what);
  const references = readVerified(corporaDir, entry.reference, what);
  const lineLimit = limit !== undefined && limit < sources.length ? limit : null;
  return {
    entry,
    sources: lineLimit === null ? sources : sources.slice(0, lineLimit),
    references: lineLimit === null ? references : references.slice(0, lineLimit),
    lineLimit,
  };
}
