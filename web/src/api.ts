/**
 * The page's client for Glossa's HTTP API: JSON calls, the streamed translation (server-sent events over a POST,
 * which EventSource cannot send), file translation, and one human message per error status.
 */

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    /** The server's {error} text, or a description of the network failure (status 0). */
    readonly detail: string,
    readonly retryAfter?: number,
  ) {
    super(detail);
  }
}

/** What a person should read for an error: the cause in plain words, then the server's own message. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const d = err.detail;
    switch (err.status) {
      case 0:
        return `Cannot reach the server (${d}). Check that Glossa is running.`;
      case 400:
        return `The request was refused: ${d}`;
      case 401:
        return `An API key is required: ${d}`;
      case 403:
        return `The API key was refused: ${d}`;
      case 404:
        return `Not available on this server: ${d}`;
      case 405:
        return `Not allowed: ${d}`;
      case 413:
        return `Too large: ${d}`;
      case 415:
        return `Unsupported file or content type: ${d}`;
      case 429:
        return `The server is busy${err.retryAfter ? `; try again in ${err.retryAfter} s` : "; try again shortly"}. (${d})`;
      case 500:
        return `The server failed: ${d}`;
      case 503:
        return `The server is not ready (loading or shutting down); try again shortly. (${d})`;
      case 504:
        return `The translation took too long and was stopped: ${d}`;
      default:
        return `Error ${err.status}: ${d}`;
    }
  }
  if (err instanceof DOMException && err.name === "AbortError") return "Cancelled.";
  return `Unexpected error: ${err instanceof Error ? err.message : String(err)}`;
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  let detail = text.slice(0, 500) || res.statusText;
  try {
    const j = JSON.parse(text) as unknown;
    if (typeof j === "object" && j !== null && typeof (j as { error?: unknown }).error === "string") detail = (j as { error: string }).error;
  } catch {
    // not JSON: keep the text
  }
  const ra = Number(res.headers.get("retry-after"));
  return new ApiError(res.status, detail, Number.isFinite(ra) && ra > 0 ? ra : undefined);
}

let apiKey = "";

/** The API key the page sends (Authorization: Bearer) when the server requires keys; "" for none. */
export function setApiKey(key: string): void {
  apiKey = key.trim();
}

async function call(url: string, init?: RequestInit): Promise<Response> {
  let res: Response;
  const headers = new Headers(init?.headers);
  if (apiKey) headers.set("authorization", `Bearer ${apiKey}`);
  try {
    res = await fetch(url, { ...init, headers });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, e instanceof Error ? e.message : String(e));
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const res = await call(url, { headers: { accept: "application/json" }, ...(signal ? { signal } : {}) });
  return (await res.json()) as T;
}

export async function postJson<T>(url: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const res = await call(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  return (await res.json()) as T;
}

export interface ServerEvent {
  event: string;
  data: string;
}

/** Splits a server-sent-event byte stream into events (blank-line separated; `event:` and `data:` fields). */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buf += done ? decoder.decode() : decoder.decode(value, { stream: true });
      buf = buf.replace(/\r\n?/g, "\n");
      let cut: number;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = value;
          else if (field === "data") data.push(value);
        }
        if (data.length) yield { event, data: data.join("\n") };
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * POSTs a body that asks for streaming and follows the events: `partial` calls onPartial, `done` resolves with
 * its payload, `error` throws ApiError with the status it carries. A plain JSON answer (the server may answer
 * without streaming) resolves as it is.
 */
export async function postStream<T>(url: string, body: unknown, onPartial: (data: unknown) => void, signal?: AbortSignal): Promise<T> {
  const res = await call(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream, application/json" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  if (!(res.headers.get("content-type") ?? "").startsWith("text/event-stream") || !res.body) return (await res.json()) as T;
  for await (const ev of readEvents(res.body)) {
    const payload = JSON.parse(ev.data) as unknown;
    if (ev.event === "partial") onPartial(payload);
    else if (ev.event === "done") return payload as T;
    else if (ev.event === "error") {
      const e = payload as { error?: string; status?: number };
      throw new ApiError(e.status ?? 500, e.error ?? "translation failed");
    }
  }
  throw new ApiError(0, "the stream ended before the translation was complete");
}

/** POSTs a multipart form; answers the raw response (the caller reads JSON or a file from it). */
export async function postForm(url: string, form: FormData, signal?: AbortSignal): Promise<Response> {
  return call(url, { method: "POST", body: form, ...(signal ? { signal } : {}) });
}
