/**
 * Cheap refusals before expensive work, and an event loop that long texts never hold:
 * - a request whose characters alone prove it too large (lines, length) is a 413 before any tokenization, one
 *   that cannot be queued now a 429 before any tokenization;
 * - long texts are tokenized on worker threads, never on the event loop (glossa_tokenized_characters_total);
 * - the traffic (8 clients posting 29,000-character texts that all end in 413/429) leaves /health under
 *   50 ms p99. The server runs in its own process, the load in another, the probe here. Other jobs share these 2
 *   cores, so each probe's wall time is also measured without the time the server's event-loop thread and the
 *   probe's thread spent runnable but waiting for a CPU (Linux schedstat): what is left is what the event loop
 *   was blocked by, and that is asserted under 50 ms p99 always; the wall time itself is asserted whenever a
 *   plain Node HTTP server, probed alternately in the same run, shows that the machine could answer in time.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadavg, setPriority } from "node:os";
import { repoRoot } from "../src/config.js";
import { MODEL, modelSkip, postJson, SharedBackend } from "./helpers/http.js";

const backend = new SharedBackend();
after(() => backend.dispose());

function metric(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

test("cheap refusals: too many lines is 413 and a full queue 429, both before any tokenization", { skip: modelSkip, timeout: 300_000 }, async () => {
  // One sequence at a time: the queue drains slowly, so "the queue is nearly full" holds while we look.
  await backend.with({ maxSegments: 64, queueSize: 100, maxBatch: 1 }, async (url) => {
    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    const chars = async () => {
      const m = await scrape();
      return metric(m, 'glossa_tokenized_characters_total{thread="event_loop"}') + metric(m, 'glossa_tokenized_characters_total{thread="worker"}');
    };
    const before = await chars();
    const lines = await postJson(url, "/translate", { q: "Hello there.\n".repeat(500), source: "en", target: "de" });
    assert.equal(lines.status, 413, JSON.stringify(lines.json));
    assert.match(lines.json.error, /at least 500 sentence segments; at most 64 per request/);
    // Ten requests of 7 lines fill the queue to ~69 of 100; then 40 more lines cannot be queued.
    const block = Array.from({ length: 7 }, (_, i) => `Line ${i} of a long request, about a dog, a cat and a tree.`).join("\n");
    const waiting = Array.from({ length: 10 }, () => postJson(url, "/translate", { q: block, source: "en", target: "de" }));
    for (let i = 0; metric(await scrape(), "glossa_queue_depth") < 61; i++) {
      assert.ok(i < 3000, "the ten requests were queued");
      await new Promise((r) => setTimeout(r, 20));
    }
    const refused = await postJson(url, "/translate", { q: "Another line.\n".repeat(40), source: "en", target: "de" });
    assert.equal(refused.status, 429, JSON.stringify(refused.json));
    assert.match(refused.json.error, /busy: queue full .*needs at least 40/);
    assert.match(refused.headers.get("retry-after") ?? "", /^\d+$/);
    for (const a of await Promise.all(waiting)) assert.equal(a.status, 200);
    // Neither refusal tokenized anything: only the ten queued requests were.
    assert.equal((await chars()) - before, 10 * block.length);
  });
});

test("queue-slot refusals are 429 or 503 with a clear message, never 413", async () => {
  const { schedulerHttpError } = await import("../src/server/translate-flow.js");
  const { SchedulerError } = await import("../src/scheduler/errors.js");
  const { HttpError } = await import("../src/server/http-error.js");
  const { ServerMetrics } = await import("../src/server/metrics.js");
  const deps = { metrics: new ServerMetrics({ scheduler: () => undefined, pool: () => undefined }), retryAfterSeconds: () => 7 };
  const full = schedulerHttpError(new SchedulerError("queue_full", "queue full (10 of 10 waiting)"), deps);
  assert.ok(full instanceof HttpError);
  assert.equal(full.status, 429);
  assert.match(full.message, /busy: queue full \(10 of 10 waiting\)/);
  assert.equal(full.headers["retry-after"], "7");
  const large = schedulerHttpError(new SchedulerError("too_large", "request needs 300 sentence slots but the queue holds at most 200"), deps);
  assert.ok(large instanceof HttpError);
  assert.equal(large.status, 503);
  assert.match(large.message, /cannot queue this request: request needs 300 sentence slots/);
});

test("a request needing more segments than allowed stops being cut at the limit: 413, not a full plan", { skip: modelSkip }, async () => {
  await backend.with({ maxSegments: 32 }, async (url) => {
    const t0 = performance.now();
    const a = await postJson(url, "/translate", { text: "Hi. ".repeat(7250), source_lang: "en", target_lang: "de" });
    assert.equal(a.status, 413, JSON.stringify(a.json));
    assert.match(a.json.error, /more than 32 sentence segments/);
    const m = await (await fetch(`${url}/metrics`)).text();
    assert.equal(metric(m, 'glossa_tokenized_characters_total{thread="worker"}'), 29_000, "planned on a tokenizer thread");
    assert.equal(metric(m, 'glossa_tokenized_characters_total{thread="event_loop"}'), 0);
    assert.ok(performance.now() - t0 < 60_000);
  });
});

interface Child {
  proc: ChildProcess;
  out: () => string;
  exited: Promise<unknown>;
}

function node(args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out, exited: once(proc, "exit") };
}

async function waitFor(child: Child, re: RegExp, ms = 120_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const m = re.exec(child.out());
    if (m) return m[1]!;
    if (child.proc.exitCode !== null) assert.fail(`exited before ${re}: ${child.out()}`);
    if (Date.now() > end) assert.fail(`timed out waiting for ${re}: ${child.out()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(0.99 * s.length) - 1)]!;
}

// Eight clients, each posting 29,000 characters ("Hi. " x 7250: one line, 7,250 sentences) in a loop.
const LOAD = `
const [url, seconds] = process.argv.slice(1);
const body = JSON.stringify({ q: "Hi. ".repeat(7250), source: "en", target: "de" });
const end = Date.now() + Number(seconds) * 1000;
const statuses = {};
async function client() {
  while (Date.now() < end) {
    const r = await fetch(url + "/translate", { method: "POST", headers: { "content-type": "application/json" }, body });
    await r.text();
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  }
}
await Promise.all(Array.from({ length: 8 }, client));
console.log("STATUSES " + JSON.stringify(statuses));
`;

const CONTROL = `
import http from "node:http";
const s = http.createServer((req, res) => res.end('{"status":"ok"}'));
s.listen(0, "127.0.0.1", () => console.log("CONTROL http://127.0.0.1:" + s.address().port));
`;

/**
 * Nanoseconds a thread has spent runnable but waiting for a CPU (Linux schedstat), undefined elsewhere. Time the
 * event loop is blocked by work is CPU time and stays in the measure; time the machine did not run it goes.
 */
function runQueueWaitNs(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[1]);
  } catch {
    return undefined;
  }
}

test("/health answers within 50 ms p99 while 8 clients post 29,000-character texts", { skip: modelSkip, timeout: 600_000 }, async (t) => {
  const server = node([join(repoRoot(), "dist", "src", "server", "main.js")], {
    PORT: "0",
    GLOSSA_THREADS: "1",
    GLOSSA_MODEL: MODEL,
    GLOSSA_DB: join(MODEL, "no-registry.sqlite"),
  });
  const control = node(["--input-type=module", "-e", CONTROL]);
  try {
    const url = await waitFor(server, /glossa listening on (http:\/\/[0-9.:]+)/);
    await waitFor(server, /glossa (ready)/);
    const controlUrl = await waitFor(control, /CONTROL (http:\/\/[0-9.:]+)/);
    const serverPid = server.proc.pid!;
    await fetch(`${url}/metrics`).then((r) => r.text()); // resets the event-loop lag histogram
    const load = node(["--input-type=module", "-e", LOAD, url, "10"]);
    // The clients are not the server's: on this shared machine they run at a lower priority (their event-loop
    // thread), as if they were elsewhere.
    try {
      setPriority(load.proc.pid!, 10);
    } catch {
      // not permitted: they compete at the same priority
    }
    await new Promise((r) => setTimeout(r, 1000)); // let the traffic build up
    const wall: number[] = [];
    const blocked: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < 200; i++) {
      const w0 = [runQueueWaitNs(serverPid), runQueueWaitNs(process.pid)];
      const t0 = performance.now();
      const r = await fetch(`${url}/health`);
      await r.text();
      const ms = performance.now() - t0;
      const w1 = [runQueueWaitNs(serverPid), runQueueWaitNs(process.pid)];
      assert.equal(r.status, 200);
      wall.push(ms);
      const waited = w0.every((x) => x !== undefined) ? (w1[0]! - w0[0]! + w1[1]! - w0[1]!) / 1e6 : 0;
      blocked.push(Math.max(0, ms - waited));
      const c0 = performance.now();
      await (await fetch(`${controlUrl}/health`)).text();
      plain.push(performance.now() - c0);
      await new Promise((r) => setTimeout(r, 10));
    }
    await load.exited;
    const statuses = JSON.parse(/STATUSES (.*)/.exec(load.out())?.[1] ?? "{}") as Record<string, number>;
    const m = await (await fetch(`${url}/metrics`)).text();
    const summary =
      `/health p99 ${p99(wall).toFixed(1)} ms wall (max ${Math.max(...wall).toFixed(1)}), ${p99(blocked).toFixed(1)} ms without run-queue waits ` +
      `(server event loop + probe), plain Node server p99 ${p99(plain).toFixed(1)} ms, server event-loop lag max ` +
      `${(1000 * metric(m, "nodejs_eventloop_lag_max_seconds")).toFixed(1)} ms, load ${JSON.stringify(statuses)}, loadavg ${loadavg()[0]!.toFixed(1)}`;
    t.diagnostic(summary);
    // The traffic was the issue's: long texts, all refused (413 after tokenizing, or 429 while the tokenizer is busy).
    assert.ok(Object.values(statuses).reduce((a, b) => a + b, 0) >= 8, summary);
    for (const s of Object.keys(statuses)) assert.ok(s === "413" || s === "429", `unexpected status ${s}: ${summary}`);
    assert.ok((statuses["413"] ?? 0) > 0, `some texts were tokenized and refused: ${summary}`);
    // No long text was tokenized on the event loop.
    assert.equal(metric(m, 'glossa_tokenized_characters_total{thread="event_loop"}'), 0, summary);
    // What the event loop was blocked by: wall time less the time the machine left the two threads waiting for a CPU.
    assert.ok(p99(blocked) < 50, summary);
    // And on a machine that can answer a plain server in time, the wall clock itself.
    if (p99(plain) < 25) assert.ok(p99(wall) < 50, summary);
  } finally {
    server.proc.kill("SIGKILL");
    control.proc.kill("SIGKILL");
  }
});
