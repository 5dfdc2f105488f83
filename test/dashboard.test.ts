/**
 * The dashboard's data (src/storage/dashboard.ts) on fixture registry rows, calibration profiles as committed in
 * calib-data/profiles/, and the web routes (src/server/routes/ui.ts, dashboard.ts) without a browser or a model.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../src/config.js";
import { webRoutes } from "../src/server/routes/ui.js";
import { defaultSettings } from "../src/server/settings.js";
import { dashboardData, profileView } from "../src/storage/dashboard.js";
import type { DashboardData } from "../src/storage/dashboard-types.js";
import { openRegistry } from "../src/storage/db.js";
import { fillDashboardRegistry, type DashboardFixture } from "./fixtures/dashboard-registry.js";

let tmp: string;
let dbPath: string;
let fixture: DashboardFixture;
let data: DashboardData;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "glossa-dash-"));
  dbPath = join(tmp, "registry.sqlite");
  const reg = await openRegistry({ path: dbPath });
  try {
    fixture = await fillDashboardRegistry(reg.db);
    data = await dashboardData(reg.db, { now: () => new Date("2026-01-02T03:04:05Z") });
  } finally {
    await reg.close();
  }
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const engine = (name: string) => {
  const e = data.engines.find((x) => x.name === `glossa-mini-50/${name}`);
  assert.ok(e, name);
  return e;
};

test("engine statuses follow gate decisions and releases", () => {
  assert.equal(data.registry, true);
  assert.equal(data.generated_at, "2026-01-02T03:04:05.000Z");
  assert.deepEqual(data.tolerances, { max_bleu_drop: 1, max_chrf_drop: 1 });
  assert.equal(data.engines.find((e) => e.is_reference)?.status, "reference");
  assert.equal(engine("int8-de").status, "released");
  assert.equal(engine("awq-int4-de").status, "revoked");
  assert.equal(engine("awq-int4-sw").status, "rejected");
  assert.equal(engine("int8-sw").status, "not gated");
  const int4de = engine("awq-int4-de");
  assert.deepEqual(int4de.gates.map((g) => g.decision), ["fail", "pass"], "newest first");
  assert.equal(int4de.releases.length, 1);
  assert.equal(int4de.releases[0]!.active, false);
  assert.equal(int4de.releases[0]!.ended_by, "revoked");
  assert.equal(int4de.releases[0]!.ended_by_decision_id, int4de.gates[0]!.id);
  assert.equal(int4de.releases[0]!.gate_decision_id, int4de.gates[1]!.id);
  assert.equal(engine("int8-de").releases[0]!.ended_by, null);
});

test("gate reasons carry both scores, the deltas and the line limit", () => {
  const sw = engine("awq-int4-sw").gates[0]!;
  assert.equal(sw.reasons.length, fixture.reasons["awq-int4-sw"]);
  const failing = sw.reasons.filter((r) => !r.passed);
  assert.equal(failing.length, 1);
  const f = failing[0]!;
  assert.equal(f.pair, "en-sw");
  assert.equal(f.set, "tatoeba (first 200)");
  assert.equal(f.reference_bleu, 12.8);
  assert.equal(f.engine_bleu, 11.3);
  assert.ok(Math.abs(f.bleu_delta! + 1.5) < 1e-9);
  assert.ok(Math.abs(f.chrf_delta! - 0.25) < 1e-9);
  assert.match(f.reason, /BLEU 11\.30 vs 12\.80 \(-1\.50 < -1\.00\)/);
});

test("scores: the newest run per (set, pair, limit) of each engine next to the reference's", () => {
  assert.equal(data.scores.length, 8);
  for (const s of data.scores) assert.ok(s.reference, `${s.set} ${s.pair} has a reference run`);
  const deEnTatoeba = data.scores.find((s) => s.set === "tatoeba" && s.pair === "en-de")!;
  assert.equal(deEnTatoeba.line_limit, 200);
  assert.deepEqual(deEnTatoeba.engines.map((e) => e.engine).sort(), ["glossa-mini-50/awq-int4-de", "glossa-mini-50/int8-de"]);
  // awq-int4-de was evaluated twice: the second run (-1.6 BLEU) is the one shown.
  const int4 = deEnTatoeba.engines.find((e) => e.engine.endsWith("awq-int4-de"))!;
  assert.ok(Math.abs(int4.bleu_delta! + 1.6) < 1e-9);
  assert.equal(int4.bleu, 25.9);
});

test("calibration profiles and benchmark results come from the registry", () => {
  const int8 = engine("int8-de").profile;
  assert.ok(int8);
  assert.equal(int8.source, "registry");
  assert.equal(int8.layers.length, fixture.profileUnits["int8-de"]);
  assert.ok(int8.layers.every((l) => l.precision === "int8-w8a8" && l.kl !== null && l.kl > 0));
  const int4 = engine("awq-int4-de").profile;
  assert.ok(int4 && int4.layers.some((l) => l.precision !== "int4-g128"), "the INT4 engine kept some units at INT8");
  assert.equal(engine("awq-int4-sw").profile, null, "no stored profile and no engine file");
  const rows = fixture.benchRows.greedy!.length + fixture.benchRows.beam4!.length;
  assert.equal(data.benchmarks.length, rows);
  const b = data.benchmarks.find((x) => x.engine === "glossa-mini-50/int8-de" && x.mode === "beam4" && x.batch === 32)!;
  assert.equal(b.tokens_per_second, 401.5);
  assert.equal(b.engine_id, fixture.engines["int8-de"]!.id);
  assert.equal(b.kernels, "avx512");
  assert.equal(b.run, "2026-01-01T00:00:00.000Z/1");
});

test("calibration profiles as built by glossa calibrate (calib-data/profiles) become per-layer views", () => {
  const file = join(repoRoot(), "calib-data", "profiles", "de-awq-int4.json");
  const meta = JSON.parse(readFileSync(file, "utf8")) as { report: Record<string, unknown> };
  const view = profileView(JSON.stringify(meta.report), "registry");
  assert.ok(view);
  assert.equal(view.layers.length, (meta.report.layers as unknown[]).length);
  assert.equal(view.kl_measured, meta.report.klMeasured);
  const promoted = view.layers.filter((l) => l.precision !== "int4-g128");
  assert.ok(promoted.length > 0);
  for (const l of view.layers) {
    assert.equal(l.kl, l.kl_by_precision[l.precision] ?? null, l.unit);
  }
  // A promoted unit shows the KL of every precision the sensitivity pass tried.
  assert.ok(promoted.some((l) => Object.keys(l.kl_by_precision).length >= 2));
  assert.equal(profileView("{not json", "registry"), null);
  assert.equal(profileView({ layers: [{ unit: 3 }] }, "registry"), null);
  assert.equal(profileView(undefined, "engine file"), null);
});

function webDir(): string {
  const dir = join(tmp, "web");
  mkdirSync(join(dir, "assets"), { recursive: true });
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>t</title>");
  writeFileSync(join(dir, "assets", "translate-ABCD1234.js"), "export {};");
  writeFileSync(join(dir, "assets", "favicon.svg"), "<svg/>");
  writeFileSync(join(tmp, "secret.js"), "no");
  return dir;
}

test("web routes: pages with a content security policy, hashed assets cached for good, no path escapes", async () => {
  const settings = { ...defaultSettings(), dbPath: join(tmp, "absent.sqlite"), maxChars: 1234 };
  const app = webRoutes({ settings, log: () => undefined, webDir: webDir() });
  const page = await app.request("/");
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /^text\/html/);
  assert.match(page.headers.get("content-security-policy")!, /script-src 'self'/);
  assert.equal(page.headers.get("cache-control"), "no-cache");
  const missing = await app.request("/dashboard");
  assert.equal(missing.status, 503);
  assert.match(((await missing.json()) as { error: string }).error, /not built.*npm run build/);
  const js = await app.request("/assets/translate-ABCD1234.js");
  assert.equal(js.status, 200);
  assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.match(js.headers.get("cache-control")!, /immutable/);
  assert.match((await app.request("/assets/favicon.svg")).headers.get("cache-control")!, /max-age=3600/);
  for (const bad of ["/assets/..%2Fsecret.js", "/assets/%2e%2e%2fsecret.js", "/assets/.hidden.js", "/assets/x.exe", "/assets/nope-ABCD1234.js"]) {
    const r = await app.request(bad);
    assert.equal(r.status, 404, bad);
    assert.equal(typeof ((await r.json()) as { error: unknown }).error, "string");
  }
  const fs = (await (await app.request("/frontend/settings")).json()) as { charLimit: number; supportedFilesFormat: string[] };
  assert.equal(fs.charLimit, 1234);
  assert.deepEqual(fs.supportedFilesFormat, [".txt", ".html", ".srt"]);
});

test("GET /api/dashboard: registry: false without a registry file (none is created), the fixture's engines with one", async () => {
  const absent = join(tmp, "absent.sqlite");
  const none = webRoutes({ settings: { ...defaultSettings(), dbPath: absent }, log: () => undefined, webDir: webDir() });
  const a = (await (await none.request("/api/dashboard")).json()) as DashboardData;
  assert.equal(a.registry, false);
  assert.deepEqual(a.engines, []);
  assert.equal(existsSync(absent), false);
  const app = webRoutes({ settings: { ...defaultSettings(), dbPath }, log: () => undefined, webDir: webDir() });
  const res = await app.request("/api/dashboard");
  assert.equal(res.status, 200);
  const b = (await res.json()) as DashboardData;
  assert.equal(b.engines.length, 5);
  assert.equal(b.engines.find((e) => e.name.endsWith("int8-de"))?.status, "released");
});

test("the built pages (npm run build) name assets that exist", { skip: existsSync(join(repoRoot(), "dist", "web", "index.html")) ? false : "dist/web not built" }, () => {
  const dir = join(repoRoot(), "dist", "web");
  for (const page of ["index.html", "dashboard.html"]) {
    const html = readFileSync(join(dir, page), "utf8");
    const refs = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.some((r) => r.endsWith(".js")) && refs.some((r) => r.endsWith(".css")), page);
    for (const r of refs) assert.ok(existsSync(join(dir, r)), `${page} -> ${r}`);
    assert.doesNotMatch(html, /%[\w.-]+%/, "every placeholder replaced");
    assert.doesNotMatch(html, /https?:\/\//, "no external resource");
  }
});
