/**
 * Text in, text out: the lead's MBartTokenizer (src/tokenizer/mbart.ts) in front of the Engine.
 * translate() tokenizes with mBART-50 conventions ([src_code, ...pieces, </s>]), forces the target language
 * code as the first generated token, runs the batch on the engine and decodes without specials.
 */
import type { Language } from "../languages.js";
import { Engine, type EngineLoadOptions } from "./engine.js";
import { DEFAULT_DECODE_OPTIONS, EngineError, type DecodeOptions, type GenerateResult } from "./types.js";

/** What the Translator needs from a tokenizer (MBartTokenizer satisfies it). */
export interface SourceTokenizer {
  languageId(mbartCode: string): number;
  encodeSource(text: string, srcMbartCode: string, maxTokens?: number): Int32Array;
  decode(ids: ArrayLike<number>): string;
}

export interface TranslationDetail {
  text: string;
  result: GenerateResult;
}

export class Translator {
  constructor(
    readonly engine: Engine,
    readonly tokenizer: SourceTokenizer,
  ) {}

  /** Loads the engine and the checkpoint's tokenizer.json (through src/tokenizer/mbart.ts). */
  static async load(opts: EngineLoadOptions): Promise<Translator> {
    const specifier = "../tokenizer/mbart.js";
    const mod = (await import(specifier)) as { MBartTokenizer?: { fromDir(dir: string): Promise<SourceTokenizer> } };
    if (!mod.MBartTokenizer) throw new EngineError("src/tokenizer/mbart.ts does not export MBartTokenizer");
    const [tokenizer, engine] = await Promise.all([mod.MBartTokenizer.fromDir(opts.modelDir), Engine.load(opts)]);
    return new Translator(engine, tokenizer);
  }

  /** Decoding options: DEFAULT_DECODE_OPTIONS overridden by opts. */
  options(opts: Partial<DecodeOptions> = {}): DecodeOptions {
    return { ...DEFAULT_DECODE_OPTIONS, ...opts };
  }

  async translateDetailed(texts: string[], src: Language, tgt: Language, opts: Partial<DecodeOptions> = {}): Promise<TranslationDetail[]> {
    const options = this.options(opts);
    const forcedBosId = this.tokenizer.languageId(tgt.mbart);
    const requests = texts.map((text) => ({
      srcIds: this.tokenizer.encodeSource(text, src.mbart, this.engine.info.maxSourceTokens),
      forcedBosId,
      options,
    }));
    const results = await this.engine.generate(requests);
    return results.map((result) => ({ text: this.tokenizer.decode(result.ids), result }));
  }

  /** Frees the engine. */
  close(): Promise<void> {
    return this.engine.dispose();
  }

  async translate(texts: string[], src: Language, tgt: Language, opts: Partial<DecodeOptions> = {}): Promise<string[]> {
    return (await this.translateDetailed(texts, src, tgt, opts)).map((d) => d.text);
  }
}
