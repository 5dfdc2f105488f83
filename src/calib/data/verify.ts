/**
 * Re-reading a calibration set's text from the corpora. Every member line (and its aligned reference)
 * is checked against its recorded sha256; any difference refuses the whole set with CorpusChangedError.
 */
import { join } from "node:path";
import { readLines } from "./corpus.js";
import { CorpusChangedError } from "./errors.js";
import { sha256Hex } from "./text.js";
import type { TargetRef } from "./pool.js";

export interface MemberRef {
  readonly file: string;
  readonly line: number;
  readonly sha256: string;
  readonly target?: TargetRef;
}

export interface CalibSentence {
  readonly file: string;
  readonly line: number;
  /** The member line, in the set's language (encoder side). */
  readonly text: string;
  /** The aligned reference (decoder side, teacher-forced), when the corpus has one. */
  readonly target?: { readonly lang: string; readonly text: string };
}

/** Reads and verifies members, in the given order. Each corpus file is read once. */
export function readSetText(corpora: string, members: readonly MemberRef[]): CalibSentence[] {
  const cache = new Map<string, string[]>();
  const lineOf = (file: string, line: number, sha: string): string => {
    let lines = cache.get(file);
    if (!lines) {
      try {
        lines = readLines(join(corpora, file));
      } catch (e) {
        throw new CorpusChangedError(file, line, sha, undefined, (e as Error).message);
      }
      cache.set(file, lines);
    }
    const text = lines[line - 1];
    if (text === undefined) throw new CorpusChangedError(file, line, sha, undefined);
    const actual = sha256Hex(text);
    if (actual !== sha) throw new CorpusChangedError(file, line, sha, actual);
    return text;
  };
  return members.map((m) => {
    const text = lineOf(m.file, m.line, m.sha256);
    const target = m.target ? { lang: m.target.lang, text: lineOf(m.target.file, m.target.line, m.target.sha256) } : undefined;
    return { file: m.file, line: m.line, text, ...(target ? { target } : {}) };
  });
}
