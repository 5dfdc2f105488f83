/**
 * Unit tests of the server's pure parts (no engine): sentence splitting and rejoining, request validation,
 * body handling, settings.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { planText, renderText, splitSentences, splitToFit, segmentCount, timeSlicer } from "../src/server/segment.js";
import { parseTranslateBody, decodeOptionsFor, type RequestLimits } from "../src/server/translate-request.js";
import { bodyFormat, decodeUtf8, parseFormBody, parseJsonBody, readBodyBytes } from "../src/server/body.js";
import { HttpError } from "../src/server/http-error.js";
import { DEVICE_DEFAULTS, loadSettings, SettingsError } from "../src/server/settings.js";
import { DEFAULT_DECODE_OPTIONS } from "../src/engine/types.js";

const LIMITS: RequestLimits = { maxTexts: 4, maxChars: 100, maxBeam: 4, maxNewTokens: 200 };

function httpStatus(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HttpError, `expected HttpError, got ${String(err)}`);
    return err.status;
  }
  assert.fail("expected an HttpError");
}

test("sentences split on Latin, CJK, Devanagari and Arabic terminators, not on abbreviations or decimals", () => {
  assert.deepEqual(splitSentences("Dr. Smith arrived at 3.30 p.m. today. Was he late? No!  He was early."), [
    "Dr. Smith arrived at 3.30 p.m. today.",
    "Was he late?",
    "No!",
    "He was early.",
  ]);
  assert.deepEqual(splitSentences("我们走吧。你来吗？好的！"), ["我们走吧。", "你来吗？", "好的！"]);
  assert.deepEqual(splitSentences("वह घर गया। मैं यहाँ हूँ।"), ["वह घर गया।", "मैं यहाँ हूँ।"]);
  assert.deepEqual(splitSentences("هل أنت بخير؟ نعم."), ["هل أنت بخير؟", "نعم."]);
  assert.deepEqual(splitSentences('He said "stop." Then he left.'), ['He said "stop."', "Then he left."]);
  assert.deepEqual(splitSentences("No terminator here"), ["No terminator here"]);
});

test("lines too long for the model are split to fit, and every piece fits", async () => {
  const fits = (s: string) => s.length <= 20;
  const pieces = await splitToFit("A short one. This sentence is far too long to fit, so it is cut at the comma.", fits);
  assert.ok(pieces.every(fits), JSON.stringify(pieces));
  assert.equal(pieces[0], "A short one.");
  assert.equal(pieces.join(" ").replace(/\s+/g, " "), "A short one. This sentence is far too long to fit, so it is cut at the comma.");
  const cjk = await splitToFit("一".repeat(50), fits);
  assert.ok(cjk.every(fits));
  assert.equal(cjk.join(""), "一".repeat(50));
});

test("cutting a long text yields to the event loop between tokenizer calls", async () => {
  let ticked = false;
  let sawTick = false;
  setImmediate(() => (ticked = true));
  const slowFits = (s: string) => {
    const end = performance.now() + 3; // a slow tokenizer call
    while (performance.now() < end);
    if (ticked) sawTick = true;
    return s.length <= 10;
  };
  const plan = await planText("x".repeat(300), slowFits, timeSlicer(5));
  assert.ok(plan.lines[0]!.segments.every((p) => p.length <= 10));
  assert.equal(plan.lines[0]!.segments.join(""), "x".repeat(300));
  assert.ok(sawTick, "other work ran while the text was being cut");
});

test("plans keep blank lines and surrounding whitespace; rendering rejoins in order", async () => {
  const plan = await planText("  First line.\n\n\r\nSecond. Third.  ", (s) => s.length <= 8);
  assert.equal(segmentCount(plan), 4);
  const out = renderText(plan, ["A", "B", "C", "D"], " ");
  assert.equal(out, "  A B\n\n\nC D  ");
  const whole = await planText("Short.", () => true);
  assert.deepEqual(whole.lines.map((l) => l.segments), [["Short."]]);
  assert.equal(renderText(await planText("一。二。", (s) => s.length < 3), ["One.", "Two."], ""), "One.Two.");
});

test("both request shapes parse; codes in ISO or mBART form; single string vs array is remembered", () => {
  const g = parseTranslateBody(
    { text: ["a", "b"], source_lang: "de", target_lang: "zh_CN", options: { beam_size: 2, max_new_tokens: 10, stream: true } },
    LIMITS,
  );
  assert.equal(g.shape, "glossa");
  assert.equal(g.single, false);
  assert.equal(g.source?.iso, "de");
  assert.equal(g.target.iso, "zh");
  assert.deepEqual(g.overrides, { beamSize: 2, maxNewTokens: 10 });
  assert.equal(g.stream, true);
  const l = parseTranslateBody({ q: "hola", source: "ES", target: "en-XX".replace("-XX", ""), format: "html", api_key: "k" }, LIMITS);
  assert.equal(l.shape, "libre");
  assert.equal(l.single, true);
  assert.equal(l.format, "html");
  assert.equal(parseTranslateBody({ q: "x", source: "auto", target: "en" }, LIMITS).source, undefined);
});

test("invalid requests are 400 (413 for too many characters) with a message", () => {
  const ok = { text: "hi", source_lang: "en", target_lang: "de" };
  assert.equal(httpStatus(() => parseTranslateBody([], LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody(null, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({}, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, q: "x" }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, text: 5 }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, text: ["a", 3] }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, text: [] }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, text: "   " }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, text: ["a", "b", "c", "d", "e"] }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, text: "x".repeat(101) }, LIMITS)), 413);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, source_lang: "xx" }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, target_lang: "auto" }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, target_lang: 7 }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, options: [] }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, options: { beam: 2 } }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, options: { beam_size: 1.5 } }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, options: { beam_size: 1e308 } }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, options: { max_new_tokens: 201 } }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, options: { repetition_penalty: 0 } }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ ...ok, options: { stream: "yes" } }, LIMITS)), 400);
  assert.equal(httpStatus(() => parseTranslateBody({ q: "x", source: "en", target: "de", format: "pdf" }, LIMITS)), 400);
});

test("decode options: adaptive max_new_tokens unless the client chose, capped", () => {
  assert.equal(decodeOptionsFor(DEFAULT_DECODE_OPTIONS, {}, 10, 500).maxNewTokens, 36);
  assert.equal(decodeOptionsFor(DEFAULT_DECODE_OPTIONS, {}, 1000, 500).maxNewTokens, 500);
  const o = decodeOptionsFor(DEFAULT_DECODE_OPTIONS, { maxNewTokens: 7, beamSize: 3 }, 10, 500);
  assert.equal(o.maxNewTokens, 7);
  assert.equal(o.beamSize, 3);
  assert.equal(o.repetitionPenalty, DEFAULT_DECODE_OPTIONS.repetitionPenalty);
});

test("body helpers: size limit while streaming, UTF-8, JSON depth, content types, forms", async () => {
  const big = new Request("http://x/", { method: "POST", body: new Uint8Array(5000) });
  await assert.rejects(readBodyBytes(big, 4096), (e: unknown) => e instanceof HttpError && e.status === 413);
  const chunked = new Request("http://x/", {
    method: "POST",
    body: new ReadableStream({
      pull(c) {
        c.enqueue(new Uint8Array(1024)); // never ends: the reader must stop at the limit
      },
    }),
    duplex: "half",
  } as RequestInit);
  await assert.rejects(readBodyBytes(chunked, 10_000), (e: unknown) => e instanceof HttpError && e.status === 413);
  const small = new Request("http://x/", { method: "POST", body: "héllo" });
  assert.equal(decodeUtf8(await readBodyBytes(small, 100)), "héllo");
  assert.equal(httpStatus(() => decodeUtf8(Uint8Array.from([0x22, 0xff, 0x22]))), 400);
  assert.equal(httpStatus(() => parseJsonBody("[".repeat(1000) + "]".repeat(1000))), 400);
  assert.equal(httpStatus(() => parseJsonBody("")), 400);
  assert.deepEqual(parseJsonBody('{"a":"[[["}'), { a: "[[[" });
  assert.equal(bodyFormat(null, "{}"), "json");
  assert.equal(bodyFormat("application/json; charset=utf-8", "{}"), "json");
  assert.equal(bodyFormat("application/x-www-form-urlencoded", "q=a"), "form");
  assert.equal(bodyFormat("application/x-www-form-urlencoded", '{"q":1}'), "json");
  assert.equal(httpStatus(() => bodyFormat("application/xml", "<a/>")), 415);
  assert.deepEqual({ ...parseFormBody("q=a&q=b&source=en") }, { q: ["a", "b"], source: "en" });
});

test("settings: env then flags, validated", () => {
  const s = loadSettings({ PORT: "9000", GLOSSA_THREADS: "2", GLOSSA_QUEUE_SIZE: "5" }, ["--threads", "3", "--max-texts=7"]);
  assert.equal(s.port, 9000);
  assert.equal(s.threads, 3);
  assert.equal(s.queueSize, 5);
  assert.equal(s.maxTexts, 7);
  assert.throws(() => loadSettings({ GLOSSA_THREADS: "two" }, []), SettingsError);
  assert.throws(() => loadSettings({ GLOSSA_THREADS: "0" }, []), SettingsError);
  assert.throws(() => loadSettings({}, ["--bogus", "1"]), SettingsError);
  assert.throws(() => loadSettings({}, ["--port"]), SettingsError);
});

test("settings: GLOSSA_DEVICE / --device, GLOSSA_CUDA_COMPUTE, GLOSSA_KV_MEMORY_FRACTION", () => {
  const d = loadSettings({}, []);
  assert.equal(d.device, "cpu");
  assert.equal(d.kvMemoryFraction, 0.9);
  const s = loadSettings({ GLOSSA_DEVICE: "cuda", GLOSSA_KV_MEMORY_FRACTION: "0.5" }, ["--device", "cuda:1", "--cuda-compute=f32"]);
  assert.equal(s.device, "cuda:1");
  assert.equal(s.cudaCompute, "f32");
  assert.equal(s.kvMemoryFraction, 0.5);
  assert.throws(() => loadSettings({ GLOSSA_DEVICE: "gpu" }, []), /cpu, cuda or cuda:N/);
  // Batch defaults follow the device unless given.
  assert.equal(d.maxBatch, 32);
  assert.equal(d.encodeTokenBudget, 512);
  assert.equal(s.maxBatch, DEVICE_DEFAULTS.maxBatch);
  assert.equal(s.encodeTokenBudget, DEVICE_DEFAULTS.encodeTokenBudget);
  const pinned = loadSettings({ GLOSSA_DEVICE: "cuda", GLOSSA_MAX_BATCH: "48" }, ["--encode-token-budget", "700"]);
  assert.equal(pinned.maxBatch, 48);
  assert.equal(pinned.encodeTokenBudget, 700);
  assert.throws(() => loadSettings({}, ["--kv-memory-fraction", "1.5"]), /\(0, 1\]/);
  assert.throws(() => loadSettings({}, ["--kv-memory-fraction", "0"]), SettingsError);
  assert.throws(() => loadSettings({}, ["--cuda-compute", "f8"]), SettingsError);
});
