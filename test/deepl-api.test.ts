/**
 * DeepL API v2 compatibility, driven by DeepL's own Node client (deepl-node) with serverUrl pointed at a Glossa
 * server, plus raw requests for what the client checks before sending. Translations must equal what Glossa's
 * own /translate answers for the same texts (same engine, same segmentation).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as deepl from "deepl-node";
import { openRegistry } from "../src/storage/db.js";
import { createApiKey, revokeApiKey } from "../src/storage/keys.js";
import { DEEPL_UNLIMITED } from "../src/server/routes/deepl.js";
import { glossaTranslate, postForm, postJson, request, SharedBackend, skipWithoutModel } from "./helpers/api-server.js";

const shared = new SharedBackend();
before(async () => {
  if (!skipWithoutModel) await shared.load();
});
after(() => shared.dispose());

const client = (base: string, key = "any-key", maxRetries = 0): deepl.Translator =>
  new deepl.Translator(key, { serverUrl: base, maxRetries, minTimeout: 30_000 });

describe("DeepL API v2 (keys not required)", { skip: skipWithoutModel }, () => {
  it("translateText single and batch equal Glossa's own translations", async () => {
    await shared.withServer({}, async (base) => {
      const t = client(base);
      const texts = ["The weather is nice today.", "I would like a cup of coffee.", "Where is the train station?"];
      const expected = await glossaTranslate(base, texts, "en", "de");
      const one = await t.translateText(texts[0]!, "en", "de");
      assert.equal(one.text, expected[0]);
      assert.equal(one.detectedSourceLang, "en");
      assert.equal(one.billedCharacters, texts[0]!.length, "deepl-node asks for billed_characters");
      const batch = await t.translateText(texts, "en", "de");
      assert.deepEqual(batch.map((r) => r.text), expected);
      // DeepL's regional target codes map to the one English the model writes.
      const toEnglish = await glossaTranslate(base, ["Das Wetter ist heute schön."], "de", "en");
      for (const target of ["en-US", "en-GB"] as const) {
        assert.equal((await t.translateText("Das Wetter ist heute schön.", "de", target)).text, toEnglish[0]);
      }
      assert.equal((await t.translateText("你好，世界", "zh", "en-US")).detectedSourceLang, "zh");
    });
  });

  it("detects the source language when source_lang is omitted", async () => {
    await shared.withServer({}, async (base) => {
      const t = client(base);
      const r = await t.translateText("Der Hund und die Katze sind nicht im Haus.", null, "en-US");
      assert.equal(r.detectedSourceLang, "de");
      assert.equal(r.text, (await glossaTranslate(base, ["Der Hund und die Katze sind nicht im Haus."], "de", "en"))[0]);
    });
  });

  it("lists source and target languages in DeepL's form", async () => {
    await shared.withServer({}, async (base) => {
      const t = client(base);
      const sources = await t.getSourceLanguages();
      assert.deepEqual(sources.map((l) => l.code).sort(), ["ar", "de", "en", "es", "fr", "hi", "ru", "sw", "vi", "zh"]);
      assert.equal(sources.find((l) => l.code === "de")?.name, "German");
      const targets = await t.getTargetLanguages();
      const codes = targets.map((l) => l.code);
      for (const c of ["en-US", "en-GB", "de", "zh", "zh-HANS", "ar", "hi", "sw", "vi"]) assert.ok(codes.includes(c as deepl.TargetLanguageCode), c);
      assert.ok(!codes.includes("en" as deepl.TargetLanguageCode), "plain EN is not listed as a target (DeepL deprecated it)");
      assert.ok(targets.every((l) => l.supportsFormality === false));
      const bad = await request(`${base}/v2/languages?type=both`);
      assert.equal(bad.status, 400);
      assert.equal(bad.json.message, "Parameter 'type' is invalid. 'source' and 'target' are valid values.");
    });
  });

  it("reports the characters translated since start as usage without a limit", async () => {
    await shared.withServer({}, async (base) => {
      const t = client(base);
      await t.translateText(["Good morning.", "Thank you!"], "en", "fr");
      const usage = await t.getUsage();
      assert.equal(usage.character?.count, "Good morning.".length + "Thank you!".length);
      assert.equal(usage.character?.limit, DEEPL_UNLIMITED);
      assert.equal(usage.anyLimitReached(), false);
    });
  });

  it("answers formality and glossaries as DeepL does when they are unsupported", async () => {
    await shared.withServer({}, async (base) => {
      const t = client(base);
      await assert.rejects(t.translateText("Hello", "en", "de", { formality: "more" }), (e: Error) => {
        assert.ok(e instanceof deepl.DeepLError && !(e instanceof deepl.AuthorizationError));
        assert.match(e.message, /'formality' is not supported for given 'target_lang'\./);
        return true;
      });
      // prefer_* fall back to the default formality.
      const plain = await t.translateText("Hello", "en", "de");
      assert.equal((await t.translateText("Hello", "en", "de", { formality: "prefer_less" })).text, plain.text);
      await assert.rejects(t.translateText("Hello", "en", "de", { glossary: "b5a3cd43-1c2d-4b2c-a5d5-7e4d8d1c7a11" }), /Glossary not found/);
      const noSource = await postForm(`${base}/v2/translate`, [["text", "Hello"], ["target_lang", "DE"], ["glossary_id", "b5a3cd43-1c2d-4b2c-a5d5-7e4d8d1c7a11"]]);
      assert.equal(noSource.status, 400);
      assert.equal(noSource.json.message, "Use of a glossary requires the source_lang parameter to be specified");
      assert.deepEqual(await t.listGlossaries(), []);
    });
  });

  it("validates parameters with DeepL's wording (raw form and JSON requests)", async () => {
    await shared.withServer({}, async (base) => {
      const url = `${base}/v2/translate`;
      const cases: Array<[Array<[string, string]>, string]> = [
        [[["text", "Hello"], ["target_lang", "XX"]], "Value for 'target_lang' not supported."],
        [[["text", "Hello"], ["target_lang", "DE"], ["source_lang", "EN-US"]], "Value for 'source_lang' not supported."],
        [[["target_lang", "DE"]], "Parameter 'text' not specified."],
        [[["text", "Hello"]], "Parameter 'target_lang' not specified."],
        [[["text", "Hello"], ["target_lang", "DE"], ["tag_handling", "markdown"]], "Value for 'tag_handling' not supported."],
        [[["text", "Hello"], ["target_lang", "DE"], ["split_sentences", "2"]], "Value for 'split_sentences' not supported."],
        [[["text", "Hello"], ["target_lang", "ZH-HANT"]], "Value for 'target_lang' not supported."],
      ];
      for (const [fields, message] of cases) {
        const a = await postForm(url, fields);
        assert.equal(a.status, 400, JSON.stringify(fields));
        assert.deepEqual(a.json, { message, error: message });
      }
      // JSON bodies, as DeepL's current docs send them; unknown parameters are ignored.
      const j = await postJson(url, { text: ["Hello, world!", ""], target_lang: "de", source_lang: "en", context: "greeting", model_type: "quality_optimized" });
      assert.equal(j.status, 200, JSON.stringify(j.json));
      assert.equal(j.json.translations.length, 2);
      assert.equal(j.json.translations[0].text, (await glossaTranslate(base, ["Hello, world!"], "en", "de"))[0]);
      assert.deepEqual(j.json.translations[1], { detected_source_language: "EN", text: "" }, "an empty text translates to an empty text");
      assert.equal((await request(url)).status, 405);
      const tooMany = await postJson(url, { text: Array.from({ length: 200 }, () => "a"), target_lang: "DE" });
      assert.equal(tooMany.status, 413);
    });
  });

  it("keeps markup with tag_handling=html", async () => {
    await shared.withServer({}, async (base) => {
      const t = client(base);
      const r = await t.translateText("<p>The house is <b>big</b>.</p>", "en", "de", { tagHandling: "html" });
      assert.match(r.text, /^<p>.*<b>.*<\/b>.*<\/p>$/s);
      const [inner] = await glossaTranslate(base, ["The house is "], "en", "de");
      assert.ok(r.text.startsWith(`<p>${inner!.trimEnd()}`), r.text);
    });
  });
});

describe("DeepL API v2 with keys required", { skip: skipWithoutModel }, () => {
  it("refuses bad keys (403), enforces the monthly quota (456) and the minute (429), reports usage", async () => {
    const dbPath = join(shared.tmp, "deepl-keys.sqlite");
    const reg = await openRegistry({ path: dbPath });
    const quota = await createApiKey(reg.db, { name: "quota", charsPerMonth: 40 });
    const rpm = await createApiKey(reg.db, { name: "rpm", requestsPerMinute: 2 });
    const gone = await createApiKey(reg.db, { name: "revoked" });
    await revokeApiKey(reg.db, String(gone.row.id));
    await reg.close();
    await shared.withServer({ requireKeys: true, dbPath, adminKey: "the-admin-key" }, async (base) => {
      for (const key of ["glossa_not-a-key", gone.key, "the-admin-key"]) {
        await assert.rejects(client(base, key).translateText("Hello", "en", "de"), deepl.AuthorizationError, key);
        await assert.rejects(client(base, key).getUsage(), deepl.AuthorizationError);
      }
      const noKey = await postForm(`${base}/v2/translate`, [["text", "Hello"], ["target_lang", "DE"]]);
      assert.equal(noKey.status, 403);
      assert.match(noKey.json.message, /no key/);

      const t = client(base, quota.key);
      await t.translateText("Hello world", "en", "de"); // 11 characters
      let usage = await t.getUsage();
      assert.deepEqual([usage.character?.count, usage.character?.limit], [11, 40]);
      await assert.rejects(t.translateText("This sentence has thirty chars", "en", "de"), deepl.QuotaExceededError);
      usage = await t.getUsage();
      assert.equal(usage.character?.count, 11, "a refused request is not counted");
      const rest = "Good night and sleep well, ok";
      assert.equal(rest.length, 29);
      await t.translateText(rest, "en", "de"); // fits exactly: 11 + 29 = 40
      usage = await t.getUsage();
      assert.equal(usage.character?.count, 40);
      assert.equal(usage.anyLimitReached(), true);
      // The legacy auth_key parameter works too.
      const legacy = await postForm(`${base}/v2/usage`, [["auth_key", quota.key]]);
      assert.deepEqual(legacy.json, { character_count: 40, character_limit: 40 });

      const r = client(base, rpm.key);
      await r.translateText("One", "en", "de");
      await r.translateText("Two", "en", "de");
      await assert.rejects(r.translateText("Three", "en", "de"), deepl.TooManyRequestsError);
      const raw = await postForm(`${base}/v2/translate`, [["text", "Four"], ["target_lang", "DE"]], { authorization: `DeepL-Auth-Key ${rpm.key}` });
      assert.equal(raw.status, 429);
      const retry = Number(raw.headers.get("retry-after"));
      assert.ok(retry >= 1 && retry <= 60, `retry-after ${retry}`);
      // Listing languages and usage needs a valid key but uses no quota.
      assert.ok((await r.getSourceLanguages()).length > 0);
    });
  });
});
