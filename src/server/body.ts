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

export type BodyFormat = "json" | "form";

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
  throw new HttpError(
    415,
    `unsupported content type "${mime.slice(0, 100)}": send application/json or application/x-www-form-urlencoded`,
  );
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
