import type { ChrfOptions, ChrfScore } from "./types.js";

export function corpusChrf(hyps: string[], refs: string[][], opts: ChrfOptions = {}): ChrfScore {
  void hyps; void refs; void opts;
  throw new Error("corpusChrf: not implemented yet");
}

export function sentenceChrf(hyp: string, refs: string[], opts: ChrfOptions = {}): ChrfScore {
  void hyp; void refs; void opts;
  throw new Error("sentenceChrf: not implemented yet");
}
