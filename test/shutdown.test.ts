/**
 * Shutdown as a load balancer sees it (npm start in its own process): on SIGTERM /ready answers 503 at once,
 * requests arriving afterwards (new or keep-alive connections) are refused before any work with
 * Connection: close, running translations finish within the grace period; work still running at the grace
 * limit is answered 503, logged with its count, and makes the exit status non-zero.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { request, Agent } from "node:http";
import { join } from "node:path";
import { repoRoot } from "../src/config.js";
import { MODEL, modelSkip } from "./helpers/http.js";

function launch(env: Record<string, string>) {
  const child = spawn(process.execPath, [join(repoRoot(), "dist", "src", "server", "main.js")], {
    env: { ...process.env, PORT: "0", GLOSSA_THREADS: "1", GLOSSA_BEAM_SIZE: "1", GLOSSA_MODEL: MODEL, GLOSSA_DB: join(MODEL, "no-registry.sqlite"), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, out: () => out, exited };
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, out: () => string, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}:\n${out()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request through `agent` (keep-alive connections are reused). */
function send(agent: Agent, url: string, method: string, path: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${url}${path}`,
      { method, agent, headers: data ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {} },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

function metric(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const LONG = Array.from({ length: 24 }, (_, i) => `Chapter ${i}: the old fisherman walked slowly along the beach and looked at the boats, the birds and the clouds above the sea.`);

test("SIGTERM: /ready 503 at once, later requests refused before any work, running work finishes, exit 0", { skip: modelSkip, timeout: 300_000 }, async () => {
  const p = launch({ GLOSSA_SHUTDOWN_GRACE_MS: "120000" });
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  try {
    const url = await until("listening", () => /glossa listening on (http:\/\/[0-9.:]+)/.exec(p.out())?.[1], p.out);
    await until("ready", () => /glossa ready/.test(p.out()) || undefined, p.out);
    // A keep-alive connection already open before the signal.
    assert.equal((await send(agent, url, "GET", "/ready")).status, 200);
    const running = send(agent, url, "POST", "/translate", { text: LONG, source_lang: "en", target_lang: "de" });
    await until("the translation to run", async () => metric((await send(agent, url, "GET", "/metrics")).body, "glossa_running_sequences") > 0 || undefined, p.out);
    const segmentsBefore = metric((await send(agent, url, "GET", "/metrics")).body, "glossa_segments_total");
    p.child.kill("SIGTERM");
    await until("the signal to be seen", () => /SIGTERM/.test(p.out()) || undefined, p.out, 10_000);

    const ready = await send(agent, url, "GET", "/ready");
    assert.equal(ready.status, 503, "a load balancer's readiness check fails at once");
    assert.equal(ready.headers.connection, "close");
    const late = await send(agent, url, "POST", "/translate", { text: "One more, please.", source_lang: "en", target_lang: "de" });
    assert.equal(late.status, 503);
    assert.match(JSON.parse(late.body).error, /shutting down/);
    assert.equal(late.headers.connection, "close", "keep-alive clients are told to go");
    assert.ok(Number(late.headers["retry-after"]) >= 1);
    const health = await send(agent, url, "GET", "/health");
    assert.equal(health.status, 200, "still alive while draining");
    const m = (await send(agent, url, "GET", "/metrics")).body;
    assert.equal(metric(m, "glossa_segments_total"), segmentsBefore, "the refused request did no work");

    const done = await running;
    assert.equal(done.status, 200, done.body);
    assert.equal(JSON.parse(done.body).translations.length, LONG.length);
    assert.equal(await p.exited, 0, p.out());
    assert.match(p.out(), /shut down cleanly/);
  } finally {
    agent.destroy();
    p.child.kill("SIGKILL");
  }
});

test("work still running at the grace limit is answered 503, logged with its count, and the exit status is non-zero", { skip: modelSkip, timeout: 300_000 }, async () => {
  const p = launch({ GLOSSA_SHUTDOWN_GRACE_MS: "300" });
  const agent = new Agent({ keepAlive: true });
  try {
    const url = await until("listening", () => /glossa listening on (http:\/\/[0-9.:]+)/.exec(p.out())?.[1], p.out);
    await until("ready", () => /glossa ready/.test(p.out()) || undefined, p.out);
    const running = send(agent, url, "POST", "/translate", { text: [...LONG, ...LONG], source_lang: "en", target_lang: "de" });
    await until("the translation to run", async () => metric((await send(agent, url, "GET", "/metrics")).body, "glossa_running_sequences") > 0 || undefined, p.out);
    p.child.kill("SIGTERM");
    const dropped = await running;
    assert.equal(dropped.status, 503, dropped.body);
    assert.match(JSON.parse(dropped.body).error, /shutting down/);
    assert.equal(await p.exited, 3, p.out());
    assert.match(p.out(), /1 translation request\(s\) still running when the 300 ms grace period ended were dropped/);
  } finally {
    agent.destroy();
    p.child.kill("SIGKILL");
  }
});
