/**
 * The HTTP API end to end: real engine, real model (models/glossa-mini-50), real server on an ephemeral port,
 * driven with fetch. One engine is loaded and shared by the servers started here (one at a time).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";
import { modelDir } from "../src/config.js";
import { Engine } from "../src/engine/engine.js";
import { loadBackend, startServer, type Backend, type RunningServer } from "../src/server/server.js";
import { defaultSettings, type ServerSettings } from "../src/server/settings.js";
import { postJson, type Answer } from "./helpers/http.js";

const MODEL = modelDir();
const skip = existsSync(join(MODEL, "config.json")) ? false : `no model at ${MODEL}`;

let backend: Backend;
let server: RunningServer;
let url: string;

function settings(over: Partial<ServerSettings> = {}): ServerSettings {
  // No registry file: only the reference engine is served (routing is tested with an explicit lookup).
  return { ...defaultSettings(), port: 0, host: "127.0.0.1", threads: 2, modelDir: MODEL, dbPath: join(MODEL, "no-registry.sqlite"), ...over };
}

before(async () => {
  if (skip) return;
  backend = await loadBackend(settings());
  server = await startServer({ settings: settings(), backend });
  await server.ready;
  url = server.url;
});
after(async () => {
  await server?.close(0);
  await backend?.dispose?.();
});

/** Starts another server on the shared engine with other settings; the main one must be idle meanwhile. */
async function withServer<T>(over: Partial<ServerSettings>, fn: (base: string, s: RunningServer) => Promise<T>, admin?: Hono): Promise<T> {
  await server.scheduler()?.whenIdle(); // two schedulers must never step the shared engine at once
  const s = await startServer({ settings: settings(over), backend, ...(admin ? { admin } : {}) });
  try {
    await s.ready;
    return await fn(s.url, s);
  } finally {
    await s.close(0);
  }
}

/** POST /translate (every request of this file goes there). */
function post(base: string, body: unknown, headers?: Record<string, string>): Promise<Answer> {
  return postJson(base, "/translate", body, headers);
}

async function translate(text: string | string[], source = "en", target = "de", options?: object): Promise<string[]> {
  const a = await post(url, { text, source_lang: source, target_lang: target, ...(options ? { options } : {}) });
  assert.equal(a.status, 200, JSON.stringify(a.json));
  return (a.json.translations as Array<{ text: string }>).map((t) => t.text);
}

async function metricsText(base = url): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

function metricValue(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

function assertError(a: Answer, status: number, pattern?: RegExp): void {
  assert.equal(a.status, status, JSON.stringify(a.json));
  assert.equal(typeof a.json.error, "string", "error answers are JSON {error}");
  if (pattern) assert.match(a.json.error, pattern);
}

const opts = { skip };

test("/health, /ready and /languages", opts, async () => {
  const health = await fetch(`${url}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
  const ready = await fetch(`${url}/ready`);
  assert.equal(ready.status, 200);
  const info = (await ready.json()) as { status: string; model: string; max_source_tokens: number; engines: string[] };
  assert.equal(info.status, "ready");
  assert.equal(info.model, "glossa-mini-50");
  assert.deepEqual(info.engines, ["glossa-mini-50"]);
  assert.ok(info.max_source_tokens > 0);
  const langs = (await (await fetch(`${url}/languages`)).json()) as Array<{ code: string; name: string; targets: string[] }>;
  assert.equal(langs.length, 10);
  const zh = langs.find((l) => l.code === "zh");
  assert.equal(zh?.name, "Chinese");
  assert.ok(zh?.targets.includes("en") && zh.targets.includes("sw"));
});

test("/ready answers 503 until the engine is loaded", opts, async () => {
  let release!: (b: Backend) => void;
  const pending = new Promise<Backend>((r) => (release = r));
  const s = await startServer({ settings: settings(), backend: pending });
  try {
    const early = await fetch(`${s.url}/ready`);
    assert.equal(early.status, 503);
    assert.equal(typeof ((await early.json()) as { error: unknown }).error, "string");
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
    const refused = await post(s.url, { text: "Hello.", source_lang: "en", target_lang: "de" });
    assertError(refused, 503);
    release(backend);
    await s.ready;
    assert.equal((await fetch(`${s.url}/ready`)).status, 200);
  } finally {
    await s.close(0);
  }
});

test("Glossa shape: single text and arrays, in order, ISO and mBART codes alike", opts, async () => {
  const a = await post(url, { text: "The weather is nice today.", source_lang: "en", target_lang: "de" });
  assert.equal(a.status, 200);
  assert.equal(a.json.translations.length, 1);
  const t = a.json.translations[0];
  assert.equal(typeof t.text, "string");
  assert.ok(t.text.trim().length > 0);
  assert.notEqual(t.text, "The weather is nice today.");
  assert.ok(t.tokens > 0);
  assert.ok(t.finish_reason === "eos" || t.finish_reason === "length");
  assert.equal(a.json.source_lang, "en");
  assert.equal(a.json.target_lang, "de");
  assert.equal(a.json.model, "glossa-mini-50");
  assert.equal(t.detected_source_language, undefined);

  const texts = ["I like green apples.", "Where is the train station?", "Thank you very much."];
  const alone = [];
  for (const x of texts) alone.push((await translate(x))[0]);
  assert.deepEqual(await translate(texts), alone);
  assert.deepEqual(await translate(texts[1]!, "en_XX", "de_DE"), [alone[1]]);
});

test("LibreTranslate shape: string in string out, array in array out; form bodies too", opts, async () => {
  const ref = (await translate(["Good morning.", "See you tomorrow."], "en", "fr")) as [string, string];
  const one = await post(url, { q: "Good morning.", source: "en", target: "fr", format: "text", api_key: "" });
  assert.equal(one.status, 200);
  assert.deepEqual(one.json, { translatedText: ref[0] });
  const many = await post(url, { q: ["Good morning.", "See you tomorrow."], source: "en", target: "fr_XX" });
  assert.deepEqual(many.json, { translatedText: ref });
  const form = await post(url, "q=Good+morning.&source=en&target=fr", { "content-type": "application/x-www-form-urlencoded" });
  assert.deepEqual(form.json, { translatedText: ref[0] });
});

test("LibreTranslate 'auto' source: detected by script or function words, 400 when unsure", opts, async () => {
  const ref = await translate("Der Hund schläft nicht im Haus.", "de", "en");
  const a = await post(url, { q: "Der Hund schläft nicht im Haus.", source: "auto", target: "en" });
  assert.equal(a.status, 200);
  assert.equal(a.json.translatedText, ref[0]);
  assert.equal(a.json.detectedLanguage.language, "de");
  const g = await post(url, { text: "这是我的书。", source_lang: "auto", target_lang: "en" });
  assert.equal(g.json.translations[0].detected_source_language, "zh");
  assertError(await post(url, { q: "12345 !!!", source: "auto", target: "de" }), 400, /detect/);
  const detect = await fetch(`${url}/detect`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ q: "Привет, как у тебя дела?" }),
  });
  assert.equal(detect.status, 200);
  const detections = (await detect.json()) as Array<{ language: string; confidence: number }>;
  assert.equal(detections[0]?.language, "ru");
  assert.ok(detections[0]!.confidence > 50);
});

test("HTML format: markup kept, text nodes translated", opts, async () => {
  const [hello] = await translate("Hello my friend", "en", "es");
  const a = await post(url, { q: '<p class="x">Hello my friend</p><code>x = 1</code>', source: "en", target: "es", format: "html" });
  assert.equal(a.status, 200);
  const html = a.json.translatedText as string;
  assert.ok(html.startsWith('<p class="x">') && html.endsWith("</p><code>x = 1</code>"), html);
  assert.equal(html.slice('<p class="x">'.length, -"</p><code>x = 1</code>".length), hello!.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"));
});

test("lines are translated separately, blank lines and indentation kept", opts, async () => {
  const [l1, l2] = await translate(["How are you?", "I am fine."], "en", "ru");
  const [joined] = await translate("How are you?\n\n  I am fine.\n", "en", "ru");
  assert.equal(joined, `${l1}\n\n  ${l2}\n`);
});

test("a line too long for the segment limit is split into sentences and rejoined", opts, async () => {
  const sentences = ["I like green apples.", "My brother likes red cherries.", "We eat fruit every day."];
  const alone = await translate(sentences, "en", "de");
  await withServer({ maxSegmentTokens: 12 }, async (base) => {
    const a = await post(base, { text: sentences.join(" "), source_lang: "en", target_lang: "de" });
    assert.equal(a.status, 200);
    assert.equal(a.json.translations[0].text, alone.join(" "));
    const zh = await post(base, { text: sentences.join(" "), source_lang: "en", target_lang: "zh" });
    const aloneZh = await translate(sentences, "en", "zh");
    assert.equal(zh.json.translations[0].text, aloneZh.join(""), "no spaces between Chinese sentences");
  });
});

test("a text longer than the model's positions is split, translated and rejoined", opts, async () => {
  const info = (await (await fetch(`${url}/ready`)).json()) as { max_source_tokens: number };
  const distinct = ["The sun is warm.", "Birds sing in the trees.", "Children play outside.", "The river is calm."];
  const options = { max_new_tokens: 16 };
  const alone = await translate(distinct, "en", "fr", options);
  const count = Math.ceil((info.max_source_tokens * 1.2) / 5); // each sentence is at least 5 tokens
  const text = Array.from({ length: count }, (_, i) => distinct[i % distinct.length]).join(" ");
  const [out] = await translate(text, "en", "fr", options);
  assert.equal(out, Array.from({ length: count }, (_, i) => alone[i % distinct.length]).join(" "));
});

test("SSE streaming: growing partial events, then a final event equal to the plain answer", opts, async () => {
  // Greedy grows the text at every step (beam search, the model's default, reports each finished segment).
  const [plain] = await translate("The children are playing in the garden.", "en", "es", { beam_size: 1 });
  const res = await fetch(`${url}/translate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: "The children are playing in the garden.", source_lang: "en", target_lang: "es", options: { stream: true, beam_size: 1 } }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const events = (await res.text())
    .split("\n\n")
    .filter((e) => e.trim() !== "")
    .map((e) => {
      const [ev, data] = e.split("\n");
      return { event: ev!.replace("event: ", ""), data: JSON.parse(data!.replace("data: ", "")) };
    });
  const partials = events.filter((e) => e.event === "partial");
  const done = events.at(-1)!;
  assert.equal(done.event, "done");
  assert.equal(done.data.translations[0].text, plain);
  assert.ok(partials.length >= 2, "several partial events");
  for (const p of partials) assert.equal(p.data.index, 0);
  assert.equal(partials.at(-1)!.data.text, plain);
});

test("invalid requests: 400 malformed JSON, wrong types, unknown language, empty text; 404/405", opts, async () => {
  assertError(await post(url, "{not json"), 400, /malformed JSON/);
  assertError(await post(url, "[1,2]"), 400, /JSON object/);
  assertError(await post(url, { text: 42, source_lang: "en", target_lang: "de" }), 400, /string/);
  assertError(await post(url, { text: ["ok", null], source_lang: "en", target_lang: "de" }), 400, /text\[1\]/);
  assertError(await post(url, { q: "hi", source: "en", target: ["de"] }), 400, /target/);
  assertError(await post(url, { text: "hi", source_lang: "en", target_lang: "de", options: { beam_size: "5" } }), 400, /beam_size/);
  assertError(await post(url, { text: "hi", source_lang: "en", target_lang: "de", options: { max_new_tokens: 1e9 } }), 400);
  assertError(await post(url, { text: "hi", source_lang: "en", target_lang: "de", options: { colour: 1 } }), 400, /unknown option/);
  assertError(await post(url, { text: "hi", source_lang: "en", target_lang: "tlh" }), 400, /unsupported language/);
  assertError(await post(url, { q: "hi", source: "xx_YY", target: "de" }), 400, /unsupported language/);
  assertError(await post(url, { text: "", source_lang: "en", target_lang: "de" }), 400, /empty/);
  assertError(await post(url, { q: "   \n ", source: "en", target: "de" }), 400, /empty/);
  assertError(await post(url, { q: [], source: "en", target: "de" }), 400, /empty/);
  assertError(await post(url, { source_lang: "en", target_lang: "de" }), 400, /missing/);
  assertError(await post(url, Uint8Array.from([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])), 400, /UTF-8/);
  assertError(await post(url, "<xml/>", { "content-type": "application/xml" }), 415);
  const get = await fetch(`${url}/translate`);
  assert.equal(get.status, 405);
  const missing = await fetch(`${url}/nope`);
  assert.equal(missing.status, 404);
  assert.equal(typeof ((await missing.json()) as { error: unknown }).error, "string");
});

test("413 for a body over the limit (declared or streamed) and for too many characters", opts, async () => {
  await withServer({ maxBodyBytes: 4096, maxChars: 500 }, async (base) => {
    assertError(await post(base, JSON.stringify({ q: "a".repeat(10_000), source: "en", target: "de" })), 413, /exceeds 4096 bytes/);
    // A chunked body without Content-Length that never ends: answered 413 once the limit is passed.
    const chunk = new TextEncoder().encode(" ".repeat(1024));
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(chunk);
      },
    });
    const res = await fetch(`${base}/translate`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: endless,
      duplex: "half",
      signal: AbortSignal.timeout(20_000),
    } as RequestInit);
    assert.equal(res.status, 413);
    assert.match(((await res.json()) as { error: string }).error, /exceeds 4096 bytes/);
    assertError(await post(base, { q: "a".repeat(600), source: "en", target: "de" }), 413, /characters/);
  });
});

test("429 with Retry-After when the queue is full", opts, async () => {
  await withServer({ queueSize: 2, maxBatch: 1 }, async (base) => {
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => post(base, { text: `Number ${i} is my favourite number.`, source_lang: "en", target_lang: "de" })),
    );
    const refused = answers.filter((a) => a.status === 429);
    assert.ok(refused.length > 0, "some requests were refused");
    for (const a of refused) {
      assertError(a, 429, /busy/);
      assert.match(a.headers.get("retry-after") ?? "", /^[1-9][0-9]*$/);
    }
    for (const a of answers) assert.ok(a.status === 200 || a.status === 429, `status ${a.status}`);
    const m = await metricsText(base);
    assert.equal(metricValue(m, 'glossa_translation_requests_total{outcome="queue_full"}'), refused.length);
  });
});

test("504 when a request passes its deadline; its blocks are freed", opts, async () => {
  const a = await post(url, {
    text: "This sentence takes more than one millisecond to translate.",
    source_lang: "en",
    target_lang: "de",
    options: { timeout_ms: 1 },
  });
  assertError(a, 504, /deadline/);
  await waitFor(async () => {
    const m = await metricsText();
    return metricValue(m, "glossa_running_sequences") === 0 && metricValue(m, "glossa_kv_blocks_used") === 0;
  });
  await withServer({ requestTimeoutMs: 1 }, async (base) => {
    assertError(await post(base, { q: "Slow enough to miss a one millisecond deadline.", source: "en", target: "de" }), 504);
  });
});

test("a client that disconnects cancels its work and frees its KV blocks (visible in /metrics)", opts, async () => {
  const before = await metricsText();
  const cancelledBefore = metricValue(before, 'glossa_translation_requests_total{outcome="cancelled"}');
  const ac = new AbortController();
  const texts = Array.from({ length: 12 }, (_, i) => `Story ${i}: the old fisherman walked slowly along the beach and looked at the boats, the birds and the clouds.`);
  const req = fetch(`${url}/translate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: texts, source_lang: "en", target_lang: "de" }),
    signal: ac.signal,
  }).then(
    () => "answered",
    () => "aborted",
  );
  await waitFor(async () => metricValue(await metricsText(), "glossa_kv_blocks_used") > 0);
  const during = await metricsText();
  assert.ok(metricValue(during, "glossa_running_sequences") > 0);
  ac.abort();
  assert.equal(await req, "aborted");
  await waitFor(async () => {
    const m = await metricsText();
    return (
      metricValue(m, "glossa_kv_blocks_used") === 0 &&
      metricValue(m, 'glossa_translation_requests_total{outcome="cancelled"}') === cancelledBefore + 1
    );
  });
  const after = await metricsText();
  assert.equal(metricValue(after, "glossa_running_sequences"), 0);
  assert.equal(metricValue(after, "glossa_kv_blocks_free"), metricValue(after, "glossa_kv_blocks_capacity"));
  // The engine still serves.
  assert.equal((await translate("Still here.")).length, 1);
});

test("/metrics: Prometheus text with requests by status, latency, queue, batches, tokens, KV blocks", opts, async () => {
  await translate("One more for the metrics.");
  await post(url, "{bad");
  const res = await fetch(`${url}/metrics`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const m = await res.text();
  assert.ok(metricValue(m, 'glossa_http_requests_total{route="/translate",method="POST",status="200"}') >= 1);
  assert.ok(metricValue(m, 'glossa_http_requests_total{route="/translate",method="POST",status="400"}') >= 1);
  assert.match(m, /# TYPE glossa_http_request_duration_seconds histogram/);
  assert.ok(metricValue(m, 'glossa_http_request_duration_seconds_count{route="/translate"}') >= 2);
  assert.match(m, /glossa_http_request_duration_seconds_bucket\{(le="\+Inf",route="\/translate"|route="\/translate",le="\+Inf")\} \d+/);
  assert.match(m, /^glossa_queue_depth 0$/m);
  assert.ok(metricValue(m, "glossa_batch_size_count") > 0);
  assert.ok(metricValue(m, "glossa_tokens_generated_total") > 0);
  assert.ok(metricValue(m, "glossa_source_tokens_encoded_total") > 0);
  assert.ok(metricValue(m, "glossa_kv_blocks_capacity") > 0);
  assert.equal(metricValue(m, "glossa_kv_blocks_used") + metricValue(m, "glossa_kv_blocks_free"), metricValue(m, "glossa_kv_blocks_capacity"));
  assert.equal(metricValue(m, "glossa_ready"), 1);
});

test("requests go to the released calibrated engine of their source language, else to the reference", opts, async () => {
  const [reference] = await translate("Bonjour mes amis.", "fr", "en");
  await server.scheduler()?.whenIdle();
  const loads: string[] = [];
  const s = await startServer({
    settings: settings(),
    backend,
    engineLookup: (iso) =>
      iso === "fr"
        ? { id: 7, name: "glossa-mini-50/int8-fr", file: "unused", recipe: "int8", decodeOptions: {} }
        : iso === "de"
          ? { id: 8, name: "glossa-mini-50/broken-de", file: "unused", recipe: "int8", decodeOptions: {} }
          : undefined,
    loadCalibrated: async (ref) => {
      loads.push(ref.name);
      if (ref.id === 8) throw new Error("engine file checksum mismatch");
      // Stands in for the calibrated file: a second engine instance of the same weights.
      const engine = await Engine.load({ modelDir: MODEL, threads: 2 });
      return { engine, tokenizer: backend.tokenizer, modelName: ref.name, dispose: () => engine.dispose() };
    },
    log: () => {},
  });
  try {
    await s.ready;
    const fr = await post(s.url, { text: "Bonjour mes amis.", source_lang: "fr", target_lang: "en" });
    assert.equal(fr.json.engine, "glossa-mini-50/int8-fr");
    assert.equal(fr.json.translations[0].text, reference, "same weights, same greedy output");
    const en = await post(s.url, { text: "Good night.", source_lang: "en", target_lang: "fr" });
    assert.equal(en.json.engine, "glossa-mini-50");
    const de = await post(s.url, { text: "Guten Morgen.", source_lang: "de", target_lang: "en" });
    assert.equal(de.status, 200);
    assert.equal(de.json.engine, "glossa-mini-50", "an engine that fails to load falls back to the reference");
    // fr -> es pivots: fr -> en on the French engine, en -> es on the reference.
    const pivoted = await post(s.url, { text: "Merci beaucoup.", source_lang: "fr", target_lang: "es" });
    assert.equal(pivoted.json.engine, "glossa-mini-50/int8-fr+glossa-mini-50");
    assert.deepEqual(loads, ["glossa-mini-50/int8-fr", "glossa-mini-50/broken-de"], "each engine loaded once");
    const ready = (await (await fetch(`${s.url}/ready`)).json()) as { engines: string[] };
    assert.deepEqual(ready.engines, ["glossa-mini-50", "glossa-mini-50/int8-fr"]);
    const m = await metricsText(s.url);
    assert.equal(metricValue(m, 'glossa_engine_requests_total{engine="glossa-mini-50/int8-fr"}'), 2);
    assert.equal(metricValue(m, 'glossa_engine_requests_total{engine="glossa-mini-50"}'), 3);
    assert.equal(metricValue(m, "glossa_kv_blocks_capacity"), 2 * metricValue(await metricsText(), "glossa_kv_blocks_capacity"));
  } finally {
    await s.close(0);
  }
});

test("/admin is mounted behind the admin key", opts, async () => {
  const admin = new Hono().get("/ping", (c) => c.json({ pong: true }));
  await withServer({ adminKey: "s3cret" }, async (base) => {
    assert.equal((await fetch(`${base}/admin/ping`)).status, 401);
    assert.equal((await fetch(`${base}/admin/ping`, { headers: { "x-admin-key": "wrong" } })).status, 403);
    const ok = await fetch(`${base}/admin/ping`, { headers: { authorization: "Bearer s3cret" } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { pong: true });
  }, admin);
  await withServer({}, async (base) => {
    assert.equal((await fetch(`${base}/admin/ping`, { headers: { "x-admin-key": "s3cret" } })).status, 404);
  }, admin);
  // By default the calibration-data routes are mounted there, behind the same key.
  await withServer({ adminKey: "s3cret" }, async (base) => {
    const anonymous = await fetch(`${base}/admin/calib-data`);
    assert.equal(anonymous.status, 401);
    assert.equal(typeof ((await anonymous.json()) as { error: unknown }).error, "string");
    assert.equal((await fetch(`${base}/admin/calib-data`, { headers: { authorization: "Bearer nope" } })).status, 403);
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail("condition not reached in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
