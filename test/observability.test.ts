/**
 * Per-request observability: x-request-id echoed or generated, one access-log record per request (method, route,
 * status, duration, characters, engine, request id) as text or JSON lines, process_* / nodejs_* metrics, metric
 * names that pass `promtool check metrics` (when promtool is installed: .ci/run puts it in var/tools/bin).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../src/config.js";
import { formatAccess, requestIdFrom, type AccessRecord } from "../src/server/access-log.js";
import { MODEL, modelSkip, postJson, SharedBackend } from "./helpers/http.js";

const backend = new SharedBackend();
after(() => backend.dispose());

function promtool(): string | undefined {
  const local = join(repoRoot(), "var", "tools", "bin", "promtool");
  if (existsSync(local)) return local;
  const found = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

test("request ids: a sane client id is kept, anything else replaced by a UUID", () => {
  assert.equal(requestIdFrom("abc-123_x.y:z"), "abc-123_x.y:z");
  assert.equal(requestIdFrom("  trace=1;sampled  ".replace(/ /g, "")), "trace=1;sampled");
  for (const bad of [undefined, "", "has space", "x".repeat(129), "new\nline", "<script>", "ünï"]) {
    assert.match(requestIdFrom(bad), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, String(bad));
  }
  const r: AccessRecord = { time: "2026-01-01T00:00:00.000Z", request_id: "r1", method: "POST", route: "/translate", status: 200, duration_ms: 12.5, chars: 42, engine: "e", remote: "127.0.0.1" };
  assert.deepEqual(JSON.parse(formatAccess("json", r)), { level: "info", msg: "request", ...r });
  assert.equal(formatAccess("text", r), "2026-01-01T00:00:00.000Z POST /translate 200 12.5ms chars=42 engine=e id=r1");
});

test("HTTP: x-request-id echoed or generated; one access record per request with route, status, chars, engine", { skip: modelSkip }, async () => {
  const records: AccessRecord[] = [];
  await backend.with(
    {},
    async (url) => {
      const a = await postJson(url, "/translate", { q: "Good morning.", source: "en", target: "de" }, { "content-type": "application/json", "x-request-id": "lb-7f3a" });
      assert.equal(a.status, 200);
      assert.equal(a.headers.get("x-request-id"), "lb-7f3a");
      const h = await fetch(`${url}/health`, { headers: { "x-request-id": "bad id with spaces" } });
      const generated = h.headers.get("x-request-id") ?? "";
      assert.match(generated, /^[0-9a-f-]{36}$/);
      const missing = await fetch(`${url}/no/such/path/12345`);
      assert.equal(missing.status, 404);
      assert.ok(missing.headers.get("x-request-id"), "errors carry an id too");
      const bad = await postJson(url, "/translate", { q: "x", source: "en", target: "xx-unknown" });
      assert.equal(bad.status, 400);
      await new Promise((r) => setTimeout(r, 10));
      assert.equal(records.length, 4);
      const [tr, health, nf, refused] = records as [AccessRecord, AccessRecord, AccessRecord, AccessRecord];
      assert.deepEqual(
        { method: tr.method, route: tr.route, status: tr.status, chars: tr.chars, engine: tr.engine, id: tr.request_id },
        { method: "POST", route: "/translate", status: 200, chars: "Good morning.".length, engine: "glossa-mini-50", id: "lb-7f3a" },
      );
      assert.ok(tr.duration_ms > 0);
      assert.equal(health.request_id, generated);
      assert.equal(health.route, "/health");
      assert.equal(nf.route, "other", "the raw path never becomes a label or a log field");
      assert.equal(refused.status, 400);
      assert.equal(refused.chars, null, "refused before its text was accepted");
    },
    { access: (r) => records.push(r) },
  );
});

test("HTTP: /metrics has process_* and nodejs_* series, the KV capacity gauge, and passes promtool", { skip: modelSkip }, async (t) => {
  await backend.with({}, async (url) => {
    await postJson(url, "/translate", { q: "Hello.", source: "en", target: "fr" });
    await new Promise((r) => setTimeout(r, 50));
    const res = await fetch(`${url}/metrics`);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const series of [
      "process_cpu_user_seconds_total",
      "process_resident_memory_bytes",
      "process_open_fds",
      "nodejs_eventloop_lag_seconds",
      "nodejs_heap_size_used_bytes",
      "glossa_kv_blocks_capacity",
      "glossa_http_requests_total",
    ]) {
      assert.match(text, new RegExp(`^${series}(\\{| )`, "m"), series);
    }
    assert.doesNotMatch(text, /^glossa_kv_blocks_total/m, "a gauge must not end in _total");
    const tool = promtool();
    if (!tool) {
      t.skip("promtool is not installed (bash .ci/run fetches it into var/tools/bin)");
      return;
    }
    const check = spawnSync(tool, ["check", "metrics"], { input: text, encoding: "utf8" });
    assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), "", "no lint warnings");
  });
});

test("npm start with GLOSSA_LOG_FORMAT=json writes one JSON line per request on stdout", { skip: modelSkip }, async () => {
  const child = spawn(process.execPath, [join(repoRoot(), "dist", "src", "server", "main.js")], {
    env: { ...process.env, PORT: "0", GLOSSA_THREADS: "1", GLOSSA_MODEL: MODEL, GLOSSA_DB: join(MODEL, "no-registry.sqlite"), GLOSSA_LOG_FORMAT: "json" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  try {
    let url: string | undefined;
    for (let i = 0; i < 6000 && !url; i++) {
      url = /glossa listening on (http:\/\/[0-9.:]+)/.exec(err)?.[1];
      if (child.exitCode !== null) assert.fail(`exited: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(url, err);
    // Messages are JSON lines too.
    for (const line of err.trim().split("\n")) assert.doesNotThrow(() => JSON.parse(line), line);
    await fetch(`${url}/health`, { headers: { "x-request-id": "json-check" } });
    for (let i = 0; i < 500 && !out.includes("json-check"); i++) await new Promise((r) => setTimeout(r, 10));
    const line = out.trim().split("\n").find((l) => l.includes("json-check"))!;
    const rec = JSON.parse(line) as Record<string, unknown>;
    assert.equal(rec.msg, "request");
    assert.equal(rec.method, "GET");
    assert.equal(rec.route, "/health");
    assert.equal(rec.status, 200);
    assert.equal(typeof rec.duration_ms, "number");
    assert.ok("chars" in rec && "engine" in rec);
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
});
