/**
 * Reads an mBART-family checkpoint directory: config.json, generation_config.json and safetensors
 * (single file or shards + model.safetensors.index.json). Every tensor's name, shape and dtype is checked
 * against the config and every byte range against its file; problems raise CheckpointError naming the
 * file and the tensor. The native engine then memory-maps the files and re-checks the ranges.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { join, resolve } from "node:path";

import { EngineError } from "./types.js";

export class CheckpointError extends EngineError {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

/** Values the native engine needs, from config.json and generation_config.json. */
export interface MBartConfig {
  modelType: string;
  dModel: number;
  encoderLayers: number;
  decoderLayers: number;
  encoderHeads: number;
  decoderHeads: number;
  encoderFfn: number;
  decoderFfn: number;
  vocabSize: number;
  maxPositions: number;
  activation: "gelu" | "gelu_new" | "relu";
  scaleEmbedding: boolean;
  tieWordEmbeddings: boolean;
  padId: number;
  eosId: number;
  decoderStartId: number;
  /** -1 when generation forces no EOS at max length. */
  forcedEosId: number;
  minLength: number;
}

/**
 * Decoding defaults found in generation_config.json, or in config.json when that file is absent (as transformers
 * does for older checkpoints); absent keys are undefined. src/engine/decode-defaults.ts turns them into defaults.
 */
export interface GenerationDefaults {
  numBeams?: number;
  maxLength?: number;
  maxNewTokens?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean;
  noRepeatNgramSize?: number;
  repetitionPenalty?: number;
  /** Settings present that Glossa's decoder does not apply (sampling, multiple return sequences...). */
  unsupported?: string[];
}

/** generation_config.json keys that change what generate() returns and that Glossa's search does not implement. */
const UNSUPPORTED_GENERATION: Record<string, (v: unknown) => boolean> = {
  do_sample: (v) => v === true,
  num_beam_groups: (v) => typeof v === "number" && v > 1,
  num_return_sequences: (v) => typeof v === "number" && v > 1,
  penalty_alpha: (v) => typeof v === "number" && v > 0,
  early_stopping: (v) => typeof v === "string",
  min_new_tokens: (v) => typeof v === "number" && v > 0,
};

export type SafetensorsDType = "F32" | "F16" | "BF16";

/** One tensor's bytes in a checkpoint file (offset is absolute in the file). */
export interface TensorLocation {
  name: string;
  file: string;
  offset: number;
  bytes: number;
  dtype: SafetensorsDType;
  shape: number[];
}

export interface Checkpoint {
  dir: string;
  config: MBartConfig;
  generation: GenerationDefaults;
  tensors: TensorLocation[];
  /** Dtypes found, e.g. ["F32"]. */
  dtypes: SafetensorsDType[];
}

const DTYPE_SIZE: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2 };
const SUPPORTED_MODEL_TYPES = new Set(["mbart"]);
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read: ${(e as Error).message}`);
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not a JSON object");
    return v as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(`${path}: invalid JSON: ${(e as Error).message}`);
  }
}

function intField(obj: Record<string, unknown>, key: string, file: string, fallback?: number): number {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new CheckpointError(`${file}: missing "${key}"`);
  }
  if (typeof v !== "number" || !Number.isInteger(v)) throw new CheckpointError(`${file}: "${key}" must be an integer`);
  return v;
}

function positive(n: number, key: string, file: string): number {
  if (n <= 0) throw new CheckpointError(`${file}: "${key}" must be positive`);
  return n;
}

function optionalNumber(obj: Record<string, unknown>, key: string): number | undefined {
  const v = obj[key];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

export function parseConfig(dir: string): { config: MBartConfig; generation: GenerationDefaults } {
  const cfgPath = join(dir, "config.json");
  const c = readJson(cfgPath);
  const genPath = join(dir, "generation_config.json");
  const g = existsSync(genPath) ? readJson(genPath) : {};
  const modelType = typeof c.model_type === "string" ? c.model_type : "";
  if (!SUPPORTED_MODEL_TYPES.has(modelType)) throw new CheckpointError(`${cfgPath}: model_type "${modelType}" is not an mBART model`);
  const act = typeof c.activation_function === "string" ? c.activation_function : "gelu";
  if (act !== "gelu" && act !== "gelu_new" && act !== "relu")
    throw new CheckpointError(`${cfgPath}: activation_function "${act}" is not supported (gelu, gelu_new, relu)`);
  const dModel = positive(intField(c, "d_model", cfgPath), "d_model", cfgPath);
  const encoderHeads = positive(intField(c, "encoder_attention_heads", cfgPath), "encoder_attention_heads", cfgPath);
  const decoderHeads = positive(intField(c, "decoder_attention_heads", cfgPath), "decoder_attention_heads", cfgPath);
  if (dModel % encoderHeads !== 0 || dModel % decoderHeads !== 0)
    throw new CheckpointError(`${cfgPath}: d_model ${dModel} is not a multiple of the attention heads`);
  // generation_config.json wins over config.json for generation settings, as in transformers.
  const pick = (key: string, fallback?: number): number =>
    intField(g[key] !== undefined && g[key] !== null ? g : c, key, g[key] !== undefined ? genPath : cfgPath, fallback);
  const eosRaw = g.eos_token_id ?? c.eos_token_id;
  const eosId = Array.isArray(eosRaw) ? Number(eosRaw[0]) : typeof eosRaw === "number" ? eosRaw : 2;
  const forcedRaw = g.forced_eos_token_id !== undefined ? g.forced_eos_token_id : c.forced_eos_token_id;
  const forcedEosId = Array.isArray(forcedRaw) ? Number(forcedRaw[0]) : typeof forcedRaw === "number" ? forcedRaw : -1;
  const config: MBartConfig = {
    modelType,
    dModel,
    encoderLayers: positive(intField(c, "encoder_layers", cfgPath), "encoder_layers", cfgPath),
    decoderLayers: positive(intField(c, "decoder_layers", cfgPath), "decoder_layers", cfgPath),
    encoderHeads,
    decoderHeads,
    encoderFfn: positive(intField(c, "encoder_ffn_dim", cfgPath), "encoder_ffn_dim", cfgPath),
    decoderFfn: positive(intField(c, "decoder_ffn_dim", cfgPath), "decoder_ffn_dim", cfgPath),
    vocabSize: positive(intField(c, "vocab_size", cfgPath), "vocab_size", cfgPath),
    maxPositions: positive(intField(c, "max_position_embeddings", cfgPath), "max_position_embeddings", cfgPath),
    activation: act,
    scaleEmbedding: c.scale_embedding === true,
    tieWordEmbeddings: c.tie_word_embeddings !== false,
    padId: pick("pad_token_id", 1),
    eosId,
    decoderStartId: pick("decoder_start_token_id", eosId),
    forcedEosId,
    minLength: typeof g.min_length === "number" ? g.min_length : 0,
  };
  // Without generation_config.json, transformers takes generation settings from config.json (legacy checkpoints).
  const gs = existsSync(genPath) ? g : c;
  const unsupported = Object.entries(UNSUPPORTED_GENERATION)
    .filter(([k, bad]) => gs[k] !== undefined && bad(gs[k]))
    .map(([k]) => `${k}=${JSON.stringify(gs[k])}`);
  const generation: GenerationDefaults = {
    numBeams: optionalNumber(gs, "num_beams"),
    maxLength: optionalNumber(gs, "max_length"),
    maxNewTokens: optionalNumber(gs, "max_new_tokens"),
    lengthPenalty: optionalNumber(gs, "length_penalty"),
    earlyStopping: typeof gs.early_stopping === "boolean" ? gs.early_stopping : undefined,
    noRepeatNgramSize: optionalNumber(gs, "no_repeat_ngram_size"),
    repetitionPenalty: optionalNumber(gs, "repetition_penalty"),
    ...(unsupported.length ? { unsupported } : {}),
  };
  return { config, generation };
}

/** The tensors an mBART checkpoint must hold, with their shapes from the config. */
export function expectedTensors(c: MBartConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const d = c.dModel;
  m.set("model.shared.weight", [c.vocabSize, d]);
  for (const side of ["encoder", "decoder"] as const) {
    m.set(`model.${side}.embed_positions.weight`, [c.maxPositions + 2, d]);
    for (const n of ["layernorm_embedding", "layer_norm"]) {
      m.set(`model.${side}.${n}.weight`, [d]);
      m.set(`model.${side}.${n}.bias`, [d]);
    }
    const layers = side === "encoder" ? c.encoderLayers : c.decoderLayers;
    const ffn = side === "encoder" ? c.encoderFfn : c.decoderFfn;
    for (let i = 0; i < layers; i++) {
      const p = `model.${side}.layers.${i}`;
      const attn = side === "encoder" ? ["self_attn"] : ["self_attn", "encoder_attn"];
      for (const a of attn) {
        for (const x of ["q", "k", "v", "out"]) {
          m.set(`${p}.${a}.${x}_proj.weight`, [d, d]);
          m.set(`${p}.${a}.${x}_proj.bias`, [d]);
        }
        m.set(`${p}.${a}_layer_norm.weight`, [d]);
        m.set(`${p}.${a}_layer_norm.bias`, [d]);
      }
      m.set(`${p}.fc1.weight`, [ffn, d]);
      m.set(`${p}.fc1.bias`, [ffn]);
      m.set(`${p}.fc2.weight`, [d, ffn]);
      m.set(`${p}.fc2.bias`, [d]);
      m.set(`${p}.final_layer_norm.weight`, [d]);
      m.set(`${p}.final_layer_norm.bias`, [d]);
    }
  }
  return m;
}

/** Tensors that may be absent (tied to model.shared.weight, or zeros). */
export function optionalTensors(c: MBartConfig): Map<string, number[]> {
  return new Map([
    ["lm_head.weight", [c.vocabSize, c.dModel]],
    ["model.encoder.embed_tokens.weight", [c.vocabSize, c.dModel]],
    ["model.decoder.embed_tokens.weight", [c.vocabSize, c.dModel]],
    ["final_logits_bias", [1, c.vocabSize]],
  ]);
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Parses one safetensors file's header and checks every entry's byte range against the file. */
export function readSafetensorsHeader(file: string): Map<string, TensorLocation | { name: string; file: string; dtype: string }> {
  const fd = (() => {
    try {
      return openSync(file, "r");
    } catch (e) {
      throw new CheckpointError(`${file}: cannot open: ${(e as Error).message}`);
    }
  })();
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw new CheckpointError(`${file}: truncated: ${size} bytes, no safetensors header`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > size)
      throw new CheckpointError(`${file}: corrupt or truncated: header length ${headerLen} does not fit in ${size} bytes`);
    const hb = Buffer.alloc(headerLen);
    readSync(fd, hb, 0, headerLen, 8);
    let header: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(hb.toString("utf8"));
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
      header = v as Record<string, unknown>;
    } catch (e) {
      throw new CheckpointError(`${file}: corrupt safetensors header: ${(e as Error).message}`);
    }
    const dataStart = 8 + headerLen;
    const out = new Map<string, TensorLocation | { name: string; file: string; dtype: string }>();
    for (const [name, raw] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      const e = raw as Partial<HeaderEntry>;
      if (typeof e !== "object" || e === null || typeof e.dtype !== "string" || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets))
        throw new CheckpointError(`${file}: tensor ${name}: corrupt header entry`);
      if (!(e.dtype in DTYPE_SIZE)) {
        out.set(name, { name, file, dtype: e.dtype });
        continue;
      }
      const dtype = e.dtype as SafetensorsDType;
      const [begin, end] = e.data_offsets;
      if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin)
        throw new CheckpointError(`${file}: tensor ${name}: corrupt data_offsets`);
      if (!e.shape.every((x) => Number.isSafeInteger(x) && x >= 0))
        throw new CheckpointError(`${file}: tensor ${name}: corrupt shape`);
      const elements = e.shape.reduce((a, b) => a * b, 1);
      if (end - begin !== elements * DTYPE_SIZE[dtype])
        throw new CheckpointError(
          `${file}: tensor ${name}: ${end - begin} bytes of data for shape [${e.shape.join(", ")}] ${dtype} (needs ${elements * DTYPE_SIZE[dtype]})`,
        );
      if (dataStart + end > size)
        throw new CheckpointError(
          `${file}: truncated: tensor ${name} ends at byte ${dataStart + end} but the file has ${size} bytes`,
        );
      out.set(name, { name, file, offset: dataStart + begin, bytes: end - begin, dtype, shape: e.shape });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Reads and checks a checkpoint directory (no weights are read yet). */
export function readCheckpoint(modelDir: string): Checkpoint {
  const dir = resolve(modelDir);
  const { config, generation } = parseConfig(dir);
  const indexPath = join(dir, "model.safetensors.index.json");
  const single = join(dir, "model.safetensors");
  const found = new Map<string, TensorLocation | { name: string; file: string; dtype: string }>();
  let source: string;
  if (existsSync(indexPath)) {
    source = indexPath;
    const idx = readJson(indexPath);
    const wm = idx.weight_map;
    if (typeof wm !== "object" || wm === null) throw new CheckpointError(`${indexPath}: missing "weight_map"`);
    const shards = new Map<string, string[]>();
    for (const [name, f] of Object.entries(wm as Record<string, unknown>)) {
      if (typeof f !== "string" || f.includes("/") || f.includes("\\"))
        throw new CheckpointError(`${indexPath}: tensor ${name}: invalid shard file name`);
      const list = shards.get(f) ?? [];
      list.push(name);
      shards.set(f, list);
    }
    for (const [f, names] of shards) {
      const header = readSafetensorsHeader(join(dir, f));
      for (const name of names) {
        const t = header.get(name);
        if (!t) throw new CheckpointError(`${join(dir, f)}: tensor ${name} is missing (listed in ${indexPath})`);
        found.set(name, t);
      }
    }
  } else if (existsSync(single)) {
    source = single;
    for (const [k, v] of readSafetensorsHeader(single)) found.set(k, v);
  } else {
    throw new CheckpointError(`${dir}: no model.safetensors or model.safetensors.index.json`);
  }
  const tensors: TensorLocation[] = [];
  const take = (name: string, shape: number[], required: boolean): void => {
    const t = found.get(name);
    if (!t) {
      if (required) throw new CheckpointError(`${source}: tensor ${name} is missing`);
      return;
    }
    if (!("shape" in t))
      throw new CheckpointError(`${t.file}: tensor ${name} has dtype ${t.dtype}; expected F32, F16 or BF16`);
    if (t.shape.length !== shape.length || t.shape.some((x, i) => x !== shape[i]))
      throw new CheckpointError(
        `${t.file}: tensor ${name} has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}] from config.json`,
      );
    tensors.push(t);
  };
  for (const [name, shape] of expectedTensors(config)) take(name, shape, true);
  for (const [name, shape] of optionalTensors(config)) take(name, shape, false);
  const dtypes = [...new Set(tensors.map((t) => t.dtype))].sort();
  return { dir, config, generation, tensors, dtypes };
}
