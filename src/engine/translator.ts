/**
 * Text in, text out: the lead's MBartTokenizer (src/tokenizer/mbart.ts) in front of the Engine.
 * translate() tokenizes with mBART-50 conventions ([src_code, ...pieces, </s>]), forces the target language
 * code as the first generated token, runs the batch on the engine and decodes without specials.
 * A direction the model was not trained on (src/engine/directions.ts, the model folder's directions.json) is
 * translated through the pivot language: source -> pivot, then the pivot text -> target.
 */
import { LANGUAGES, type Language } from "../languages.js";
import { Directions } from "./directions.js";
import { Engine, type EngineLoadOptions } from "./engine.js";
import { DEFAULT_DECODE_OPTIONS, EngineError, type DecodeOptions, type GenerateResult } from "./types.js";

/** What the Translator needs from a tokenizer (MBartTokenizer satisfies it). */
export interface SourceTokenizer {
  languageId(mbartCode: string): number;
  encodeSource(text: string, srcMbartCode: string, maxTokens?: number): Int32Array;
  decode(ids: ArrayLike<number>): string;
  /** mBART language codes the tokenizer has (MBartTokenizer exposes them). */
  readonly languageIds?: ReadonlyMap<string, number>;
}

/** "auto": pivot where the model folder says the pair is not direct; "direct": always one pass (measurements). */
export type RouteMode = "auto" | "direct";

export interface TranslationDetail {
  text: string;
  result: GenerateResult;
}

export class Translator {
  constructor(
    readonly engine: Engine,
    readonly tokenizer: SourceTokenizer,
    /** Which pairs are direct; every pair when not given. */
    readonly directions: Directions = Directions.allDirect(),
  ) {}

  /** Loads the engine, the checkpoint's tokenizer.json (through src/tokenizer/mbart.ts) and its directions. */
  static async load(opts: EngineLoadOptions): Promise<Translator> {
    const specifier = "../tokenizer/mbart.js";
    const mod = (await import(specifier)) as { MBartTokenizer?: { fromDir(dir: string): Promise<SourceTokenizer> } };
    if (!mod.MBartTokenizer) throw new EngineError("src/tokenizer/mbart.ts does not export MBartTokenizer");
    const [tokenizer, engine] = await Promise.all([mod.MBartTokenizer.fromDir(opts.modelDir), Engine.load(opts)]);
    const codes = tokenizer.languageIds;
    const languages = codes ? LANGUAGES.filter((l) => codes.has(l.mbart)) : LANGUAGES;
    return new Translator(engine, tokenizer, Directions.fromModelDir(opts.modelDir, languages));
  }

  /** Decoding options: DEFAULT_DECODE_OPTIONS overridden by opts. */
  options(opts: Partial<DecodeOptions> = {}): DecodeOptions {
    return { ...DEFAULT_DECODE_OPTIONS, ...opts };
  }

  /**
   * Translates each text; a non-direct pair goes through the pivot (the details are the last pass's).
   * Throws EngineError for a pair that is neither direct nor reachable through the pivot.
   */
  async translateDetailed(
    texts: string[],
    src: Language,
    tgt: Language,
    opts: Partial<DecodeOptions> = {},
    mode: RouteMode = "auto",
  ): Promise<TranslationDetail[]> {
    if (mode === "auto" && src !== tgt) {
      const route = this.directions.route(src, tgt);
      if (!route) throw new EngineError(`${src.iso}-${tgt.iso} is neither a direct direction of the model nor reachable through a pivot (${this.directions.origin})`);
      if (route.pivot) {
        const middle = await this.translateDetailed(texts, src, route.pivot, opts, "direct");
        return this.translateDetailed(middle.map((d) => d.text), route.pivot, tgt, opts, "direct");
      }
    }
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

  async translate(texts: string[], src: Language, tgt: Language, opts: Partial<DecodeOptions> = {}, mode: RouteMode = "auto"): Promise<string[]> {
    return (await this.translateDetailed(texts, src, tgt, opts, mode)).map((d) => d.text);
  }
}
