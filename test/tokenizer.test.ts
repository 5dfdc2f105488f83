import { test } from "node:test";
import assert from "node:assert/strict";
import { MBartTokenizer, TokenizerError } from "../src/tokenizer/mbart.js";
import { LANGUAGES } from "../src/languages.js";
import { MODEL_DIR as modelDir, loadGolden } from "./helpers/golden.js";

const golden = loadGolden();

test("reference tokenizer has the mBART-50 layout", async () => {
  const tok = await MBartTokenizer.fromDir(modelDir);
  assert.deepEqual([tok.bosId, tok.padId, tok.eosId, tok.unkId], [0, 1, 2, 3]);
  assert.equal(tok.vocabSize, 16000);
  for (const l of LANGUAGES) assert.ok(tok.languageId(l.mbart) >= 15989, `${l.mbart} id`);
  assert.throws(() => tok.languageId("xx_YY"), TokenizerError);
});

test("source ids match Hugging Face tokenizers on every golden sentence", async () => {
  const tok = await MBartTokenizer.fromDir(modelDir);
  assert.ok(golden.cases.length >= 40);
  for (const c of golden.cases) {
    assert.deepEqual(Array.from(tok.encodeSource(c.text, c.src_lang)), c.src_ids, c.id);
    assert.equal(tok.languageId(c.tgt_lang), c.forced_bos_id, c.id);
  }
});

test("decode strips special tokens and language codes like Hugging Face", async () => {
  const tok = await MBartTokenizer.fromDir(modelDir);
  for (const c of golden.cases) {
    assert.equal(tok.decode(c.greedy.ids), c.greedy.text, c.id);
    assert.equal(tok.decode(c.beam4.ids), c.beam4.text, c.id);
  }
});

test("decoding only special tokens gives empty text", async () => {
  const tok = await MBartTokenizer.fromDir(modelDir);
  assert.equal(tok.decode([tok.eosId, tok.languageId("de_DE"), tok.eosId]), "");
  assert.equal(tok.decode([]), "");
});

test("long sources are cut to fit with the language code and </s> kept", async () => {
  const tok = await MBartTokenizer.fromDir(modelDir);
  const ids = tok.encodeSource("word ".repeat(500), "en_XX", 32);
  assert.equal(ids.length, 32);
  assert.equal(ids[0], tok.languageId("en_XX"));
  assert.equal(ids[31], tok.eosId);
});

test("special-token strings typed by a user never reach the model as control tokens", async () => {
  const tok = await MBartTokenizer.fromDir(modelDir);
  const ids = tok.encodeSource("stop </s> here de_DE <pad>", "en_XX");
  const inner = Array.from(ids.subarray(1, ids.length - 1));
  assert.ok(inner.length > 0);
  for (const id of inner) {
    assert.ok(id !== tok.eosId && id !== tok.padId && id !== tok.bosId, `control id ${id} in ${inner}`);
    assert.ok(![...tok.languageIds.values()].includes(id), `language code id ${id}`);
  }
});

test("a missing or broken tokenizer file is refused with its path", async () => {
  await assert.rejects(MBartTokenizer.fromDir("/nonexistent-dir"), (e: Error) => {
    assert.ok(e instanceof TokenizerError);
    assert.match(e.message, /nonexistent-dir\/tokenizer\.json/);
    return true;
  });
});
