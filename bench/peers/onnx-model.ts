/**
 * The ONNX copy of the checkpoint that transformers.js runs in `npm run bench:peers`: a folder laid out as
 * transformers.js loads it (config/tokenizer files + onnx/{encoder_model,decoder_model_merged}[_quantized].onnx
 * with <name>.onnx_data external weights), made from the bundle that tools/onnx-export/export.py writes on the
 * GPU machine (var/onnx-bundle/bundle.tar.xz.NN, see tools/onnx-export/README.md). The bundle carries the graphs,
 * the int8 weights and, instead of the fp32 weights, a manifest naming the checkpoint tensor behind every byte
 * range; the fp32 files are rebuilt here from the local checkpoint (fp16 -> fp32, transposed where the exporter
 * transposed) and checked against the sha256 the GPU machine recorded.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { readCheckpoint, type TensorLocation } from "../../src/engine/loader.js";

interface ManifestTensor {
  name: string;
  offset: number;
  length: number;
  source?: { tensor: string; transpose: boolean };
  payload?: { offset: number; length: number };
}
interface DataManifest {
  file: string;
  size: number;
  sha256: string;
  payload_sha256: string;
  tensors: ManifestTensor[];
}
interface BundleManifest {
  format: string;
  fp32_external_data: Record<string, DataManifest>;
  validation: { cases: number; fp32_equal: number; int8_equal: number };
  versions: Record<string, string>;
}

export type OnnxModel = { dir: string; manifest: BundleManifest; notes: string[] } | { skip: string };

const FILES = ["encoder_model.onnx", "decoder_model_merged.onnx", "encoder_model_quantized.onnx", "decoder_model_merged_quantized.onnx"];

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function readTensor(t: TensorLocation): Float32Array {
  const fd = openSync(t.file, "r");
  try {
    const buf = Buffer.alloc(t.bytes);
    readSync(fd, buf, 0, t.bytes, t.offset);
    const n = t.shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    if (t.dtype === "F32") for (let i = 0; i < n; i++) out[i] = buf.readFloatLE(4 * i);
    else if (t.dtype === "F16") for (let i = 0; i < n; i++) out[i] = halfToFloat(buf.readUInt16LE(2 * i));
    else if (t.dtype === "BF16") for (let i = 0; i < n; i++) out[i] = new Float32Array(new Uint32Array([buf.readUInt16LE(2 * i) << 16]).buffer)[0]!;
    else throw new Error(`${t.file}: tensor ${t.name}: dtype ${t.dtype} is not a float checkpoint tensor`);
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Rebuilds one fp32 external-data file from the checkpoint; throws when its sha256 differs from the manifest's. */
function rebuildData(modelDir: string, payloadFile: string, m: DataManifest, out: string): void {
  const ckpt = new Map(readCheckpoint(modelDir).tensors.map((t) => [t.name, t]));
  const data = Buffer.alloc(m.size);
  const payload = readFileSync(payloadFile);
  if (createHash("sha256").update(payload).digest("hex") !== m.payload_sha256) throw new Error(`${payloadFile}: payload sha256 differs from the manifest`);
  for (const e of m.tensors) {
    if (e.source) {
      const t = ckpt.get(e.source.tensor);
      if (!t) throw new Error(`${modelDir}: tensor ${e.source.tensor} (for ${e.name} in ${m.file}) is missing`);
      const v = readTensor(t);
      if (v.length * 4 !== e.length) throw new Error(`${m.file}: ${e.name} is ${e.length} bytes, ${e.source.tensor} has ${v.length} values`);
      const view = new Float32Array(data.buffer, data.byteOffset + e.offset, v.length);
      if (e.source.transpose) {
        const [rows, cols] = t.shape as [number, number];
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) view[c * rows + r] = v[r * cols + c]!;
      } else view.set(v);
    } else if (e.payload) {
      payload.copy(data, e.offset, e.payload.offset, e.payload.offset + e.payload.length);
    }
  }
  const got = createHash("sha256").update(data).digest("hex");
  if (got !== m.sha256) throw new Error(`${out}: rebuilt fp32 weights do not match the exported ones (sha256 ${got.slice(0, 12)} vs ${m.sha256.slice(0, 12)}): another checkpoint?`);
  writeFileSync(out, data);
}

/**
 * Finds or makes the ONNX folder for `modelDir` under `root` (default var/onnx/<model>), from the bundle parts in
 * `bundleDir` (default var/onnx-bundle). Returns {skip: reason} when neither is there.
 */
export function ensureOnnxModel(modelDir: string, opts: { root?: string; bundleDir?: string } = {}): OnnxModel {
  const name = resolve(modelDir).split("/").pop()!;
  const dir = resolve(opts.root ?? join("var", "onnx", name));
  const bundleDir = resolve(opts.bundleDir ?? join("var", "onnx-bundle"));
  const notes: string[] = [];
  const complete = () => FILES.every((f) => existsSync(join(dir, "onnx", f)) && existsSync(join(dir, "onnx", `${f}_data`))) && existsSync(join(dir, "bundle-manifest.json"));
  if (!complete()) {
    const parts = existsSync(bundleDir) ? readdirSync(bundleDir).filter((f) => /^bundle\.tar\.xz\.\d+$/.test(f)).sort() : [];
    if (parts.length === 0)
      return { skip: `no ONNX export: ${dir} is incomplete and ${bundleDir} has no bundle.tar.xz.NN parts (make them with tools/onnx-export on the GPU machine, see tools/onnx-export/README.md)` };
    const tmp = `${dir}.unpack`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      execFileSync("bash", ["-c", `cat ${parts.map((p) => JSON.stringify(join(bundleDir, p))).join(" ")} | xz -dc | tar x -C ${JSON.stringify(tmp)}`], { stdio: "inherit" });
    } catch (e) {
      return { skip: `cannot unpack ${bundleDir} (needs xz and tar): ${(e as Error).message}` };
    }
    const manifest = JSON.parse(readFileSync(join(tmp, "bundle", "manifest.json"), "utf8")) as BundleManifest;
    mkdirSync(join(dir, "onnx"), { recursive: true });
    for (const f of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"])
      if (existsSync(join(modelDir, f))) copyFileSync(join(modelDir, f), join(dir, f));
    for (const f of FILES) copyFileSync(join(tmp, "bundle", "onnx", f), join(dir, "onnx", f));
    for (const f of ["encoder_model_quantized.onnx_data", "decoder_model_merged_quantized.onnx_data"]) copyFileSync(join(tmp, "bundle", "onnx", f), join(dir, "onnx", f));
    for (const [file, m] of Object.entries(manifest.fp32_external_data)) rebuildData(modelDir, join(tmp, "bundle", "onnx", `${file}.payload`), m, join(dir, "onnx", file));
    // Bundles exported before export.py's quantize_if_branches have a float decoder under the int8 name.
    if (!readFileSync(join(dir, "onnx", "decoder_model_merged_quantized.onnx")).includes("MatMulInteger")) {
      try {
        execFileSync(process.env.GLOSSA_PYTHON ?? "python3", [join("tools", "onnx-export", "export.py"), "--requantize-decoder", join(dir, "onnx")], { stdio: "inherit" });
        notes.push("int8 decoder rebuilt here by tools/onnx-export/export.py --requantize-decoder (the bundle's was left in float by quantize_dynamic)");
      } catch (e) {
        rmSync(join(dir, "onnx", "decoder_model_merged_quantized.onnx"), { force: true });
        return { skip: `the bundle's int8 decoder has no int8 MatMuls and python3 with onnx could not rebuild it: ${(e as Error).message}` };
      }
    }
    writeFileSync(join(dir, "bundle-manifest.json"), JSON.stringify({ ...manifest, notes }, null, 1));
    rmSync(tmp, { recursive: true, force: true });
  }
  const manifest = JSON.parse(readFileSync(join(dir, "bundle-manifest.json"), "utf8")) as BundleManifest & { notes?: string[] };
  return { dir, manifest, notes: manifest.notes ?? notes };
}
