/**
 * Opens the engine's Translator (src/engine/translator.ts) for an engine row.
 * TODO(wire): the Translator is being written by the engine engineer; until it lands this loads it
 * dynamically and fails with TranslatorUnavailableError.
 */
import type { EngineRow } from "../storage/schema/models.js";
import { TranslatorUnavailableError, type SentenceTranslator } from "./translator.js";

export async function openEngineTranslator(engine: EngineRow): Promise<SentenceTranslator> {
  const specifier: string = "../engine/translator.js";
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (e) {
    throw new TranslatorUnavailableError(`cannot load the engine's Translator for ${engine.name}: ${(e as Error).message}`);
  }
  throw new TranslatorUnavailableError(`Translator found (${Object.keys(mod).join(", ")}) but not wired yet for ${engine.name}`);
}
