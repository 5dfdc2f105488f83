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
export type { ReferenceStreams } from "./streams.js";
export { corpusBleu, sentenceBleu, BLEU_SMOOTH_METHODS, isBleuSmoothMethod } from "./bleu.js";
export { corpusChrf, sentenceChrf } from "./chrf.js";
export {
  BLEU_TOKENIZER_NAMES,
  getBleuTokenizer,
  isBleuTokenizerName,
  tokenize13a,
  tokenizeIntl,
  tokenizeZh,
  tokenizeChar,
  tokenizeNone,
} from "./tokenizers.js";
export type { BleuTokenizer } from "./tokenizers.js";
export { formatScoreLine } from "./format.js";
export { pyFormatFixed } from "./pystr.js";
export { SACREBLEU_VERSION } from "./version.js";
