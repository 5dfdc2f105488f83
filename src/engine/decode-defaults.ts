/**
 * Where a request's decoding settings come from when it does not set them (issue 9 item 7). For each setting,
 * the first layer that has it wins:
 *
 *   request options  >  operator (GLOSSA_BEAM_SIZE / --beam-size)  >  the engine's release (registry decode_options)
 *                    >  the model's generation_config.json (config.json when that file is absent, as in transformers)
 *                    >  Glossa's built-in defaults (greedy; max_new_tokens = 16 + 2 x source tokens)
 *
 * so a model with no options answers as `model.generate(input_ids, forced_bos_token_id=code)` does. The request
 * layer is applied per segment by the server (translate-request.ts decodeOptionsFor); this module resolves the
 * layers below it once per engine. GLOSSA_MAX_NEW_TOKENS (and the model's positions) cap every layer.
 */
import type { GenerationDefaults } from "./loader.js";
import { DEFAULT_DECODE_OPTIONS, type DecodeOptions } from "./types.js";

export type DecodeSource = "operator" | "engine" | "model" | "built-in";

export interface ResolvedDecodeDefaults {
  /** The defaults a request starts from (maxNewTokens: see `maxNewTokens`). */
  options: DecodeOptions;
  /** A fixed default for max_new_tokens from a layer; undefined = the built-in rule (16 + 2 x source tokens). */
  maxNewTokens: number | undefined;
  /** Which layer each setting came from (for the log and /ready). */
  source: Record<keyof DecodeOptions, DecodeSource>;
  /** generation_config.json settings Glossa does not apply (e.g. do_sample), named for the log. */
  ignored: string[];
}

/** generation_config.json's settings in Glossa's terms (HF max_length counts the decoder start token). */
export function modelDecodeDefaults(g: GenerationDefaults): Partial<DecodeOptions> {
  const out: Partial<DecodeOptions> = {};
  if (g.numBeams !== undefined && Number.isInteger(g.numBeams) && g.numBeams >= 1) out.beamSize = g.numBeams;
  const maxNew = g.maxNewTokens ?? (g.maxLength !== undefined ? g.maxLength - 1 : undefined);
  if (maxNew !== undefined && Number.isInteger(maxNew) && maxNew >= 1) out.maxNewTokens = maxNew;
  if (g.lengthPenalty !== undefined) out.lengthPenalty = g.lengthPenalty;
  if (g.earlyStopping !== undefined) out.earlyStopping = g.earlyStopping;
  if (g.noRepeatNgramSize !== undefined && Number.isInteger(g.noRepeatNgramSize) && g.noRepeatNgramSize >= 0)
    out.noRepeatNgramSize = g.noRepeatNgramSize;
  if (g.repetitionPenalty !== undefined && g.repetitionPenalty > 0) out.repetitionPenalty = g.repetitionPenalty;
  return out;
}

const KEYS = Object.keys(DEFAULT_DECODE_OPTIONS) as Array<keyof DecodeOptions>;

export function resolveDecodeDefaults(layers: {
  operator?: Partial<DecodeOptions>;
  engine?: Partial<DecodeOptions>;
  model?: GenerationDefaults;
}): ResolvedDecodeDefaults {
  const ordered: Array<[DecodeSource, Partial<DecodeOptions>]> = [
    ["operator", layers.operator ?? {}],
    ["engine", layers.engine ?? {}],
    ["model", layers.model ? modelDecodeDefaults(layers.model) : {}],
  ];
  const options = { ...DEFAULT_DECODE_OPTIONS } as DecodeOptions;
  const source = {} as Record<keyof DecodeOptions, DecodeSource>;
  for (const key of KEYS) {
    source[key] = "built-in";
    for (const [name, layer] of ordered) {
      const v = layer[key];
      if (v !== undefined) {
        (options as unknown as Record<string, unknown>)[key] = v;
        source[key] = name;
        break;
      }
    }
  }
  return {
    options,
    maxNewTokens: source.maxNewTokens === "built-in" ? undefined : options.maxNewTokens,
    source,
    ignored: layers.model?.unsupported ?? [],
  };
}

/** One log line: "beam_size 4 (model), max_new_tokens 199 (model), ...". */
export function describeDecodeDefaults(r: ResolvedDecodeDefaults): string {
  const name: Record<keyof DecodeOptions, string> = {
    beamSize: "beam_size",
    maxNewTokens: "max_new_tokens",
    lengthPenalty: "length_penalty",
    earlyStopping: "early_stopping",
    noRepeatNgramSize: "no_repeat_ngram_size",
    repetitionPenalty: "repetition_penalty",
  };
  const parts = KEYS.map((k) =>
    k === "maxNewTokens" && r.maxNewTokens === undefined
      ? "max_new_tokens 16 + 2 x source tokens (built-in)"
      : `${name[k]} ${String(r.options[k])} (${r.source[k]})`,
  );
  const ignored = r.ignored.length ? `; not applied from generation_config.json: ${r.ignored.join(", ")}` : "";
  return parts.join(", ") + ignored;
}
