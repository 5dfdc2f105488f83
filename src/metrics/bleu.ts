import type { BleuOptions, BleuScore } from "./types.js";

export function corpusBleu(hyps: string[], refs: string[][], opts: BleuOptions = {}): BleuScore {
  void hyps; void refs; void opts;
  throw new Error("corpusBleu: not implemented yet");
}

export function sentenceBleu(hyp: string, refs: string[], opts: BleuOptions = {}): BleuScore {
  void hyp; void refs; void opts;
  throw new Error("sentenceBleu: not implemented yet");
}
