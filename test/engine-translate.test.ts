/**
 * The reference model translates real sentences of every direction through English from TypeScript
 * (Translator = MBartTokenizer + Engine). Skipped when models/glossa-mini-50 or the tokenizer is absent.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";

import { englishPivotPairs, pairName, resolveLanguage } from "../src/languages.js";
import { Translator } from "../src/engine/translator.js";
import { MODEL_DIR } from "./helpers/golden.js";

const MODEL = MODEL_DIR;
const skip = existsSync(join(MODEL, "config.json")) && existsSync(join(MODEL, "tokenizer.json")) ? false : `needs ${MODEL} with tokenizer.json`;

// Our own sentences (not from any corpus), one per source language.
const SENTENCES: Record<string, string[]> = {
  en: ["The train leaves at seven in the morning.", "My sister likes to read books in the garden."],
  zh: ["火车早上七点出发。"],
  ar: ["يغادر القطار في السابعة صباحا."],
  ru: ["Поезд отправляется в семь утра."],
  de: ["Der Zug fährt um sieben Uhr morgens ab."],
  es: ["El tren sale a las siete de la mañana."],
  fr: ["Le train part à sept heures du matin."],
  hi: ["ट्रेन सुबह सात बजे निकलती है।"],
  sw: ["Treni inaondoka saa moja asubuhi."],
  vi: ["Tàu rời ga lúc bảy giờ sáng."],
};

const SCRIPT_RE: Record<string, RegExp> = {
  Latin: /[A-Za-zÀ-ɏ]/,
  Han: /[\u4e00-\u9fff]/,
  Arabic: /[\u0600-\u06ff]/,
  Cyrillic: /[\u0400-\u04ff]/,
  Devanagari: /[\u0900-\u097f]/,
};

test("translates every direction through English", { skip, timeout: 15 * 60_000 }, async () => {
  const t = await Translator.load({ modelDir: MODEL });
  for (const pair of englishPivotPairs()) {
    const texts = SENTENCES[pair.src.iso]!;
    const out = await t.translate(texts, pair.src, pair.tgt, { beamSize: 2, maxNewTokens: 48 });
    assert.equal(out.length, texts.length);
    for (const s of out) {
      assert.ok(s.trim().length > 0, `${pairName(pair)}: empty translation`);
      assert.ok(SCRIPT_RE[pair.tgt.script]!.test(s), `${pairName(pair)}: "${s}" is not in ${pair.tgt.script} script`);
    }
  }
});

test("greedy and beam translations of one sentence agree with engine ids decoding", { skip }, async () => {
  const t = await Translator.load({ modelDir: MODEL });
  const en = resolveLanguage("en")!;
  const de = resolveLanguage("de")!;
  const [d] = await t.translateDetailed(["Good morning, how are you?"], en, de, { beamSize: 4 });
  assert.equal(d!.result.ids[1], t.tokenizer.languageId("de_DE"));
  assert.equal(d!.text, t.tokenizer.decode(d!.result.ids));
});
