/** sacreBLEU-style printed forms of scores and signatures. */
import { pyFormatFixed } from "./pystr.js";
import { SACREBLEU_VERSION } from "./version.js";

/** Fields of a signature in sacreBLEU's order; `version` is always appended last. */
export function formatSignature(fields: ReadonlyArray<readonly [string, string | number]>): string {
  return [...fields, ["version", SACREBLEU_VERSION] as const]
    .map(([key, value]) => `${key}:${value}`)
    .join("|");
}

/**
 * sacreBLEU's `Score.format(width, signature=...)` line: `NAME[|SIGNATURE] = SCORE[ VERBOSE]`.
 * sacreBLEU's command line uses width 1 by default, its Python API width 2.
 */
export function formatScoreLine(
  name: string,
  score: number,
  verbose: string,
  width: number,
  signature?: string,
): string {
  const head = signature ? `${name}|${signature}` : name;
  const line = `${head} = ${pyFormatFixed(score, width)}`;
  return verbose ? `${line} ${verbose}` : line;
}
