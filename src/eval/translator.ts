/**
 * What the evaluation pipeline needs from the engine: translate a batch of sentences for a direction.
 * The real implementation is the engine's Translator (src/engine/translator.ts), opened for an engine
 * row by openEngineTranslator(); tests of the gate arithmetic may pass their own.
 */
import type { DecodeOptions } from "../engine/types.js";
import type { Language } from "../languages.js";
import type { EngineRow } from "../storage/schema/models.js";

export interface SentenceTranslator {
  translate(texts: string[], src: Language, tgt: Language, opts?: Partial<DecodeOptions>): Promise<string[]>;
  close?(): void | Promise<void>;
}

export type TranslatorFactory = (engine: EngineRow) => Promise<SentenceTranslator>;

export class TranslatorUnavailableError extends Error {
  override readonly name = "TranslatorUnavailableError";
}
