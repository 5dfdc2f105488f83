/**
 * Connection limits (settings GLOSSA_HEADERS_TIMEOUT_MS, GLOSSA_RECEIVE_TIMEOUT_MS, GLOSSA_KEEP_ALIVE_TIMEOUT_MS,
 * GLOSSA_MAX_CONNECTIONS): 1,000 slowloris sockets are cut in seconds while /health keeps answering, a body that
 * trickles in is cut, idle keep-alive connections close, and connections past the cap are closed at once.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { loadSettings, SettingsError } from "../src/server/settings.js";
import { modelSkip, SharedBackend } from "./helpers/http.js";

const backend = new SharedBackend();
after(() => backend.dispose());

/** A raw TCP connection that records when (and whether) the server closed it, and what it answered. */
function rawSocket(port: number): { socket: Socket; closedAt: Promise<number>; data: () => string } {
  const socket = connect(port, "127.0.0.1");
  let data = "";
  socket.on("data", (d) => (data += d.toString()));
  socket.on("error", () => {});
  const closedAt = new Promise<number>((r) => socket.once("close", () => r(performance.now())));
  return { socket, closedAt, data: () => data };
}

test("settings: connection timeouts and cap have defaults, env and flags; headers may not outlast the request", () => {
  const d = loadSettings({}, []);
  assert.deepEqual([d.headersTimeoutMs, d.receiveTimeoutMs, d.keepAliveTimeoutMs, d.maxConnections], [10_000, 30_000, 5_000, 1024]);
  const s = loadSettings({ GLOSSA_HEADERS_TIMEOUT_MS: "2000", GLOSSA_MAX_CONNECTIONS: "50" }, ["--keep-alive-timeout-ms", "700", "--receive-timeout-ms=9000"]);
  assert.deepEqual([s.headersTimeoutMs, s.receiveTimeoutMs, s.keepAliveTimeoutMs, s.maxConnections], [2000, 9000, 700, 50]);
  assert.throws(() => loadSettings({ GLOSSA_HEADERS_TIMEOUT_MS: "40000" }, []), (e: unknown) => e instanceof SettingsError && /must not exceed GLOSSA_RECEIVE_TIMEOUT_MS/.test(e.message));
  assert.throws(() => loadSettings({ GLOSSA_MAX_CONNECTIONS: "0" }, []), SettingsError);
});

test("1,000 slowloris sockets (trickled or silent headers) are cut within seconds; /health answers meanwhile", { skip: modelSkip, timeout: 120_000 }, async () => {
  await backend.with({ headersTimeoutMs: 1000, receiveTimeoutMs: 2000, maxConnections: 1100 }, async (url) => {
    const port = Number(new URL(url).port);
    const t0 = performance.now();
    const sockets = Array.from({ length: 1000 }, () => rawSocket(port));
    await Promise.all(sockets.map((s) => new Promise((r) => (s.socket.connecting ? s.socket.once("connect", r) : r(undefined)))));
    // Half send a request line and then one header line every 200 ms, never finishing; half send nothing at all.
    sockets.slice(0, 500).forEach((s) => s.socket.write("POST /translate HTTP/1.1\r\nHost: glossa\r\n"));
    const trickle = setInterval(() => {
      for (const s of sockets.slice(0, 500)) if (!s.socket.destroyed) s.socket.write(`X-Slow-${Math.floor(Math.random() * 1e6)}: a\r\n`);
    }, 200);
    try {
      const health = await fetch(`${url}/health`);
      assert.equal(health.status, 200, "a normal client is served while 1,000 slow sockets are open");
      const closed = await Promise.race([
        Promise.all(sockets.map((s) => s.closedAt)),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 15_000)),
      ]);
      const open = sockets.filter((s) => !s.socket.destroyed && !s.socket.readableEnded).length;
      assert.ok(closed, `${open} of 1000 sockets still open after 15 s`);
      const last = Math.max(...closed) - t0;
      assert.ok(last < 10_000, `the last slow socket was cut after ${last.toFixed(0)} ms`);
      // The trickling ones were told why.
      assert.match(sockets[0]!.data(), /^HTTP\/1\.1 408/);
      assert.equal((await fetch(`${url}/health`)).status, 200);
    } finally {
      clearInterval(trickle);
      for (const s of sockets) s.socket.destroy();
    }
  });
});

test("a body that trickles in is cut at the receive timeout; idle keep-alive connections are closed", { skip: modelSkip, timeout: 60_000 }, async () => {
  await backend.with({ headersTimeoutMs: 500, receiveTimeoutMs: 1500, keepAliveTimeoutMs: 300 }, async (url) => {
    const port = Number(new URL(url).port);
    const slow = rawSocket(port);
    const t0 = performance.now();
    slow.socket.write('POST /translate HTTP/1.1\r\nHost: glossa\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"q":"');
    const drip = setInterval(() => !slow.socket.destroyed && slow.socket.write("a"), 100);
    try {
      const at = await Promise.race([slow.closedAt, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 10_000))]);
      assert.ok(at - t0 < 5000, `cut after ${(at - t0).toFixed(0)} ms`);
    } finally {
      clearInterval(drip);
    }
    // A keep-alive connection: one request answered, then silence: the server closes it.
    const ka = rawSocket(port);
    ka.socket.write("GET /health HTTP/1.1\r\nHost: glossa\r\nConnection: keep-alive\r\n\r\n");
    const answered = performance.now();
    const closedAt = await Promise.race([ka.closedAt, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 10_000))]);
    assert.match(ka.data(), /^HTTP\/1\.1 200/);
    assert.ok(closedAt - answered < 3000, `idle keep-alive closed after ${(closedAt - answered).toFixed(0)} ms`);
  });
});

test("connections past GLOSSA_MAX_CONNECTIONS are closed at once; the server serves again when they go", { skip: modelSkip, timeout: 60_000 }, async () => {
  await backend.with({ maxConnections: 20, headersTimeoutMs: 20_000, receiveTimeoutMs: 20_000 }, async (url) => {
    const port = Number(new URL(url).port);
    const held = Array.from({ length: 20 }, () => rawSocket(port));
    await Promise.all(held.map((s) => new Promise((r) => s.socket.once("connect", r))));
    await new Promise((r) => setTimeout(r, 100));
    const extra = Array.from({ length: 10 }, () => rawSocket(port));
    const t0 = performance.now();
    const cut = await Promise.race([Promise.all(extra.map((s) => s.closedAt)), new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
    assert.ok(cut, "the connections past the cap were closed");
    assert.ok(Math.max(...cut) - t0 < 5000, `closed after ${(Math.max(...cut) - t0).toFixed(0)} ms`);
    assert.ok(held.every((s) => !s.socket.destroyed), "the first 20 stay");
    for (const s of held) s.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fetch(`${url}/health`)).status, 200);
  });
});
