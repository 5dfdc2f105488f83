/**
 * LibreTranslate's file routes: POST /translate_file (multipart: file, source, target, api_key) answers
 * {translatedFileUrl}, and GET /download_file/:filename serves the translated file once (as an attachment, under
 * the uploaded file's name). Supported: .txt, .html, .srt (src/server/files.ts). Translated files live in a
 * temporary folder and are removed 30 minutes after they were written, as LibreTranslate does.
 *
 * Errors are LibreTranslate's JSON {error} with its wording where it has one ("Invalid request: missing file
 * parameter", "Invalid request: file format not supported", "xx is not supported").
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { parseLanguageTag, type Language } from "../../languages.js";
import { countCharacters, keyFromAuthorization, libreRefusal, type AccessGate } from "../access.js";
import { bodyFormat, parseMultipartBody, readBodyBytes } from "../body.js";
import { fileKind, FILE_EXTENSIONS, planFile } from "../files.js";
import { HttpError } from "../http-error.js";
import type { TranslateCall } from "../translate-request.js";
import { resolveSource, startTranslation, type FlowDeps } from "../translate-flow.js";

export interface LibreFileDeps {
  flow: FlowDeps;
  keys: AccessGate;
  /** Where translated files wait for download; default a folder under the OS temp dir. */
  filesDir?: string;
}

/** Translated files are kept this long. */
const KEEP_MS = 30 * 60 * 1000;
const STORED_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[A-Za-z0-9._-]{1,120}$/;

/** The upload's name reduced to safe characters, its extension kept. */
function safeName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "file";
  const cleaned = base.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^\.+/, "");
  return (cleaned === "" ? "file" : cleaned).slice(-120);
}

function language(code: string | undefined, field: "source" | "target"): Language | undefined {
  if (code === undefined || code.trim() === "") throw new HttpError(400, `Invalid request: missing ${field} parameter`);
  if (field === "source" && code.trim().toLowerCase() === "auto") return undefined;
  const parsed = parseLanguageTag(code, field);
  if (!parsed.ok) throw new HttpError(400, `${code.slice(0, 24)} is not supported`);
  return parsed.language;
}

export function libreFileRoutes(deps: LibreFileDeps): Hono {
  const { flow, keys } = deps;
  const settings = flow.settings;
  const dir = deps.filesDir ?? join(tmpdir(), "glossa-translated-files");
  const app = new Hono();

  const sweep = () => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    const now = Date.now();
    for (const n of names) {
      try {
        if (now - statSync(join(dir, n)).mtimeMs > KEEP_MS) rmSync(join(dir, n), { force: true });
      } catch {
        // Gone already (another server sharing the folder).
      }
    }
  };

  app.post("/translate_file", async (c) => {
    const arrived = performance.now();
    const contentType = c.req.header("content-type") ?? null;
    if (bodyFormat(contentType, "") !== "multipart") throw new HttpError(400, "Invalid request: send the file as multipart/form-data");
    const body = await parseMultipartBody(await readBodyBytes(c.req.raw, settings.maxBodyBytes), contentType!);
    const field = (k: string): string | undefined => {
      const v = body.fields[k];
      return Array.isArray(v) ? v[0] : v;
    };
    const file = body.files.file;
    if (!file) throw new HttpError(400, "Invalid request: missing file parameter");
    const sourceField = field("source");
    const source = language(sourceField, "source");
    const target = language(field("target"), "target")!;
    if (file.name === "") throw new HttpError(400, "Invalid request: empty file");
    const kind = fileKind(file.name);
    if (!kind) throw new HttpError(400, `Invalid request: file format not supported (supported: ${Object.keys(FILE_EXTENSIONS).join(", ")})`);
    const bytes = new Uint8Array(await file.arrayBuffer());
    let content: string;
    try {
      content = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new HttpError(400, `Invalid request: ${file.name.slice(0, 80)} is not UTF-8 text`);
    }
    const plan = planFile(kind, content);
    const characters = countCharacters(plan.units);
    const textChars = plan.format === "html" ? countCharacters(plan.units.map((u) => u.replace(/<[^>]*>/g, ""))) : characters;
    if (textChars > settings.maxChars) throw new HttpError(413, `the file has ${textChars} characters of text; at most ${settings.maxChars} per request`);

    const key = field("api_key") || field("apiKey") || keyFromAuthorization(c.req.header("authorization"));
    const admitted = await keys.admit(key, characters);
    if (!admitted.ok) throw libreRefusal(admitted.refusal);
    try {
      // One source for the whole file: detected once on its start when "auto".
      const base = {
        shape: "libre" as const,
        single: false,
        target,
        format: plan.format,
        htmlAttributes: new Set(settings.htmlAttributes),
        overrides: {},
        stream: false,
        timeoutMs: undefined,
      };
      const resolved =
        source ?? (plan.units.length > 0 ? resolveSource({ ...base, texts: [plan.units.join("\n").slice(0, 2000)], source: undefined }, flow.detector).source : target);
      // Units go in calls within the request limits; one deadline for the whole file.
      const translations: string[] = [];
      let batch: string[] = [];
      let batchChars = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const call: TranslateCall = { ...base, texts: batch, source: resolved };
        const started = await startTranslation(flow, call, { signal: c.req.raw.signal, arrived });
        const results = await started.run();
        flow.metrics.textsTranslated.inc(results.length);
        translations.push(...results.map((r) => r.text));
        batch = [];
        batchChars = 0;
      };
      for (const u of plan.units) {
        if (batch.length >= settings.maxTexts || batchChars + u.length > settings.maxChars) await flush();
        batch.push(u);
        batchChars += u.length;
      }
      await flush();
      const translated = plan.compose(translations);
      mkdirSync(dir, { recursive: true });
      sweep();
      const stored = `${randomUUID()}.${safeName(file.name)}`;
      writeFileSync(join(dir, stored), translated, "utf8");
      const origin = new URL(c.req.url).origin;
      return c.json({ translatedFileUrl: `${origin}/download_file/${encodeURIComponent(stored)}` });
    } catch (err) {
      await admitted.grant.refund();
      throw err;
    }
  });
  app.all("/translate_file", () => {
    throw new HttpError(405, "use POST /translate_file (multipart/form-data)", { allow: "POST" });
  });

  app.get("/download_file/:filename", (c) => {
    const name = c.req.param("filename");
    if (!STORED_NAME.test(name)) throw new HttpError(400, "Invalid filename");
    let data: Buffer;
    try {
      data = readFileSync(join(dir, name));
    } catch {
      throw new HttpError(404, "no such translated file (files are kept 30 minutes)");
    }
    const download = name.slice(name.indexOf(".") + 1);
    return c.body(new Uint8Array(data), 200, {
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename="${download}"; filename*=UTF-8''${encodeURIComponent(download)}`,
    });
  });

  return app;
}
