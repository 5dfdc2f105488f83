/**
 * CORS (GLOSSA_CORS_ORIGINS): "*" (the default, as LibreTranslate: any web page may call the API), a
 * comma-separated list of allowed origins (others get no CORS headers, so browsers block them), or "none"
 * (no CORS headers at all). Preflight requests (OPTIONS with Access-Control-Request-Method) are answered 204
 * here, before routing. Hono's maintained middleware does the protocol; this module only configures it.
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { SettingsError } from "./settings.js";

/** Allowed headers: what LibreTranslate allows, which covers DeepL's Authorization header too. */
const ALLOW_HEADERS = ["Authorization", "Content-Type"];
/** Readable by scripts on other origins: Retry-After tells a browser client when to come back after a 429. */
const EXPOSE_HEADERS = ["Authorization", "Retry-After"];
/** 20 days, as LibreTranslate. */
const MAX_AGE_SECONDS = 60 * 60 * 24 * 20;

export type CorsPolicy = { kind: "any" } | { kind: "none" } | { kind: "list"; origins: string[] };

/** Parses GLOSSA_CORS_ORIGINS; SettingsError for an origin that is not scheme://host[:port]. */
export function parseCorsOrigins(value: string): CorsPolicy {
  const v = value.trim();
  if (v === "*") return { kind: "any" };
  if (v.toLowerCase() === "none" || v === "") return { kind: "none" };
  const origins = v.split(",").map((o) => o.trim()).filter((o) => o !== "");
  for (const o of origins) {
    let url: URL;
    try {
      url = new URL(o);
    } catch {
      throw new SettingsError(`GLOSSA_CORS_ORIGINS: "${o}" is not an origin (expected e.g. https://example.com)`);
    }
    if (url.origin !== o.replace(/\/$/, "")) {
      throw new SettingsError(`GLOSSA_CORS_ORIGINS: "${o}" is not an origin: no path, query or trailing parts (expected ${url.origin})`);
    }
  }
  return { kind: "list", origins: origins.map((o) => o.replace(/\/$/, "")) };
}

/** The CORS middleware for the policy; undefined for "none". */
export function corsMiddleware(value: string): MiddlewareHandler | undefined {
  const policy = parseCorsOrigins(value);
  if (policy.kind === "none") return undefined;
  const allowed = policy.kind === "list" ? new Set(policy.origins) : undefined;
  return cors({
    // "*" as LibreTranslate; a listed origin is echoed back (with Vary: Origin), any other gets no header.
    origin: allowed ? (origin) => (allowed.has(origin) ? origin : null) : "*",
    allowMethods: ["GET", "POST", "OPTIONS"],
    allowHeaders: ALLOW_HEADERS,
    exposeHeaders: EXPOSE_HEADERS,
    maxAge: MAX_AGE_SECONDS,
    credentials: allowed !== undefined,
  });
}
