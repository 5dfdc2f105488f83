/** sha256 helpers for files, texts and model folders. */
import { createHash } from "node:crypto";
import { createReadStream, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export function sha256Bytes(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Streams a file through sha256 (model weights are too large to read at once). */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export interface WeightFile {
  /** File name inside the model folder. */
  name: string;
  size: number;
  mtimeMs: number;
}

/** The weight files of a Hugging Face checkpoint folder, sorted by name: *.safetensors, else *.bin. */
export function weightFiles(dir: string): WeightFile[] {
  const names = readdirSync(dir).sort();
  let picked = names.filter((n) => n.endsWith(".safetensors"));
  if (picked.length === 0) picked = names.filter((n) => n.endsWith(".bin"));
  return picked.map((name) => {
    const st = statSync(join(dir, name));
    return { name, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) };
  });
}

/** Fingerprint (names, sizes, mtimes) as stored in models.weights_fingerprint. */
export function fingerprintJson(files: WeightFile[]): string {
  return JSON.stringify(files.map((f) => [f.name, f.size, f.mtimeMs]));
}

/** sha256 over "name\tsha256(file)\n" for each weight file in name order. */
export async function weightsSha256(dir: string, files: WeightFile[]): Promise<string> {
  const h = createHash("sha256");
  for (const f of files) h.update(`${f.name}\t${await sha256File(join(dir, f.name))}\n`);
  return h.digest("hex");
}
