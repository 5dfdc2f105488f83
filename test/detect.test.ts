/**
 * Source-language detection (src/server/detect.ts, fastText lid.176): short greetings decided right, scripts,
 * unserved languages refused or answered with low confidence (never a confident wrong answer), and the HTTP side
 * (/detect, source "auto" in both shapes, the DeepL route without source_lang).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isRefusal, LanguageDetector, type Detection, type Refusal } from "../src/server/detect.js";
import { postJson, SharedBackend, skipWithoutModel } from "./helpers/api-server.js";

let detector: LanguageDetector;
before(async () => {
  detector = await LanguageDetector.load();
});

const decided = (d: Detection | Refusal): string => (isRefusal(d) ? `refused: ${d.refused}` : d.language.iso);

describe("LanguageDetector", () => {
  it("decides one- and two-word greetings", () => {
    const cases: Array<[string, string]> = [
      ["Hello", "en"], ["Bonjour", "fr"], ["Buenos días", "es"], ["Hola", "es"], ["Guten Tag", "de"], ["Danke schön", "de"],
      ["Merci beaucoup", "fr"], ["Thank you", "en"], ["Xin chào", "vi"], ["你好", "zh"], ["Привет", "ru"], ["नमस्ते", "hi"],
      ["مرحبا", "ar"],
    ];
    for (const [text, iso] of cases) assert.equal(decided(detector.sourceFor(text)), iso, text);
  });

  it("decides sentences of every served language", () => {
    const cases: Array<[string, string]> = [
      ["The cat is sleeping on the warm windowsill.", "en"],
      ["我们明天早上去公园散步。", "zh"],
      ["ذهبنا إلى السوق صباح اليوم لشراء الخبز.", "ar"],
      ["Мы завтра утром пойдём гулять в парк.", "ru"],
      ["Der Hund ist nicht im Haus, und die Katze schläft.", "de"],
      ["El perro está en la casa y no quiere salir.", "es"],
      ["Le chat est dans la maison et il ne veut pas sortir.", "fr"],
      ["मैं कल सुबह बाज़ार जाऊँगा और सब्ज़ियाँ खरीदूँगा।", "hi"],
      ["Watu wengi wanaishi katika mji huu na wanapenda kucheza mpira.", "sw"],
      ["Tôi là người Việt Nam và tôi rất thích ăn phở.", "vi"],
    ];
    for (const [text, iso] of cases) {
      const d = detector.sourceFor(text);
      assert.equal(decided(d), iso, text);
      assert.ok(!isRefusal(d) && d.confidence > 40, `${text}: ${JSON.stringify(d)}`);
    }
  });

  it("gives unserved languages low confidence and refuses them for auto, naming the language", () => {
    const cases: Array<[string, RegExp]> = [
      ["Ciao, come stai? Oggi andiamo al mare con gli amici.", /Italian \("it"/],
      ["Ontem nós fomos ao mercado comprar pão e frutas frescas.", /Portuguese \("pt"/],
      ["Merhaba, nasılsın? Bugün arkadaşlarla denize gidiyoruz.", /Turkish \("tr"/],
      ["今日は友達と海に行きます。", /Japanese \("ja"/],
      ["안녕하세요, 오늘은 친구들과 바다에 갑니다.", /Korean \("ko"/],
    ];
    for (const [text, name] of cases) {
      const d = detector.detect(text);
      assert.ok(d.candidates.every((c) => c.confidence < 20), `${text}: ${JSON.stringify(d.candidates.map((c) => [c.language.iso, c.confidence]))}`);
      assert.ok(d.unserved && d.unserved.confidence > 80, text);
      const s = detector.sourceFor(text);
      assert.ok(isRefusal(s), text);
      assert.match(s.refused, name);
    }
  });

  it("has nothing to say about text without letters", () => {
    assert.deepEqual(detector.detect("12345 !!! ..."), { candidates: [], unserved: undefined });
    assert.ok(isRefusal(detector.sourceFor("  42  ")));
  });

  it("reports at most three served candidates, best first, in percent", () => {
    const d = detector.detect("Hello");
    assert.ok(d.candidates.length >= 1 && d.candidates.length <= 3);
    assert.equal(d.candidates[0]!.language.iso, "en");
    const conf = d.candidates.map((c) => c.confidence);
    assert.deepEqual(conf, [...conf].sort((a, b) => b - a));
    assert.ok(conf.every((c) => c > 0 && c <= 100));
  });
});

describe("detection over HTTP", { skip: skipWithoutModel }, () => {
  const shared = new SharedBackend();
  before(() => shared.load());
  after(() => shared.dispose());

  it("POST /detect and source auto in both shapes", async () => {
    await shared.withServer({}, async (base) => {
      const d = await postJson(`${base}/detect`, { q: "Bonjour" });
      assert.equal(d.status, 200);
      assert.equal(d.json[0].language, "fr");
      assert.ok(d.json[0].confidence > 50);
      const it = await postJson(`${base}/detect`, { q: "Ciao, come stai? Oggi andiamo al mare." });
      assert.ok(it.json.every((c: { confidence: number }) => c.confidence < 20), JSON.stringify(it.json));
      assert.deepEqual((await postJson(`${base}/detect`, { q: "123" })).json, []);

      const libre = await postJson(`${base}/translate`, { q: "Buenos días", source: "auto", target: "en" });
      assert.equal(libre.status, 200, JSON.stringify(libre.json));
      assert.equal(libre.json.detectedLanguage.language, "es");
      assert.ok(libre.json.detectedLanguage.confidence > 50);
      const batch = await postJson(`${base}/translate`, { q: ["Hello", "How are you?"], source: "auto", target: "de" });
      assert.equal(batch.json.detectedLanguage.length, 2);
      assert.equal(batch.json.detectedLanguage[0].language, "en");
      const glossa = await postJson(`${base}/translate`, { text: "Hello", source_lang: "auto", target_lang: "fr" });
      assert.equal(glossa.json.translations[0].detected_source_language, "en");
      const refused = await postJson(`${base}/translate`, { q: "Ciao, come stai? Oggi andiamo al mare.", source: "auto", target: "en" });
      assert.equal(refused.status, 400);
      assert.match(refused.json.error, /could not detect the source language: the text looks like Italian/);
      // HTML: the markup does not vote.
      const html = await postJson(`${base}/translate`, { q: "<div class='header'><b>Guten Morgen</b></div>", source: "auto", target: "en", format: "html" });
      assert.equal(html.json.detectedLanguage.language, "de");
    });
  });
});
