/**
 * Fuzzing POST /translate with a few hundred malformed bodies (seeded, reproducible): random bytes, invalid
 * UTF-8, deep nesting, huge numbers, wrong types, huge arrays, wrong content types, garbage forms, odd Unicode,
 * and raw malformed HTTP on a socket. Every answer must be a JSON {error} 4xx (or a 200 when the input happened
 * to be valid), never a 5xx, and the server must still translate a valid request afterwards.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { modelDir } from "../src/config.js";
import { startServer, type RunningServer } from "../src/server/server.js";
import { defaultSettings } from "../src/server/settings.js";
import { mulberry32 } from "./helpers/prng.js";

const MODEL = modelDir();
const skip = existsSync(join(MODEL, "config.json")) ? false : `no model at ${MODEL}`;

let server: RunningServer;
before(async () => {
  if (skip) return;
  server = await startServer({
    settings: {
      ...defaultSettings(),
      port: 0,
      threads: 2,
      modelDir: MODEL,
      maxBodyBytes: 256 * 1024,
      maxNewTokens: 16,
      dbPath: join(MODEL, "no-registry.sqlite"), // reference engine only
    },
  });
  await server.ready;
});
after(async () => server?.close(0));


interface Case {
  name: string;
  body: string | Uint8Array;
  contentType?: string | undefined;
}

const VALID = { text: "Hello.", source_lang: "en", target_lang: "de", options: { max_new_tokens: 6 } };

function cases(): Case[] {
  const rnd = mulberry32(20261121);
  const int = (n: number) => Math.floor(rnd() * n);
  const out: Case[] = [];
  const json = "application/json";

  for (let i = 0; i < 60; i++) {
    const bytes = Uint8Array.from({ length: int(2000) }, () => int(256));
    out.push({ name: `random bytes ${i}`, body: bytes, contentType: json });
  }
  const invalidUtf8 = [[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xf0, 0x28, 0x8c, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80]];
  for (let i = 0; i < 28; i++) {
    const bad = invalidUtf8[i % invalidUtf8.length]!;
    const pre = new TextEncoder().encode('{"q":"ab');
    const post = new TextEncoder().encode('","source":"en","target":"de"}');
    out.push({ name: `invalid utf-8 ${i}`, body: Uint8Array.from([...pre, ...bad, ...post]), contentType: i % 2 ? json : undefined });
  }
  for (const depth of [33, 100, 1000, 10_000, 100_000]) {
    out.push({ name: `deep arrays ${depth}`, body: "[".repeat(depth) + "]".repeat(depth), contentType: json });
    out.push({ name: `deep objects ${depth}`, body: '{"a":'.repeat(depth) + "1" + "}".repeat(depth), contentType: json });
    out.push({ name: `deep unclosed ${depth}`, body: "[".repeat(depth), contentType: json });
    out.push({ name: `deep text ${depth}`, body: `{"text":${"[".repeat(depth)}"x"${"]".repeat(depth)},"source_lang":"en","target_lang":"de"}`, contentType: json });
    out.push({ name: `deep options ${depth}`, body: `{"text":"x","source_lang":"en","target_lang":"de","options":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`, contentType: json });
  }
  const numbers = ["1e308", "-1e308", "1e999", "-1e999", "9007199254740993", "-0", "0.0000001", "1.5", "-1", "0", "123456789012345678901234567890", "2e-400"];
  for (const n of numbers) {
    for (const field of ["beam_size", "max_new_tokens", "length_penalty", "no_repeat_ngram_size", "repetition_penalty", "timeout_ms"]) {
      out.push({
        name: `number ${field}=${n}`,
        body: `{"text":"Hi.","source_lang":"en","target_lang":"de","options":{"max_new_tokens":6,"${field}":${n}}}`.replace(
          field === "max_new_tokens" ? '"max_new_tokens":6,' : "\u0000",
          "",
        ),
        contentType: json,
      });
    }
    out.push({ name: `number as text ${n}`, body: `{"text":${n},"source_lang":"en","target_lang":"de"}`, contentType: json });
  }
  const weird: unknown[] = [null, true, false, 0, -1, 1e308, "", "x".repeat(5000), [], [1, 2], {}, { a: 1 }, ["en"], "\u0000", "auto"];
  for (const field of ["text", "source_lang", "target_lang", "options"]) {
    for (const v of weird) {
      out.push({ name: `glossa ${field}=${JSON.stringify(v).slice(0, 20)}`, body: JSON.stringify({ ...VALID, [field]: v }), contentType: json });
    }
  }
  for (const field of ["q", "source", "target", "format", "api_key"]) {
    for (const v of weird.slice(0, 10)) {
      out.push({ name: `libre ${field}=${JSON.stringify(v).slice(0, 20)}`, body: JSON.stringify({ q: "Hi.", source: "en", target: "de", [field]: v }), contentType: json });
    }
  }
  out.push({ name: "huge numeric array", body: JSON.stringify({ text: Array.from({ length: 30_000 }, (_, i) => i), source_lang: "en", target_lang: "de" }), contentType: json });
  out.push({ name: "huge empty-string array", body: JSON.stringify({ q: Array.from({ length: 20_000 }, () => ""), source: "en", target: "de" }), contentType: json });
  out.push({ name: "129 texts", body: JSON.stringify({ q: Array.from({ length: 129 }, () => "a"), source: "en", target: "de" }), contentType: json });
  out.push({ name: "huge key count", body: JSON.stringify(Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]))), contentType: json });
  out.push({ name: "too many chars", body: JSON.stringify({ q: ["a".repeat(40_000), "b".repeat(40_000)], source: "en", target: "de" }), contentType: json });
  out.push({ name: "body over limit", body: "x".repeat(300 * 1024), contentType: json });
  const types = ["text/html", "multipart/form-data; boundary=xyz", "application/octet-stream", "image/png", "application/xml", "text/csv", "application/json-seq; x", "*/*", ";;;", "application/x-www-form-urlencoded"];
  for (const t of types) {
    out.push({ name: `content-type ${t}`, body: JSON.stringify(VALID), contentType: t });
    out.push({ name: `content-type ${t} garbage`, body: "--xyz\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nhi\r\n--xyz--", contentType: t });
  }
  for (const f of ["%", "q=%E0%A4%A", "q[]=1&q[]=2", "=&=&=", "q=hi&source=en", "q=hi&source=en&target=xx", "q=&source=en&target=de", "&&&&", "q=hi&source=en&target=de&format=pdf", "target=de"]) {
    out.push({ name: `form ${f}`, body: f, contentType: "application/x-www-form-urlencoded" });
  }
  const odd = ["\ud800", "\udfff abc", "a\u0000b", "\u202e\u202dtext", "🙂🙂🙂", "e\u0301\u0301\u0301", "\uffff\ufffe", "Ω≈ç√∫˜µ≤≥÷", "\t\t\t.", "...!!!???"];
  for (const s of odd) {
    out.push({ name: `odd text ${JSON.stringify(s)}`, body: JSON.stringify({ ...VALID, text: s }), contentType: json });
  }
  for (let i = 0; i < 20; i++) {
    // Valid JSON text, truncated at a random point.
    const s = JSON.stringify({ q: ["One.", "Two."], source: "en", target: "de" });
    out.push({ name: `truncated ${i}`, body: s.slice(0, int(s.length)), contentType: json });
  }
  return out;
}

const OK_STATUSES = new Set([200, 400, 404, 405, 413, 415, 429]);

async function send(base: string, c: Case): Promise<void> {
  const headers: Record<string, string> = {};
  if (c.contentType !== undefined) headers["content-type"] = c.contentType;
  const res = await fetch(`${base}/translate`, { method: "POST", headers, body: c.body });
  const text = await res.text();
  assert.ok(OK_STATUSES.has(res.status), `${c.name}: status ${res.status} ${text.slice(0, 200)}`);
  let json: { error?: unknown };
  try {
    json = JSON.parse(text) as { error?: unknown };
  } catch {
    assert.fail(`${c.name}: answer is not JSON: ${text.slice(0, 200)}`);
  }
  if (res.status !== 200) assert.equal(typeof json.error, "string", `${c.name}: JSON {error}`);
}

/** Raw bytes on a TCP connection, then end of input; resolves when the server closes the connection (or after 2 s). */
function raw(port: number, data: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    let got = "";
    const done = () => {
      sock.destroy();
      resolve(got);
    };
    sock.on("data", (d) => (got += d.toString("latin1")));
    sock.on("error", done);
    sock.on("close", done);
    sock.setTimeout(2000, done);
    sock.end(data); // half-close: a request whose body is cut short ends here
  });
}

test("a few hundred malformed bodies are answered with JSON errors; the server keeps serving", { skip }, async () => {
  const all = cases();
  assert.ok(all.length >= 300, `${all.length} cases`);
  for (let i = 0; i < all.length; i += 8) {
    await Promise.all(all.slice(i, i + 8).map((c) => send(server.url, c)));
  }
  const port = server.port;
  const rawCases: Array<string | Buffer> = [
    "GARBAGE\r\n\r\n",
    "POST /translate HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "POST /translate HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nContent-Type: application/json\r\n\r\n{\"q\":",
    "POST /translate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    `POST /translate HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`,
    "POST /translate HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]), // a TLS ClientHello start
    "POST /translate?x=%ZZ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
    "GET /%00%ff/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    "POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n",
  ];
  for (const r of rawCases) {
    const answer = await raw(port, r);
    assert.doesNotMatch(answer, /^HTTP\/1\.1 5\d\d/, `raw case answered 5xx: ${answer.slice(0, 100)}`);
  }

  assert.equal((await fetch(`${server.url}/health`)).status, 200);
  const res = await fetch(`${server.url}/translate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: "Good evening, my friends.", source_lang: "en", target_lang: "fr" }),
  });
  assert.equal(res.status, 200);
  const json = (await res.json()) as { translations: Array<{ text: string }> };
  assert.ok(json.translations[0]!.text.trim().length > 0);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.doesNotMatch(metrics, /status="5\d\d"/, "no request was answered 5xx");
  assert.match(metrics, /^glossa_kv_blocks_used 0$/m);
});
