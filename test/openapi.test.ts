/**
 * /openapi.json: an OpenAPI 3.1 document that describes every route the app registers, whose examples validate
 * against the very zod schemas the routes validate requests with, and whose request examples, sent to a running
 * server, get answers that validate against the documented response schemas. Also /spec and the /docs page.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ZodType } from "zod";
import type { RouteConfig } from "../src/server/api-description.js";
import { request, SharedBackend, skipWithoutModel } from "./helpers/api-server.js";

const shared = new SharedBackend();
before(async () => {
  if (!skipWithoutModel) await shared.load();
});
after(() => shared.dispose());

type Doc = { openapi: string; paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> } };

/** Examples reachable from a media type's schema in the document: its own, its $ref's, its anyOf/oneOf members'. */
function examplesOf(doc: Doc, schema: any, depth = 0): unknown[] {
  if (!schema || depth > 3) return [];
  const out: unknown[] = [];
  if (schema.$ref) {
    const name = String(schema.$ref).split("/").pop()!;
    return examplesOf(doc, doc.components.schemas[name], depth + 1);
  }
  if (schema.example !== undefined) out.push(schema.example);
  if (Array.isArray(schema.examples)) out.push(...schema.examples);
  for (const k of ["anyOf", "oneOf"]) for (const m of schema[k] ?? []) out.push(...examplesOf(doc, m, depth + 1));
  return out;
}

const toOpenApiPath = (p: string): string => p.replace(/:([A-Za-z_]+)/g, "{$1}");

function zodOf(route: RouteConfig, where: "request" | number, type: string): ZodType | undefined {
  if (where === "request") return (route.request?.body?.content as Record<string, { schema?: ZodType }> | undefined)?.[type]?.schema;
  const r = route.responses[where] as { content?: Record<string, { schema?: ZodType }> } | undefined;
  return r?.content?.[type]?.schema;
}

describe("OpenAPI description", { skip: skipWithoutModel }, () => {
  it("describes every route the app registers", async () => {
    await shared.withServer({ adminKey: "admin-secret" }, async (base, s) => {
      const res = await request(`${base}/openapi.json`);
      assert.equal(res.status, 200);
      const doc = res.json as Doc;
      assert.equal(doc.openapi, "3.1.0");
      const described = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)));
      const describedPaths = new Set(Object.keys(doc.paths));
      const missing: string[] = [];
      for (const r of s.app.routes) {
        const path = toOpenApiPath(r.path);
        if (r.method === "ALL") {
          // Middleware ("*", "/admin/*") and the catch-alls answering 405/404 for a described path.
          if (path.endsWith("*") || describedPaths.has(path)) continue;
          missing.push(`ALL ${path}`);
        } else if (!described.has(`${r.method} ${path}`)) {
          missing.push(`${r.method} ${path}`);
        }
      }
      assert.deepEqual(missing, [], `routes registered but not described: ${missing.join(", ")}`);
      // And the other way: nothing is described that the app does not serve.
      const registered = new Set(s.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${toOpenApiPath(r.path)}`));
      assert.deepEqual([...described].filter((d) => !registered.has(d)), []);
      // The core families are all there.
      for (const op of ["POST /translate", "POST /detect", "GET /languages", "POST /v2/translate", "GET /v2/usage", "POST /translate_file", "GET /frontend/settings"]) {
        assert.ok(described.has(op), op);
      }
    });
  });

  it("validates every example of the document with the route's own schemas, and requests use those schemas", async () => {
    await shared.withServer({}, async (base, s) => {
      const doc = (await request(`${base}/openapi.json`)).json as Doc;
      let checked = 0;
      for (const route of s.api.operations()) {
        const op = doc.paths[route.path]?.[route.method];
        assert.ok(op, `${route.method} ${route.path} in the document`);
        for (const [type, media] of Object.entries((op.requestBody?.content ?? {}) as Record<string, { schema: unknown }>)) {
          const schema = zodOf(route, "request", type);
          assert.ok(schema, `${route.method} ${route.path} ${type}: a zod schema`);
          for (const ex of examplesOf(doc, media.schema)) {
            const r = schema.safeParse(ex);
            assert.ok(r.success, `${route.method} ${route.path} ${type} example ${JSON.stringify(ex)}: ${r.success ? "" : r.error.message}`);
            checked++;
          }
        }
        for (const [status, resp] of Object.entries((op.responses ?? {}) as Record<string, { content?: Record<string, { schema: unknown }> }>)) {
          for (const [type, media] of Object.entries(resp.content ?? {})) {
            const schema = zodOf(route, Number(status), type);
            if (!schema) continue;
            for (const ex of examplesOf(doc, media.schema)) {
              const r = schema.safeParse(ex);
              assert.ok(r.success, `${route.method} ${route.path} ${status} ${type} example: ${r.success ? "" : r.error.message}`);
              checked++;
            }
          }
        }
      }
      assert.ok(checked >= 10, `only ${checked} examples checked`);
    });
  });

  it("request examples sent to the server are answered as the document says", async () => {
    await shared.withServer({}, async (base, s) => {
      const doc = (await request(`${base}/openapi.json`)).json as Doc;
      const live: Array<[string, string]> = [["post", "/translate"], ["post", "/detect"], ["post", "/v2/translate"]];
      let sent = 0;
      for (const [method, path] of live) {
        const route = s.api.operations().find((r) => r.method === method && r.path === path)!;
        const media = doc.paths[path]![method].requestBody.content["application/json"];
        const ok = zodOf(route, 200, "application/json")!;
        for (const ex of examplesOf(doc, media.schema)) {
          const a = await request(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ex) });
          assert.equal(a.status, 200, `${path} ${JSON.stringify(ex)}: ${a.text}`);
          const r = ok.safeParse(a.json);
          assert.ok(r.success, `${path} answer ${a.text}: ${r.success ? "" : r.error.message}`);
          sent++;
        }
      }
      assert.ok(sent >= 4, `${sent} examples sent`);
      // A request the schema refuses is refused by the route with the schema's message.
      const bad = await request(`${base}/translate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "hi", source_lang: "en", target_lang: "de", options: { beam_size: 0 } }) });
      assert.equal(bad.status, 400);
      assert.match(bad.json.error, /options\.beam_size must be an integer from 1 to \d+/);
    });
  });

  it("serves the same document at /spec and a documentation page at /docs", async () => {
    await shared.withServer({}, async (base) => {
      const a = (await request(`${base}/openapi.json`)).json;
      const b = (await request(`${base}/spec`)).json;
      assert.deepEqual(b, a);
      assert.equal((await fetch(`${base}/spec`, { method: "POST" })).status, 405, "as LibreTranslate");
      const page = await fetch(`${base}/docs`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /text\/html/);
      const html = await page.text();
      for (const p of ["/translate", "/v2/translate", "/detect", "/translate_file"]) assert.ok(html.includes(`<code>${p}</code>`), p);
      assert.ok(!/<script/i.test(html), "no script on the page");
    });
  });
});
