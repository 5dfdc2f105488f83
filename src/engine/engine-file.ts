/**
 * Engine files: one self-describing safetensors file per (model, language, recipe), written by the
 * calibration pipeline (src/calib) and loaded with Engine.load({ modelDir, enginePath }).
 *
 * Layout: a standard safetensors file (8-byte header length, JSON header, data). Tensors keep the
 * checkpoint's names. A quantized Linear part "<p>.weight" is stored as
 *   int8:  I8 [out, in]               + "<p>.weight_scale" F32 [out]            (per-row symmetric)
 *   int4:  U8 [out, ceil(in / 2)]     + "<p>.weight_scale" F16 [out, groups]
 *                                     + "<p>.weight_zero"  U8  [out, groups]     (asymmetric, low nibble first)
 * Precision "int4-g<G>" runs as W4A16 (float activations), "int4-g<G>-a8" (same bytes) as W4A8: activations
 * quantized per token to int8 at run time, VNNI / maddubs integer dot products.
 * model.shared.weight (tied embeddings + lm_head) stays F16; LayerNorms (AWQ-folded), biases and
 * positions are F32. __metadata__ (strings): format, model_name, model_config_sha256, model_weights_sha256,
 * model_dir, language, recipe, calibration_set, calibration_sha256, tensor_precision (JSON name ->
 * precision), data_sha256 (sha256 of every byte after the header), report (JSON), created_at.
 * readEngineCheckpoint() verifies data_sha256 and the model's config hash and refuses a file that does
 * not match, naming the file.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";

import { CheckpointError, expectedTensors, optionalTensors, parseConfig, type Checkpoint, type TensorLocation } from "./loader.js";

export const ENGINE_FORMAT = "glossa-engine/1";

export interface EngineTensor {
  name: string;
  /** safetensors dtype as stored: F32, F16, I8, U8. */
  dtype: "F32" | "F16" | "I8" | "U8";
  shape: number[];
  data: Uint8Array;
  /** f32, f16, int8-w8a8, int8-w8a16, int4-g128, int4-g128-a8, u8 (zero points) */
  precision: string;
}

export interface EngineMetadata {
  model_name: string;
  model_config_sha256: string;
  model_weights_sha256: string;
  model_dir: string;
  language: string;
  recipe: string;
  calibration_set: string;
  calibration_sha256: string;
  report: string;
  [key: string]: string;
}

const SIZE: Record<string, number> = { F32: 4, F16: 2, I8: 1, U8: 1 };

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Index of the first NaN/inf in F32 or F16 data (little-endian), or -1. */
function firstNonFinite(dtype: string, data: Uint8Array): number {
  if (dtype === "F32") {
    for (let i = 0; i + 3 < data.length; i += 4) if (((data[i + 3]! & 0x7f) === 0x7f) && (data[i + 2]! & 0x80) === 0x80) return i / 4;
  } else if (dtype === "F16") {
    for (let i = 0; i + 1 < data.length; i += 2) if ((data[i + 1]! & 0x7c) === 0x7c) return i / 2;
  }
  return -1;
}

/**
 * Writes the engine file (fsynced before it is closed); returns its size and the sha256 of the whole file.
 * Refuses NaN/inf in float tensors (a diverged calibration), naming the tensor, before anything is written.
 */
export function writeEngineFile(path: string, tensors: EngineTensor[], meta: EngineMetadata): { bytes: number; fileSha256: string; dataSha256: string } {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  const precision: Record<string, string> = {};
  let offset = 0;
  const dataHash = createHash("sha256");
  for (const t of sorted) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const expect = t.dtype === "U8" && t.precision.startsWith("int4") ? t.data.length : n * SIZE[t.dtype]!;
    if (t.data.length !== expect || n * SIZE[t.dtype]! !== t.data.length)
      throw new CheckpointError(`${path}: tensor ${t.name}: ${t.data.length} bytes for shape [${t.shape.join(", ")}] ${t.dtype}`);
    const bad = firstNonFinite(t.dtype, t.data);
    if (bad >= 0) throw new CheckpointError(`${path}: tensor ${t.name}: element ${bad} is not finite; non-finite weights are refused, nothing written`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    precision[t.name] = t.precision;
    offset += t.data.length;
    dataHash.update(t.data);
  }
  const dataSha256 = dataHash.digest("hex");
  header.__metadata__ = {
    ...meta,
    format: ENGINE_FORMAT,
    tensor_precision: JSON.stringify(precision),
    data_sha256: dataSha256,
    created_at: new Date().toISOString(),
  };
  let json = Buffer.from(JSON.stringify(header), "utf8");
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(path, "w");
  const fileHash = createHash("sha256");
  try {
    for (const chunk of [len, json, ...sorted.map((t) => t.data)]) {
      writeSync(fd, chunk);
      fileHash.update(chunk);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { bytes: 8 + json.length + offset, fileSha256: fileHash.digest("hex"), dataSha256 };
}

interface RawEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface EngineFileInfo {
  path: string;
  metadata: Record<string, string>;
  precision: Record<string, string>;
  entries: Map<string, RawEntry>;
  dataStart: number;
  size: number;
}

/** Reads the header and metadata (no checksum). */
export function readEngineHeader(path: string): EngineFileInfo {
  const file = resolve(path);
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new CheckpointError(`${file}: cannot open engine file: ${(e as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw new CheckpointError(`${file}: not an engine file (truncated)`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > 100 * 1024 * 1024 || 8 + headerLen > size) throw new CheckpointError(`${file}: corrupt engine file header`);
    const hb = Buffer.alloc(headerLen);
    readSync(fd, hb, 0, headerLen, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hb.toString("utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new CheckpointError(`${file}: corrupt engine file header: ${(e as Error).message}`);
    }
    const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
    if (metadata.format !== ENGINE_FORMAT) throw new CheckpointError(`${file}: not a Glossa engine file (format ${JSON.stringify(metadata.format)})`);
    let precision: Record<string, string>;
    try {
      precision = JSON.parse(metadata.tensor_precision ?? "{}") as Record<string, string>;
    } catch {
      throw new CheckpointError(`${file}: corrupt tensor_precision metadata`);
    }
    const entries = new Map<string, RawEntry>();
    for (const [name, raw] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      const e = raw as RawEntry;
      if (!e || typeof e.dtype !== "string" || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || !(e.dtype in SIZE))
        throw new CheckpointError(`${file}: tensor ${name}: corrupt header entry`);
      const [b, en] = e.data_offsets;
      const n = e.shape.reduce((a, x) => a * x, 1);
      if (!Number.isSafeInteger(b) || !Number.isSafeInteger(en) || b < 0 || en - b !== n * SIZE[e.dtype]! || 8 + headerLen + en > size)
        throw new CheckpointError(`${file}: tensor ${name}: data range does not match its shape or the file`);
      entries.set(name, e);
    }
    return { path: file, metadata, precision, entries, dataStart: 8 + headerLen, size };
  } finally {
    closeSync(fd);
  }
}

/** Checks data_sha256 over every byte after the header; throws naming the file when it differs. */
export function verifyEngineFile(info: EngineFileInfo): void {
  const buf = readFileSync(info.path);
  const got = sha256Hex(buf.subarray(info.dataStart));
  if (got !== info.metadata.data_sha256)
    throw new CheckpointError(
      `${info.path}: engine file checksum mismatch (data sha256 ${got.slice(0, 16)}..., metadata says ${String(info.metadata.data_sha256).slice(0, 16)}...): the file is corrupt or was modified; rebuild it with glossa calibrate`,
    );
}

/** The native dtype a stored tensor is loaded as (see native/src/model/tensor_ref.h). */
function nativeDType(name: string, stored: string, precision: string | undefined, file: string): string {
  if (precision === undefined) return stored;
  if (precision === "int8-w8a8" && stored === "I8") return "Q8A8";
  if (precision === "int8-w8a16" && stored === "I8") return "Q8";
  const m = /^int4-g(\d+)(-a8)?$/.exec(precision);
  if (m && stored === "U8") return m[2] ? `Q4A8G${m[1]}` : `Q4G${m[1]}`;
  if (precision === "f16" && stored === "F16" && name === "model.shared.weight") return "F16H";
  if ((precision === "f32" || precision === "f16" || precision === "u8") && (stored === "F32" || stored === "F16" || stored === "U8")) return stored;
  throw new CheckpointError(`${file}: tensor ${name}: precision ${precision} does not fit dtype ${stored}`);
}

/** config.json's sha256 of a model folder. */
export function modelConfigSha256(modelDir: string): string {
  return sha256Hex(readFileSync(join(resolve(modelDir), "config.json")));
}

/**
 * The model's config plus the engine file's tensors, checked: checksum, model config hash, every tensor
 * the model needs present with the config's shape (logical shape for 4-bit weights).
 */
export function readEngineCheckpoint(modelDir: string, enginePath: string): Checkpoint & { engine: EngineFileInfo } {
  const dir = resolve(modelDir);
  const { config, generation } = parseConfig(dir);
  const info = readEngineHeader(enginePath);
  verifyEngineFile(info);
  const file = info.path;
  const cfgSha = modelConfigSha256(dir);
  if (info.metadata.model_config_sha256 !== cfgSha)
    throw new CheckpointError(`${file}: engine was built for another model (config sha256 ${String(info.metadata.model_config_sha256).slice(0, 12)}..., ${dir}/config.json is ${cfgSha.slice(0, 12)}...)`);
  const tensors: TensorLocation[] = [];
  const expected = expectedTensors(config);
  const optional = optionalTensors(config);
  for (const [name, e] of info.entries) {
    const prec = info.precision[name];
    const dtype = nativeDType(name, e.dtype, prec, file);
    let shape = e.shape;
    if (dtype.startsWith("Q4")) {  // Q4G<G>, Q4A8G<G>
      const want = expected.get(name);
      if (!want || want[0] !== e.shape[0] || Math.ceil(want[1]! / 2) !== e.shape[1])
        throw new CheckpointError(`${file}: tensor ${name}: 4-bit shape [${e.shape.join(", ")}] does not match the model`);
      shape = want;
    }
    tensors.push({
      name,
      file,
      offset: info.dataStart + e.data_offsets[0],
      bytes: e.data_offsets[1] - e.data_offsets[0],
      dtype: dtype as TensorLocation["dtype"],
      shape,
    });
  }
  const have = new Map(tensors.map((t) => [t.name, t]));
  for (const [name, shape] of expected) {
    const t = have.get(name);
    if (!t) throw new CheckpointError(`${file}: tensor ${name} is missing`);
    if (t.shape.length !== shape.length || t.shape.some((x, i) => x !== shape[i]))
      throw new CheckpointError(`${file}: tensor ${name} has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`);
  }
  for (const t of tensors)
    if (!expected.has(t.name) && !optional.has(t.name) && !/\.weight_(scale|zero)$/.test(t.name))
      throw new CheckpointError(`${file}: unexpected tensor ${t.name}`);
  const dtypes = [...new Set(tensors.map((t) => t.dtype))].sort();
  return { dir, config, generation, tensors, dtypes, engine: info };
}

/** The model folder an engine file was built from (metadata model_dir), checked to exist. */
export function engineModelDir(enginePath: string): string {
  const info = readEngineHeader(enginePath);
  const dir = info.metadata.model_dir;
  if (!dir || !existsSync(join(dir, "config.json")))
    throw new CheckpointError(`${info.path}: the model folder it was built from (${dir}) is not there`);
  return dir;
}
