/**
 * Opens the engine's Translator (src/engine/translator.ts) for an engine row.
 * An engine whose file is a checkpoint folder (the reference, or a variant of it with its own decode
 * options) loads through Translator.load; single-file quantized engines load through the engine once
 * it accepts them (issue 6), and until then are refused with a clear error.
 */
import { existsSync, statSync } from "node:fs";
import { engineModelDir } from "../engine/engine-file.js";
import { Translator } from "../engine/translator.js";
import type { EngineRow } from "../storage/schema/models.js";
import { TranslatorUnavailableError, type SentenceTranslator } from "./translator.js";

export async function openEngineTranslator(engine: EngineRow, opts: { threads?: number } = {}): Promise<SentenceTranslator> {
  if (!existsSync(engine.file)) throw new TranslatorUnavailableError(`engine ${engine.name}: ${engine.file} does not exist`);
  const threads = opts.threads !== undefined ? { threads: opts.threads } : {};
  if (!statSync(engine.file).isDirectory()) {
    // A calibrated engine file (issue 6): its metadata names the model folder (tokenizer, config).
    return Translator.load({ modelDir: engineModelDir(engine.file), enginePath: engine.file, ...threads });
  }
  return Translator.load({ modelDir: engine.file, ...threads });
}
