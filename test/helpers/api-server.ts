/**
 * For the API-compatibility tests (DeepL, LibreTranslate, keys, CORS, OpenAPI): one engine loaded per test file
 * and shared by the servers it starts, one server at a time, and small request helpers.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunningServer } from "../../src/server/server.js";
import type { ServerSettings } from "../../src/server/settings.js";
import { modelSkip, SharedBackend as HttpSharedBackend } from "./http.js";

/** Why the model-backed tests skip, or false when the model is here. */
export const skipWithoutModel = modelSkip;

/** test/helpers/http.ts's shared backend, with a temporary folder and no engine registry lookups. */
export class SharedBackend {
  private readonly inner = new HttpSharedBackend();
  readonly tmp = mkdtempSync(join(tmpdir(), "glossa-api-"));

  async load(): Promise<void> {
    await this.inner.get();
  }

  withServer<T>(over: Partial<ServerSettings>, fn: (base: string, s: RunningServer) => Promise<T>): Promise<T> {
    return this.inner.with(over, fn, { engineLookup: null });
  }

  async dispose(): Promise<void> {
    await this.inner.dispose();
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

export interface Answer {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

/** A request whose answer must be JSON (asserted). */
export async function request(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    assert.fail(`answer is not JSON (status ${res.status}): ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, json, text };
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return request(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

export function postForm(url: string, fields: Array<[string, string]>, headers: Record<string, string> = {}): Promise<Answer> {
  return request(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Glossa-shape translations (the reference the compatibility routes must equal). */
export async function glossaTranslate(base: string, text: string[], source: string, target: string, headers: Record<string, string> = {}): Promise<string[]> {
  const a = await postJson(`${base}/translate`, { text, source_lang: source, target_lang: target }, headers);
  assert.equal(a.status, 200, JSON.stringify(a.json));
  return (a.json.translations as Array<{ text: string }>).map((t) => t.text);
}
