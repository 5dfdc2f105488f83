/**
 * The web pages (built by `npm run build` from web/ into dist/web): GET / (translate page), GET /dashboard
 * (quality dashboard and live view), GET /assets/<file> (content-hashed scripts and styles, cached for a year), and
 * GET /frontend/settings (LibreTranslate's page settings: the character limit and file formats the page needs).
 * The dashboard's data route comes from routes/dashboard.ts. Everything is served by the app itself: no CDN.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Hono, type Context } from "hono";
import { repoRoot } from "../../config.js";
import type { ServerSettings } from "../settings.js";
import { dashboardRoutes } from "./dashboard.js";

export interface WebDeps {
  settings: ServerSettings;
  log: (msg: string, err?: unknown) => void;
  /** Folder of the built pages; default <repo>/dist/web. */
  webDir?: string;
}

/** File formats the translate page offers for upload (POST /translate_file). */
export const PAGE_FILE_FORMATS = [".txt", ".html", ".srt"];

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".html": "text/html; charset=utf-8",
};

/** Scripts, styles, data and connections only from this origin; no inline script, no framing. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export function webDirDefault(): string {
  return join(repoRoot(), "dist", "web");
}

export function webRoutes(deps: WebDeps): Hono {
  const app = new Hono();
  const dir = deps.webDir ?? webDirDefault();
  const cache = new Map<string, Buffer>();
  const read = (path: string): Buffer | undefined => {
    let b = cache.get(path);
    if (b) return b;
    if (!existsSync(path)) return undefined;
    b = readFileSync(path);
    cache.set(path, b);
    return b;
  };

  const page = (file: string) => (c: Context) => {
    const body = read(join(dir, file));
    if (!body) {
      return c.json({ error: `the web pages are not built (${join(dir, file)} is missing): run npm run build` }, 503);
    }
    return c.body(new Uint8Array(body), 200, {
      "content-type": TYPES[".html"]!,
      // Pages are small and name their hashed assets: always revalidate so a new build shows at once.
      "cache-control": "no-cache",
      "content-security-policy": CSP,
      ...SECURITY_HEADERS,
    });
  };
  app.get("/", page("index.html"));
  app.get("/dashboard", page("dashboard.html"));

  app.get("/assets/:file", (c) => {
    const file = c.req.param("file");
    const ext = /\.[a-z]+$/.exec(file)?.[0] ?? "";
    if (!/^[A-Za-z0-9_.-]+$/.test(file) || file.startsWith(".") || !(ext in TYPES)) return c.json({ error: `no asset ${file.slice(0, 80)}` }, 404);
    const body = read(join(dir, "assets", file));
    if (!body) return c.json({ error: `no asset ${file.slice(0, 80)}` }, 404);
    // Built names carry a content hash (translate-3FJ2K.js): they never change, so they can be cached for good.
    const hashed = /-[A-Z0-9]{8}\.[a-z]+(\.map)?$/.test(file);
    return c.body(new Uint8Array(body), 200, {
      "content-type": TYPES[ext]!,
      "cache-control": hashed ? "public, max-age=31536000, immutable" : "public, max-age=3600",
      ...SECURITY_HEADERS,
    });
  });

  // LibreTranslate's page settings, with the limits this server applies.
  app.get("/frontend/settings", (c) =>
    c.json({
      charLimit: deps.settings.maxChars,
      frontendTimeout: 700,
      apiKeys: deps.settings.requireKeys,
      keyRequired: deps.settings.requireKeys,
      // The most alternatives a translation may ask for (n-best beams: beam size up to GLOSSA_MAX_BEAM).
      alternatives: Math.max(0, deps.settings.maxBeam - 1),
      suggestions: false,
      filesTranslation: true,
      supportedFilesFormat: PAGE_FILE_FORMATS,
      maxBodyBytes: deps.settings.maxBodyBytes,
      language: { source: { code: "auto", name: "Auto Detect" }, target: { code: "en", name: "English" } },
    }),
  );

  app.route("/", dashboardRoutes({ dbPath: deps.settings.dbPath, log: deps.log }));
  return app;
}
