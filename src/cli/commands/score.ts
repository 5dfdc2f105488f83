/**
 * glossa score --metric bleu|chrf --hyp FILE --ref FILE [--ref FILE ...] [--tokenize 13a|intl|zh|char|none]
 *              [--smooth exp|floor|add-k|none] [--smooth-value V] [--lowercase] [--effective-order]
 *              [--word-order N] [--json]
 *
 * Scores a hypothesis file against one or more reference files (one segment per line) with the
 * sacreBLEU 2.6.0-compatible metrics of src/metrics. Files are read like sacreBLEU's command line:
 * UTF-8 (a BOM is kept as a character), lines end at "\n" only, and each line is right-stripped of
 * Python whitespace. Without --json it prints sacreBLEU's text line (`sacrebleu -f text`, score
 * with 1 decimal as sacreBLEU's default --width); with --json one object carrying the unrounded score.
 * Bad arguments and unreadable or mismatched files: message on stderr, exit code 2.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  BLEU_SMOOTH_METHODS,
  BLEU_TOKENIZER_NAMES,
  corpusBleu,
  corpusChrf,
  formatScoreLine,
  isBleuSmoothMethod,
  isBleuTokenizerName,
  MetricInputError,
  type BleuOptions,
  type ChrfOptions,
} from "../../metrics/index.js";
import { pyRstrip } from "../../metrics/pystr.js";

export const SCORE_USAGE =
  "usage: glossa score --metric bleu|chrf --hyp FILE --ref FILE [--ref FILE ...] [--tokenize 13a|intl|zh|char|none] " +
  "[--smooth exp|floor|add-k|none] [--smooth-value V] [--lowercase] [--effective-order] [--word-order N] [--json]";

/** sacreBLEU's command line prints scores with this many decimals by default (--width 1). */
const TEXT_WIDTH = 1;

export interface ScoreIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

const PROCESS_IO: ScoreIo = { stdout: process.stdout, stderr: process.stderr };

/** Bad command-line input: reported on stderr with the usage line, exit code 2. */
export class ScoreUsageError extends Error {
  override readonly name = "ScoreUsageError";
}

export interface ScoreRequest {
  metric: "bleu" | "chrf";
  hypFile: string;
  refFiles: string[];
  bleu: BleuOptions;
  chrf: ChrfOptions;
  json: boolean;
}

function parseScoreArgs(argv: string[]): ScoreRequest | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        metric: { type: "string" },
        hyp: { type: "string" },
        ref: { type: "string", multiple: true },
        tokenize: { type: "string" },
        smooth: { type: "string" },
        "smooth-value": { type: "string" },
        lowercase: { type: "boolean", default: false },
        "effective-order": { type: "boolean", default: false },
        "word-order": { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new ScoreUsageError(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values;
  if (v.help) return "help";
  if (v.metric === undefined) throw new ScoreUsageError("--metric is required (bleu or chrf)");
  if (v.metric !== "bleu" && v.metric !== "chrf") {
    throw new ScoreUsageError(`--metric must be bleu or chrf, got ${JSON.stringify(v.metric)}`);
  }
  if (v.hyp === undefined) throw new ScoreUsageError("--hyp FILE is required");
  const refFiles = v.ref ?? [];
  if (refFiles.length === 0) throw new ScoreUsageError("at least one --ref FILE is required");

  const bleu: BleuOptions = { lowercase: v.lowercase, effectiveOrder: v["effective-order"] };
  const chrf: ChrfOptions = { lowercase: v.lowercase };
  if (v.metric === "chrf") {
    for (const flag of ["tokenize", "smooth", "smooth-value"] as const) {
      if (v[flag] !== undefined) throw new ScoreUsageError(`--${flag} applies to --metric bleu only`);
    }
  } else if (v["word-order"] !== undefined) {
    throw new ScoreUsageError("--word-order applies to --metric chrf only");
  }
  if (v.tokenize !== undefined) {
    if (!isBleuTokenizerName(v.tokenize)) {
      throw new ScoreUsageError(`--tokenize must be one of ${BLEU_TOKENIZER_NAMES.join("|")}, got ${JSON.stringify(v.tokenize)}`);
    }
    bleu.tokenize = v.tokenize;
  }
  if (v.smooth !== undefined) {
    if (!isBleuSmoothMethod(v.smooth)) {
      throw new ScoreUsageError(`--smooth must be one of ${BLEU_SMOOTH_METHODS.join("|")}, got ${JSON.stringify(v.smooth)}`);
    }
    bleu.smoothMethod = v.smooth;
  }
  if (v["smooth-value"] !== undefined) {
    const text = v["smooth-value"].trim();
    const value = Number(text);
    if (text === "" || !Number.isFinite(value)) {
      throw new ScoreUsageError(`--smooth-value expects a number, got ${JSON.stringify(v["smooth-value"])}`);
    }
    bleu.smoothValue = value;
  }
  if (v["word-order"] !== undefined) {
    if (!/^\d+$/.test(v["word-order"])) {
      throw new ScoreUsageError(`--word-order expects a non-negative integer, got ${JSON.stringify(v["word-order"])}`);
    }
    chrf.wordOrder = Number(v["word-order"]);
  }
  return { metric: v.metric, hypFile: v.hyp, refFiles, bleu, chrf, json: v.json };
}

/**
 * The segments of a text file as sacreBLEU's command line reads them: UTF-8 (strict; a BOM stays
 * part of the first line), split at "\n" only (a final "\n" does not start another segment), each
 * line right-stripped of Python whitespace (so "\r" and trailing spaces go).
 */
export function readSegments(file: string, role: string): string[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new ScoreUsageError(`cannot read ${role} file ${JSON.stringify(file)} (${reason})`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new ScoreUsageError(`${role} file ${JSON.stringify(file)} is not valid UTF-8`);
  }
  if (text === "") return [];
  const lines = text.split("\n");
  if (text.endsWith("\n")) lines.pop();
  return lines.map(pyRstrip);
}

function scoreFiles(req: ScoreRequest): { line: string; json: Record<string, unknown> } {
  const hyps = readSegments(req.hypFile, "--hyp");
  if (hyps.length === 0) throw new ScoreUsageError(`--hyp file ${JSON.stringify(req.hypFile)} has no lines`);
  const refs = req.refFiles.map((file) => {
    const segments = readSegments(file, "--ref");
    if (segments.length !== hyps.length) {
      throw new ScoreUsageError(
        `--ref file ${JSON.stringify(file)} has ${segments.length} lines but --hyp file ${JSON.stringify(req.hypFile)} has ${hyps.length}`,
      );
    }
    return segments;
  });
  if (req.metric === "bleu") {
    const s = corpusBleu(hyps, refs, req.bleu);
    const line = formatScoreLine(s.name, s.score, s.verbose, TEXT_WIDTH, s.signature);
    return {
      line,
      json: {
        name: s.name,
        score: s.score,
        signature: s.signature,
        line,
        verbose_score: s.verbose,
        counts: s.counts,
        totals: s.totals,
        precisions: s.precisions,
        bp: s.bp,
        ratio: s.ratio,
        hyp_len: s.sysLen,
        ref_len: s.refLen,
        sentences: hyps.length,
        ...signatureFields(s.signature),
      },
    };
  }
  const s = corpusChrf(hyps, refs, req.chrf);
  const line = formatScoreLine(s.name, s.score, "", TEXT_WIDTH, s.signature);
  return {
    line,
    json: {
      name: s.name,
      score: s.score,
      signature: s.signature,
      line,
      char_order: s.charOrder,
      word_order: s.wordOrder,
      beta: s.beta,
      sentences: hyps.length,
      ...signatureFields(s.signature),
    },
  };
}

/** "nrefs:1|case:mixed|..." as {nrefs: "1", case: "mixed", ...}, like sacreBLEU's JSON output. */
function signatureFields(signature: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const part of signature.split("|")) {
    const at = part.indexOf(":");
    fields[part.slice(0, at)] = part.slice(at + 1);
  }
  return fields;
}

/** Runs `glossa score`; returns the process exit code (0 ok, 2 bad arguments or input files). */
export async function scoreCommand(argv: string[], io: ScoreIo = PROCESS_IO): Promise<number> {
  try {
    const req = parseScoreArgs(argv);
    if (req === "help") {
      io.stdout.write(`${SCORE_USAGE}\n`);
      return 0;
    }
    const { line, json } = scoreFiles(req);
    io.stdout.write(req.json ? `${JSON.stringify(json, null, 1)}\n` : `${line}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ScoreUsageError || err instanceof MetricInputError) {
      io.stderr.write(`glossa score: error: ${err.message}\n${SCORE_USAGE}\n`);
      return 2;
    }
    throw err;
  }
}
