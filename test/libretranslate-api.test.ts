/**
 * LibreTranslate compatibility beyond plain /translate: the `libretranslate` npm client, requests written as
 * LibreTranslate's API documentation shows them (JSON, form, multipart as its web page sends), alternatives from
 * the beam search's n-best list, /translate_file for .txt, .html and .srt, /frontend/settings.
 * Translations are compared with Glossa's own /translate answers for the same pieces of text.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { translate as libreTranslate } from "libretranslate";
import { wrapLines } from "../src/server/files.js";
import { glossaTranslate, postJson, request, SharedBackend, skipWithoutModel } from "./helpers/api-server.js";

const shared = new SharedBackend();
before(async () => {
  if (!skipWithoutModel) await shared.load();
});
after(() => shared.dispose());

function multipart(base: string, path: string, fields: Record<string, string>, file?: { name: string; content: string }): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (file) form.append("file", new Blob([file.content], { type: "application/octet-stream" }), file.name);
  return fetch(`${base}${path}`, { method: "POST", body: form });
}

describe("LibreTranslate clients and documented requests", { skip: skipWithoutModel }, () => {
  it("the libretranslate npm client translates, with and without auto", async () => {
    await shared.withServer({}, async (base) => {
      const [expected] = await glossaTranslate(base, ["Where is the train station?"], "en", "es");
      assert.equal(await libreTranslate({ query: "Where is the train station?", source: "en", target: "es", apiurl: base }), expected);
      assert.equal(await libreTranslate({ query: "Where is the train station?", target: "es", apiurl: base }), expected, "source defaults to auto");
    });
  });

  it("answers the requests of LibreTranslate's documentation (JSON, form, multipart)", async () => {
    await shared.withServer({}, async (base) => {
      const [hello] = await glossaTranslate(base, ["Hello!"], "en", "es");
      // POST /translate with a JSON body, as in the docs' fetch example.
      const json = await postJson(`${base}/translate`, { q: "Hello!", source: "en", target: "es", format: "text", api_key: "" });
      assert.deepEqual(json.json, { translatedText: hello });
      // The same as an HTML form / curl -d.
      const form = await request(`${base}/translate`, { method: "POST", body: new URLSearchParams({ q: "Hello!", source: "en", target: "es" }) });
      assert.deepEqual(form.json, { translatedText: hello });
      // Multipart, as LibreTranslate's web page sends FormData.
      const mp = await multipart(base, "/translate", { q: "Hello!", source: "en", target: "es", format: "text" });
      assert.equal(mp.status, 200);
      assert.deepEqual(await mp.json(), { translatedText: hello });
      const detect = await multipart(base, "/detect", { q: "Bonjour tout le monde" });
      assert.equal(((await detect.json()) as Array<{ language: string }>)[0]!.language, "fr");
      // Auto with a short text.
      const auto = await postJson(`${base}/translate`, { q: "Buenos días", source: "auto", target: "en" });
      assert.equal(auto.status, 200, JSON.stringify(auto.json));
      assert.equal(auto.json.detectedLanguage.language, "es");
      // Its error texts for the documented failures.
      const missing = await postJson(`${base}/translate`, { source: "en", target: "es" });
      assert.equal(missing.status, 400);
      assert.equal(typeof missing.json.error, "string");
      const badAlt = await postJson(`${base}/translate`, { q: "Hello!", source: "en", target: "es", alternatives: "many" });
      assert.deepEqual(badAlt.json, { error: "Invalid request: alternatives parameter is not a number" });
      const tooMany = await postJson(`${base}/translate`, { q: "Hello!", source: "en", target: "es", alternatives: 99 });
      assert.match(tooMany.json.error, /^Invalid request: alternatives parameter must be <= \d+$/);
    });
  });

  it("alternatives come from the n-best beams, distinct and different from the translation", async () => {
    await shared.withServer({}, async (base) => {
      const text = "The old man walked slowly to the market to buy some bread.";
      const a = await postJson(`${base}/translate`, { q: text, source: "en", target: "de", alternatives: 3 });
      assert.equal(a.status, 200, JSON.stringify(a.json));
      const alts = a.json.alternatives as string[];
      assert.ok(Array.isArray(alts) && alts.length >= 1 && alts.length <= 3, JSON.stringify(alts));
      assert.equal(new Set(alts).size, alts.length);
      assert.ok(!alts.includes(a.json.translatedText));
      // The main answer is the best of 4 beams: the same as asking Glossa for beam_size 4.
      const beam4 = await postJson(`${base}/translate`, { text, source_lang: "en", target_lang: "de", options: { beam_size: 4, alternatives: 3 } });
      assert.equal(beam4.json.translations[0].text, a.json.translatedText);
      assert.deepEqual(beam4.json.translations[0].alternatives, alts);
      // Batches answer one list per text; without the parameter there is no field.
      const batch = await postJson(`${base}/translate`, { q: [text, "Good night."], source: "en", target: "de", alternatives: 2 });
      assert.equal(batch.json.alternatives.length, 2);
      assert.ok(batch.json.alternatives.every((l: unknown) => Array.isArray(l)));
      const none = await postJson(`${base}/translate`, { q: text, source: "en", target: "de" });
      assert.equal(none.json.alternatives, undefined);
    });
  });

  it("/frontend/settings describes the server", async () => {
    await shared.withServer({ requireKeys: false }, async (base) => {
      const s = await request(`${base}/frontend/settings`);
      assert.equal(s.status, 200);
      assert.equal(s.json.charLimit, 30000);
      assert.equal(s.json.apiKeys, false);
      assert.deepEqual(s.json.supportedFilesFormat, [".txt", ".html", ".srt"]);
      assert.equal(s.json.alternatives, 7);
    });
  });
});

describe("/translate_file", { skip: skipWithoutModel }, () => {
  async function translateFile(base: string, name: string, content: string, source = "en", target = "de"): Promise<string> {
    const res = await multipart(base, "/translate_file", { source, target }, { name, content });
    const body = (await res.json()) as { translatedFileUrl?: string; error?: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.ok(body.translatedFileUrl?.startsWith(`${base}/download_file/`), body.translatedFileUrl);
    const file = await fetch(body.translatedFileUrl!);
    assert.equal(file.status, 200);
    assert.match(file.headers.get("content-disposition") ?? "", new RegExp(`filename="${name.replace(".", "\\.")}"`));
    return file.text();
  }

  it("translates .txt line by line, keeping blank lines and line endings", async () => {
    await shared.withServer({}, async (base) => {
      const content = "The weather is nice today.\r\n\r\n  We are going to the beach.\r\nBring a hat!\r\n";
      const out = await translateFile(base, "notes.txt", content);
      const lines = await glossaTranslate(base, ["The weather is nice today.", "  We are going to the beach.", "Bring a hat!"], "en", "de");
      assert.equal(out, `${lines[0]}\r\n\r\n${lines[1]}\r\n${lines[2]}\r\n`);
    });
  });

  it("translates .srt cue texts and keeps numbers and timing lines", async () => {
    await shared.withServer({}, async (base) => {
      const content = [
        "1", "00:00:01,000 --> 00:00:03,500", "Good morning, everyone.", "",
        "2", "00:00:04,000 --> 00:00:07,250", "Today we will learn", "how to cook rice.", "",
      ].join("\n");
      const out = (await translateFile(base, "lesson.srt", content)).split("\n");
      assert.deepEqual([out[0], out[1], out[3], out[4], out[5], out[8]], ["1", "00:00:01,000 --> 00:00:03,500", "", "2", "00:00:04,000 --> 00:00:07,250", ""]);
      const [first, second] = await glossaTranslate(base, ["Good morning, everyone.", "Today we will learn how to cook rice."], "en", "de");
      assert.equal(out[2], first);
      assert.deepEqual([out[6], out[7]], wrapLines(second!, 2), "a two-line cue is translated as one sentence and wrapped back onto two lines");
      assert.equal(out.length, 9);
    });
  });

  it("translates .html keeping the markup", async () => {
    await shared.withServer({}, async (base) => {
      const content = "<!DOCTYPE html>\n<html><head><title>Menu</title></head><body><h1>Lunch</h1><p>Soup of the day</p></body></html>\n";
      const out = await translateFile(base, "menu.html", content);
      assert.match(out, /^<!DOCTYPE html>\n<html><head><title>.*<\/title><\/head><body><h1>.*<\/h1><p>.*<\/p><\/body><\/html>\n$/s);
      const [soup] = await glossaTranslate(base, ["Soup of the day"], "en", "de");
      assert.ok(out.includes(`<p>${soup}</p>`), out);
    });
  });

  it("refuses what LibreTranslate refuses, in its words", async () => {
    await shared.withServer({}, async (base) => {
      const noFile = await multipart(base, "/translate_file", { source: "en", target: "de" });
      assert.deepEqual(await noFile.json(), { error: "Invalid request: missing file parameter" });
      const pdf = await multipart(base, "/translate_file", { source: "en", target: "de" }, { name: "a.pdf", content: "%PDF" });
      assert.equal(pdf.status, 400);
      assert.match(((await pdf.json()) as { error: string }).error, /^Invalid request: file format not supported/);
      const lang = await multipart(base, "/translate_file", { source: "en", target: "xx" }, { name: "a.txt", content: "Hi" });
      assert.deepEqual(await lang.json(), { error: "xx is not supported" });
      const srt = await multipart(base, "/translate_file", { source: "en", target: "de" }, { name: "a.srt", content: "no timing here" });
      assert.equal(srt.status, 400);
      assert.equal((await fetch(`${base}/download_file/..%2F..%2Fetc%2Fpasswd`)).status, 400);
      assert.equal((await fetch(`${base}/download_file/00000000-0000-0000-0000-000000000000.a.txt`)).status, 404);
      // Auto-detected source for a file.
      const auto = await multipart(base, "/translate_file", { source: "auto", target: "en" }, { name: "b.txt", content: "Der Hund schläft im Haus.\n" });
      assert.equal(auto.status, 200);
    });
  });
});
