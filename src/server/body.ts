/**
 * Reading request bodies without trusting the client: the size limit is enforced on the declared
 * Content-Length and again while streaming (reading stops at the first chunk past the limit), bytes must be
 * valid UTF-8, and JSON is parsed into `unknown` for validation.
 */
import { HttpError } from "./http-error.js";

export async function readBodyBytes(req: Request, limit: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null) {
    const n = Number(declared);
    if (Number.isFinite(n) && n > limit) throw tooLarge(limit);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(limit);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, "could not read the request body");
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `request body exceeds ${limit} bytes`);
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new HttpError(400, "request body is not valid UTF-8");
  }
}

export type BodyFormat = "json" | "form" | "multipart";

/**
 * The body's format from its Content-Type: JSON for application/json, *+json, text/plain (fetch's default for
 * string bodies) or no type; URL-encoded form for application/x-www-form-urlencoded, except that a form-typed
 * body starting with "{" is read as JSON (`curl -d '{...}'` sends that); anything else is 415.
 */
export function bodyFormat(contentType: string | null, text: string): BodyFormat {
  if (contentType === null || contentType.trim() === "") return "json";
  const mime = contentType.split(";")[0]!.trim().toLowerCase();
  if (mime === "application/json" || mime.endsWith("+json") || mime === "text/plain") return "json";
  if (mime === "application/x-www-form-urlencoded") return text.trimStart().startsWith("{") ? "json" : "form";
  // LibreTranslate's web page and its file upload send multipart/form-data.
  if (mime === "multipart/form-data") return "multipart";
  throw new HttpError(
    415,
    `unsupported content type "${mime.slice(0, 100)}": send application/json, application/x-www-form-urlencoded or multipart/form-data`,
  );
}

/** A multipart/form-data body: text fields (a repeated name becomes an array) and uploaded files. */
export interface MultipartBody {
  fields: Record<string, string | string[]>;
  files: Record<string, File>;
}

/**
 * Parses a multipart/form-data body already read within the size limit (the runtime's own parser, undici's
 * Request.formData). Field values must be valid UTF-8 like every other body; files are returned as they are.
 */
export async function parseMultipartBody(bytes: Uint8Array, contentType: string): Promise<MultipartBody> {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { "content-type": contentType } }).formData();
  } catch {
    throw new HttpError(400, "malformed multipart/form-data body");
  }
  const fields: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  const files: Record<string, File> = Object.create(null) as Record<string, File>;
  for (const [name, value] of form) {
    if (typeof value !== "string") {
      files[name] = value;
      continue;
    }
    if (value.includes("\ufffd") && !isValidUtf8Field(bytes, value)) throw new HttpError(400, "request body is not valid UTF-8");
    const prev = fields[name];
    if (prev === undefined) fields[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else fields[name] = [prev, value];
  }
  return { fields, files };
}

/** A field holding U+FFFD is valid only if the body itself spelled U+FFFD (else it was a decoding repair). */
function isValidUtf8Field(bytes: Uint8Array, value: string): boolean {
  const replacement = (value.match(/\ufffd/g) ?? []).length;
  let spelled = 0;
  for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0xef && bytes[i + 1] === 0xbf && bytes[i + 2] === 0xbd) spelled++;
  return spelled >= replacement;
}

/** Most nesting accepted in a JSON body; deeper documents are refused before parsing. */
const MAX_JSON_DEPTH = 32;

export function parseJsonBody(text: string): unknown {
  if (text.trim() === "") throw new HttpError(400, "request body is empty: send a JSON object");
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) throw new HttpError(400, `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, `malformed JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Scans brackets outside strings; cheap and linear, so deep nesting never reaches JSON.parse's recursion. */
function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** A URL-encoded form as an object; a repeated key becomes an array (LibreTranslate clients send q this way). */
export function parseFormBody(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(text);
  } catch {
    throw new HttpError(400, "malformed form body");
  }
  for (const [k, v] of params) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}
