/**
 * Per-request observability: the request id (a client's or load balancer's x-request-id when it is sane, else a
 * fresh UUID; echoed in the answer), and one access-log record per request (method, route, status, duration,
 * characters translated, engine, request id), written as a text line or as a JSON line (GLOSSA_LOG_FORMAT=json).
 * Route handlers add what they know with noteRequest(c, {chars, engine}).
 */
import { randomUUID } from "node:crypto";
import type { Context } from "hono";

/** Hono variables every route may set (typed access through noteRequest / requestIdOf). */
export interface AppVariables {
  requestId: string;
  /** Characters of the texts the request asked to translate (or detect). */
  chars?: number;
  /** Engine(s) that served the request. */
  engine?: string;
}

export type AppEnv = { Variables: AppVariables };

export interface AccessRecord {
  time: string;
  request_id: string;
  method: string;
  /** The matched route pattern (bounded), "other" when nothing matched. */
  route: string;
  status: number;
  duration_ms: number;
  chars: number | null;
  engine: string | null;
  remote: string | null;
}

export type LogFormat = "text" | "json";

/** Ids up to 128 characters of a conservative alphabet are kept (UUIDs, trace ids, AWS/GCP LB ids). */
const SANE_ID = /^[A-Za-z0-9._:;=+/-]{1,128}$/;

export function requestIdFrom(header: string | undefined | null): string {
  const h = header?.trim();
  return h !== undefined && SANE_ID.test(h) ? h : randomUUID();
}

/** Records what a route knows about its request, for the access log. */
export function noteRequest(c: Context, info: { chars?: number; engine?: string }): void {
  if (info.chars !== undefined) c.set("chars" as never, info.chars as never);
  if (info.engine !== undefined) c.set("engine" as never, info.engine as never);
}

export function requestIdOf(c: Context): string | undefined {
  return c.get("requestId" as never) as string | undefined;
}

export function formatAccess(format: LogFormat, r: AccessRecord): string {
  if (format === "json") return JSON.stringify({ level: "info", msg: "request", ...r });
  const extra = [r.chars !== null ? `chars=${r.chars}` : "", r.engine !== null ? `engine=${r.engine}` : ""].filter((x) => x !== "").join(" ");
  return `${r.time} ${r.method} ${r.route} ${r.status} ${r.duration_ms.toFixed(1)}ms${extra ? ` ${extra}` : ""} id=${r.request_id}`;
}

/** A log line for messages and errors in the chosen format. */
export function formatMessage(format: LogFormat, level: "info" | "error", msg: string, err?: unknown): string {
  const time = new Date().toISOString();
  const detail = err === undefined ? undefined : err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (format === "json") return JSON.stringify({ time, level, msg, ...(detail !== undefined ? { error: detail } : {}) });
  return `${time} ${msg}${detail !== undefined ? ` ${detail}` : ""}`;
}
