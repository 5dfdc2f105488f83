/**
 * The set of every evaluation sentence, in normalised-hash form, that calibration candidates are
 * checked against. Built from the union of
 *   - every file named in the evaluation manifests (eval/*.json: any string value that is a path to an
 *     existing file, relative to the corpora root, the repository root, or absolute), and
 *   - every data file under the corpora root outside train/ (FLORES-200, NTREX-128, Tatoeba test,
 *     newstest, TICO-19, Multi30k eval, MAFAND, IWSLT15, and whatever else is staged there later),
 * so a set missing from the manifests is still excluded. Both sides of every evaluation pair count.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { readLines } from "./corpus.js";
import { CalibDataError } from "./errors.js";
import { normalizeForMatch, sha256Hex } from "./text.js";

export interface EvalIndex {
  /** sha256 of normalised evaluation sentences. */
  readonly hashes: ReadonlySet<string>;
  /** Files read (relative to the corpora root when under it, else absolute), sorted. */
  readonly files: readonly string[];
  /** Lines read over all files (before de-duplication). */
  readonly lines: number;
  /** sha256 over the sorted file list and their contents' hashes: identifies this index. */
  readonly fingerprint: string;
}

/** Files under the corpora root that are metadata, not sentences. */
function isMetadataFile(name: string): boolean {
  return name.endsWith(".md") || name.endsWith(".labels") || name.endsWith(".tsv") || name.endsWith(".json") || name.startsWith(".");
}

function walkFiles(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walkFiles(p, out);
    else if (st.isFile() && !isMetadataFile(name)) out.push(p);
  }
}

/** Every data file of the corpora outside train/. */
export function corporaEvalFiles(corpora: string): string[] {
  if (!existsSync(corpora)) throw new CalibDataError(`corpora folder ${corpora} does not exist`);
  const out: string[] = [];
  for (const name of readdirSync(corpora).sort()) {
    if (name === "train") continue;
    const p = join(corpora, name);
    if (statSync(p).isDirectory()) walkFiles(p, out);
  }
  return out;
}

function jsonFilesUnder(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) jsonFilesUnder(p, out);
    else if (st.isFile() && name.endsWith(".json")) out.push(p);
  }
}

/**
 * Paths of sentence files named in the evaluation manifests anywhere under `evalDir` (e.g.
 * eval/sets/*.json; absent folder: none). A manifest that is not valid JSON is an error: it would
 * silently weaken the check.
 */
export function manifestEvalFiles(evalDir: string, corpora: string, repoRoot: string): string[] {
  if (!existsSync(evalDir)) return [];
  const found = new Set<string>();
  const manifests: string[] = [];
  jsonFilesUnder(evalDir, manifests);
  for (const path of manifests) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new CalibDataError(`evaluation manifest ${path} is not valid JSON: ${(e as Error).message}`);
    }
    collectPaths(parsed, (s) => {
      for (const base of [corpora, repoRoot]) {
        const p = isAbsolute(s) ? s : resolve(base, s);
        if (existsSync(p) && statSync(p).isFile()) {
          found.add(p);
          return;
        }
      }
    });
  }
  return [...found].sort();
}

function collectPaths(v: unknown, visit: (s: string) => void): void {
  if (typeof v === "string") {
    // Only strings that look like relative or absolute file paths.
    if (v.length > 0 && v.length < 1024 && !v.includes("\n") && /[/\\.]/.test(v)) visit(v);
  } else if (Array.isArray(v)) {
    for (const x of v) collectPaths(x, visit);
  } else if (typeof v === "object" && v !== null) {
    for (const x of Object.values(v)) collectPaths(x, visit);
  }
}

/** Builds the evaluation index from the corpora eval folders and the eval manifests. */
export function buildEvalIndex(opts: { corpora: string; evalDir?: string; repoRoot?: string }): EvalIndex {
  const files = new Set<string>(corporaEvalFiles(opts.corpora));
  if (opts.evalDir !== undefined) {
    for (const f of manifestEvalFiles(opts.evalDir, opts.corpora, opts.repoRoot ?? opts.corpora)) files.add(f);
  }
  const sorted = [...files].sort();
  const hashes = new Set<string>();
  let lines = 0;
  const fp: string[] = [];
  const shown: string[] = [];
  for (const f of sorted) {
    const ls = readLines(f);
    lines += ls.length;
    for (const l of ls) {
      const n = normalizeForMatch(l);
      if (n !== "") hashes.add(sha256Hex(n));
    }
    const rel = relative(opts.corpora, f);
    const name = rel.startsWith("..") || isAbsolute(rel) ? f : rel.split(sep).join("/");
    shown.push(name);
    fp.push(`${name}\t${ls.length}\t${sha256Hex(ls.join("\n"))}`);
  }
  if (hashes.size === 0) {
    throw new CalibDataError(
      `no evaluation sentences found under ${opts.corpora} or in the eval manifests: refusing to curate without an overlap check`,
    );
  }
  return { hashes, files: shown, lines, fingerprint: sha256Hex(fp.join("\n")) };
}
