/**
 * Helpers for tests that drive a real server over HTTP: settings for an ephemeral port on the shipped model,
 * JSON posting, error assertions, and one loaded backend per test file.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { modelDir } from "../../src/config.js";
import { loadBackend, startServer, type Backend, type RunningServer, type StartOptions } from "../../src/server/server.js";
import { defaultSettings, type ServerSettings } from "../../src/server/settings.js";

export const MODEL = modelDir();
/** `skip` option for node:test when the shipped model is absent. */
export const modelSkip: string | false = existsSync(join(MODEL, "config.json")) ? false : `no model at ${MODEL}`;

export function testSettings(over: Partial<ServerSettings> = {}): ServerSettings {
  // No registry file: only the reference engine is served. beamSize 1: these tests were written for greedy
  // decoding (per-step streaming, fast); the model's own defaults (beam 4) are tested in generation-defaults.test.ts.
  return { ...defaultSettings(), port: 0, host: "127.0.0.1", threads: 2, modelDir: MODEL, dbPath: join(MODEL, "no-registry.sqlite"), beamSize: 1, ...over };
}

export interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

export async function postJson(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = { "content-type": "application/json" },
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers,
    body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    assert.fail(`answer is not JSON (status ${res.status}): ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, json };
}

export function assertError(a: Answer, status: number, pattern?: RegExp): void {
  assert.equal(a.status, status, JSON.stringify(a.json));
  assert.equal(typeof a.json.error, "string", "error answers are JSON {error}");
  if (pattern) assert.match(a.json.error, pattern);
}

/**
 * One backend (engine + tokenizer) loaded lazily and shared by the servers a test file starts, one at a time
 * (two schedulers must never step one engine: each server is closed before the next starts).
 */
export class SharedBackend {
  private backend: Promise<Backend> | undefined;

  get(): Promise<Backend> {
    this.backend ??= loadBackend(testSettings());
    return this.backend;
  }

  /** Starts a server on the shared backend, runs fn, closes the server. */
  async with<T>(
    over: Partial<ServerSettings>,
    fn: (base: string, s: RunningServer) => Promise<T>,
    extra: Omit<StartOptions, "settings" | "backend"> = {},
  ): Promise<T> {
    const s = await startServer({ settings: testSettings(over), backend: await this.get(), ...extra });
    try {
      await s.ready;
      return await fn(s.url, s);
    } finally {
      await s.close(0);
    }
  }

  async dispose(): Promise<void> {
    if (this.backend) await (await this.backend).dispose?.();
  }
}
