/** sacreBLEU 2.6.0-compatible BLEU and chrF/chrF++ (TypeScript reimplementation). */
export type {
  BleuOptions,
  BleuScore,
  BleuSmoothMethod,
  BleuTokenizerName,
  ChrfOptions,
  ChrfScore,
} from "./types.js";
export { MetricInputError } from "./types.js";
export { corpusBleu, sentenceBleu } from "./bleu.js";
export { corpusChrf, sentenceChrf } from "./chrf.js";
export { SACREBLEU_VERSION } from "./version.js";
