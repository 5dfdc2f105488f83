/**
 * BCP-47 language tags (src/languages.ts parseLanguageTag) and their use at the HTTP boundary: regions are
 * accepted, case does not matter, mBART codes still work, unknown languages and scripts the model cannot write
 * (zh-Hant, zh-TW) are a clear 400.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { parseLanguageTag } from "../src/languages.js";
import { assertError, modelSkip, postJson, SharedBackend } from "./helpers/http.js";

function served(tag: string): string {
  const r = parseLanguageTag(tag);
  assert.ok(r.ok, `${tag}: ${r.ok ? "" : r.message}`);
  return r.language.iso;
}

function refused(tag: string, role: "source" | "target" = "target") {
  const r = parseLanguageTag(tag, role);
  assert.ok(!r.ok, `${tag} should be refused`);
  return r;
}

test("BCP-47 tags with regions, any case, ISO 639-2/3 aliases and mBART codes map to served languages", () => {
  assert.equal(served("en-US"), "en");
  assert.equal(served("EN-GB"), "en");
  assert.equal(served("en"), "en");
  assert.equal(served("zh-Hans"), "zh");
  assert.equal(served("ZH-HANS-cn"), "zh");
  assert.equal(served("zh-SG"), "zh"); // Singapore writes Simplified
  assert.equal(served("zh_CN"), "zh");
  assert.equal(served("en_XX"), "en");
  assert.equal(served("es-419"), "es");
  assert.equal(served("deu"), "de");
  assert.equal(served("zho"), "zh");
  assert.equal(served("cmn"), "zh");
});

test("parseLanguageTag reports the canonical tag and the region", () => {
  const r = parseLanguageTag("EN-gb");
  assert.ok(r.ok);
  assert.equal(r.tag, "en-GB");
  assert.equal(r.region, "GB");
  const m = parseLanguageTag(" de_DE ");
  assert.ok(m.ok);
  assert.equal(m.tag, "de-DE");
  const plain = parseLanguageTag("fr");
  assert.ok(plain.ok);
  assert.equal(plain.region, undefined);
});

test("scripts the model cannot write are refused, explicit or implied by the region", () => {
  for (const tag of ["zh-Hant", "ZH-HANT", "zh-TW", "zh-HK", "zh-Hant-CN", "zt", "ru-Latn", "hi-Latn"]) {
    const r = refused(tag);
    assert.equal(r.error, "unsupported_script", `${tag}: ${r.message}`);
  }
  const t = refused("zh-Hant");
  assert.match(t.message, /Traditional/);
  assert.match(t.message, /writes Chinese only in Simplified script \(zh-Hans\)/);
  assert.match(refused("zh-TW", "source").message, /reads Chinese only/);
});

test("unserved languages and malformed tags are refused with a reason", () => {
  const pt = refused("pt-BR");
  assert.equal(pt.error, "unsupported_language");
  assert.match(pt.message, /Brazilian Portuguese/);
  assert.match(pt.message, /served languages: en, zh/);
  assert.equal(refused("he").error, "unsupported_language");
  assert.equal(refused("und").error, "unsupported_language");
  for (const bad of ["", "e", "not a tag", "en--US", "x".repeat(100), "en-US-", "12"]) {
    assert.equal(refused(bad).error, "malformed", JSON.stringify(bad));
  }
});

const backend = new SharedBackend();
after(() => backend.dispose());

test("HTTP: en-US, EN-GB, de-DE are served; pt-BR and zh-Hant are a clear 400 in both request shapes", { skip: modelSkip }, async () => {
  await backend.with({}, async (url) => {
    const ok = await postJson(url, "/translate", { text: "The dog is asleep.", source_lang: "en-US", target_lang: "DE-de" });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.source_lang, "en");
    assert.equal(ok.json.target_lang, "de");
    const libre = await postJson(url, "/translate", { q: "Der Hund schläft.", source: "de", target: "EN-GB" });
    assert.equal(libre.status, 200, JSON.stringify(libre.json));
    assert.equal(typeof libre.json.translatedText, "string");
    const zhHans = await postJson(url, "/translate", { text: "Good morning.", source_lang: "en", target_lang: "zh-Hans" });
    assert.equal(zhHans.status, 200, JSON.stringify(zhHans.json));
    assert.match(zhHans.json.translations[0].text, /[\u4e00-\u9fff]/u);

    assertError(await postJson(url, "/translate", { text: "Hello.", source_lang: "en", target_lang: "pt-BR" }), 400, /Portuguese.*not served/);
    assertError(await postJson(url, "/translate", { q: "Hello.", source: "en", target: "zh-Hant" }), 400, /target.*Traditional/);
    assertError(await postJson(url, "/translate", { q: "Hello.", source: "en", target: "zh-TW" }), 400, /Simplified/);
    assertError(await postJson(url, "/translate", { text: "你好", source_lang: "zh-Hant", target_lang: "en" }), 400, /source_lang.*reads Chinese only/);
  });
});
