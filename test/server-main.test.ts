/**
 * The `npm start` entry point as a separate process: settings from env and flags, readiness, and graceful
 * shutdown on SIGTERM (a translation in flight still gets its answer, then the process exits 0).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { modelDir } from "../src/config.js";
import { entryCommand, spawnCapturing, waitForOutput, type CapturedProcess } from "./helpers/process.js";

const MODEL = modelDir();
const skip = existsSync(join(MODEL, "config.json")) ? false : `no model at ${MODEL}`;

function launch(env: Record<string, string>, args: string[] = []): CapturedProcess {
  return spawnCapturing([...entryCommand("server/main"), ...args], env);
}

test("invalid settings exit with status 2 and say why", async () => {
  const bad = launch({ GLOSSA_THREADS: "many" });
  assert.equal(await bad.exited, 2);
  assert.match(bad.output(), /GLOSSA_THREADS: expected a non-negative integer/);
  const flag = launch({}, ["--no-such-flag"]);
  assert.equal(await flag.exited, 2);
  assert.match(flag.output(), /unknown flag --no-such-flag/);
});

test("npm start serves on PORT, becomes ready, and SIGTERM lets a running translation finish", { skip }, async () => {
  const p = launch(
    { PORT: "0", GLOSSA_THREADS: "2", GLOSSA_MODEL: MODEL, GLOSSA_DB: join(MODEL, "no-registry.sqlite"), GLOSSA_SHUTDOWN_GRACE_MS: "60000" },
    ["--host", "127.0.0.1"],
  );
  try {
    const [, url] = await waitForOutput(p, /glossa listening on (http:\/\/[^\s]+)/);
    await waitForOutput(p, /glossa ready/);
    const ready = await fetch(`${url}/ready`);
    assert.equal(ready.status, 200);
    const inFlight = fetch(`${url}/translate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ q: ["The shop opens at nine.", "The library is closed on Sunday."], source: "en", target: "de" }),
    });
    // Signal once the translation is running.
    for (;;) {
      const m = await (await fetch(`${url}/metrics`)).text();
      if (/^glossa_running_sequences [1-9]/m.test(m) || /outcome="ok"\} 1/.test(m)) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    p.child.kill("SIGTERM");
    const res = await inFlight;
    assert.equal(res.status, 200);
    const body = (await res.json()) as { translatedText: string[] };
    assert.equal(body.translatedText.length, 2);
    assert.equal(await p.exited, 0);
    assert.match(p.output(), /shut down cleanly/);
    await assert.rejects(fetch(`${url}/health`));
  } finally {
    p.child.kill("SIGKILL");
  }
});
