/**
 * Reading the corpora's training side: which files hold a language, their lines, and the
 * eval-overlap line lists that ship next to them.
 *
 * Layout: <corpora>/train/<pair>/<name>.<lang>, with <name>.eval_overlap_lines.txt (1-based line
 * numbers, one per line) and the other side of the pair as <name>.<other>.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { LANGUAGES, resolveLanguage, type Language } from "../../languages.js";
import { CalibDataError, CalibInputError } from "./errors.js";

/** One training file a language's candidates come from, with its aligned other side. */
export interface TrainSource {
  /** Path relative to the corpora root, POSIX separators, e.g. "train/en-de/multi30k.de". */
  readonly file: string;
  /** ISO code of the file's language. */
  readonly lang: string;
  /** The aligned file of the other language (same line numbers), or undefined when absent. */
  readonly target?: { readonly file: string; readonly lang: string };
  /** The eval-overlap list next to it, relative to the corpora root, or undefined when absent. */
  readonly overlapList?: string;
}

const OVERLAP_SUFFIX = ".eval_overlap_lines.txt";

/**
 * The training files for `iso`, sorted by path. For English: the en side of every pair whose other
 * side is a language Glossa serves and exists as <name>.<other> (so every English member has a usable
 * decoder-side reference; e.g. tatoeba_manythings_hant.en, aligned with a .zh_Hant file, is skipped).
 * Files whose suffix is not exactly a served ISO code (e.g. ".zh_Hant") are never used.
 */
export function trainSourcesFor(corpora: string, iso: string): TrainSource[] {
  const lang = requireLanguage(iso);
  const trainDir = join(corpora, "train");
  if (!existsSync(trainDir)) throw new CalibDataError(`no training corpora at ${trainDir}`);
  const out: TrainSource[] = [];
  for (const pair of readdirSync(trainDir).sort()) {
    const pairDir = join(trainDir, pair);
    if (!statSync(pairDir).isDirectory()) continue;
    const sides = pair.split("-");
    if (sides.length !== 2 || !sides.includes(lang.iso)) continue;
    const other = sides[0] === lang.iso ? sides[1]! : sides[0]!;
    const otherLang = resolveLanguage(other);
    if (otherLang === undefined || otherLang.iso !== other) continue;
    const names = readdirSync(pairDir).sort();
    for (const fname of names) {
      if (!fname.endsWith(`.${lang.iso}`)) continue;
      const stem = fname.slice(0, -(lang.iso.length + 1));
      const file = posix.join("train", pair, fname);
      const targetName = `${stem}.${otherLang.iso}`;
      const overlapName = `${stem}${OVERLAP_SUFFIX}`;
      // English is drawn from many pairs: only where a served language's side is there to teacher-force.
      if (lang.iso === "en" && !names.includes(targetName)) continue;
      out.push({
        file,
        lang: lang.iso,
        ...(names.includes(targetName) ? { target: { file: posix.join("train", pair, targetName), lang: otherLang.iso } } : {}),
        ...(names.includes(overlapName) ? { overlapList: posix.join("train", pair, overlapName) } : {}),
      });
    }
  }
  return out;
}

export function requireLanguage(iso: string): Language {
  const lang = resolveLanguage(iso);
  if (lang === undefined) {
    throw new CalibInputError(`unknown language "${iso}" (served: ${LANGUAGES.map((l) => l.iso).join(" ")})`);
  }
  return lang;
}

/** A text file's lines (as readLines) and the sha256 of its bytes. */
export function readLinesWithHash(path: string): { lines: string[]; sha256: string } {
  const bytes = readFileSync(path);
  return { lines: splitLines(bytes.toString("utf8")), sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** sha256 of a file's bytes. */
export function fileSha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/**
 * A text file's lines, without line terminators: split on "\n", one trailing empty element (from a final
 * newline) dropped. Line i (1-based) is element i-1. A trailing "\r" is kept: it is part of the stored line.
 */
export function readLines(path: string): string[] {
  return splitLines(readFileSync(path, "utf8"));
}

/** The 1-based line numbers listed in an eval-overlap file. Throws on a malformed entry. */
export function readOverlapList(path: string): Set<number> {
  const out = new Set<number>();
  readLines(path).forEach((raw, i) => {
    const t = raw.trim();
    if (t === "") return;
    const n = Number(t);
    if (!Number.isInteger(n) || n < 1) throw new CalibDataError(`${path}:${i + 1}: not a 1-based line number: "${t}"`);
    out.add(n);
  });
  return out;
}
