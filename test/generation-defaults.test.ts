/**
 * Decoding defaults come from the model's generation_config.json (issue 9 item 7): with no options, the server
 * answers as Hugging Face `model.generate(input_ids, forced_bos_token_id=code)` does. Precedence, per setting:
 * request options > operator (GLOSSA_BEAM_SIZE) > the engine's release > generation_config.json (config.json when
 * absent) > built-in (greedy, 16 + 2 x source tokens).
 *
 * test/fixtures/golden/generate-defaults.json: transformers 5.17.0 generate() on CPU FP32 with glossa-mini-50's
 * generation_config.json (4 beams, max_length 200, early stopping) for the 48 golden sources
 * (tools/train-reference/generate_defaults.py, run on the GPU machine).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { repoRoot } from "../src/config.js";
import { describeDecodeDefaults, resolveDecodeDefaults } from "../src/engine/decode-defaults.js";
import { parseConfig } from "../src/engine/loader.js";
import { DEFAULT_DECODE_OPTIONS } from "../src/engine/types.js";
import { decodeOptionsFor } from "../src/server/translate-request.js";
import { defaultSettings } from "../src/server/settings.js";
import { MBartTokenizer } from "../src/tokenizer/mbart.js";
import { loadGolden } from "./helpers/golden.js";
import { MODEL, modelSkip, postJson, SharedBackend } from "./helpers/http.js";
import { tinyConfig } from "./fixtures/tiny-mbart.js";

const tmp = mkdtempSync(join(tmpdir(), "glossa-gendefaults-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function folder(generation: Record<string, unknown> | undefined, config: Record<string, unknown> = {}): string {
  const dir = join(tmp, `m${n++}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...tinyConfig(), ...config }));
  if (generation) writeFileSync(join(dir, "generation_config.json"), JSON.stringify(generation));
  return dir;
}

test("generation_config.json gives the defaults; max_length counts the decoder start token", () => {
  const { generation } = parseConfig(folder({ num_beams: 5, max_length: 200, early_stopping: true, length_penalty: 1.2, no_repeat_ngram_size: 3 }));
  const r = resolveDecodeDefaults({ model: generation });
  assert.deepEqual(r.options, { ...DEFAULT_DECODE_OPTIONS, beamSize: 5, maxNewTokens: 199, earlyStopping: true, lengthPenalty: 1.2, noRepeatNgramSize: 3 });
  assert.equal(r.maxNewTokens, 199);
  assert.deepEqual(r.source, { beamSize: "model", maxNewTokens: "model", lengthPenalty: "model", earlyStopping: "model", noRepeatNgramSize: "model", repetitionPenalty: "built-in" });
  // max_new_tokens wins over max_length, as in transformers.
  assert.equal(resolveDecodeDefaults({ model: parseConfig(folder({ max_length: 200, max_new_tokens: 40 })).generation }).maxNewTokens, 40);
});

test("without generation_config.json the generation keys of config.json apply (transformers' legacy rule)", () => {
  const { generation } = parseConfig(folder(undefined, { num_beams: 5, max_length: 200 }));
  const r = resolveDecodeDefaults({ model: generation });
  assert.equal(r.options.beamSize, 5);
  assert.equal(r.maxNewTokens, 199);
  // ...but not when generation_config.json exists (it is the model's statement).
  assert.equal(resolveDecodeDefaults({ model: parseConfig(folder({ max_length: 50 }, { num_beams: 5 })).generation }).options.beamSize, 1);
});

test("built-in defaults when the model says nothing; unsupported settings are named for the log", () => {
  const r = resolveDecodeDefaults({ model: parseConfig(folder({ do_sample: true, num_return_sequences: 2 })).generation });
  assert.deepEqual(r.options, DEFAULT_DECODE_OPTIONS);
  assert.equal(r.maxNewTokens, undefined);
  assert.deepEqual(r.ignored, ["do_sample=true", "num_return_sequences=2"]);
  assert.match(describeDecodeDefaults(r), /beam_size 1 \(built-in\), max_new_tokens 16 \+ 2 x source tokens \(built-in\).*not applied from generation_config\.json: do_sample=true/);
});

test("precedence: request > operator > engine release > model > built-in", () => {
  const model = parseConfig(folder({ num_beams: 4, max_length: 200, length_penalty: 2 })).generation;
  const r = resolveDecodeDefaults({ operator: { beamSize: 1 }, engine: { beamSize: 3, lengthPenalty: 0.5 }, model });
  assert.equal(r.options.beamSize, 1);
  assert.equal(r.source.beamSize, "operator");
  assert.equal(r.options.lengthPenalty, 0.5);
  assert.equal(r.source.lengthPenalty, "engine");
  assert.equal(r.maxNewTokens, 199);
  // The request's options win over every layer; the operator's cap (and the model's positions) bound all of them.
  const seg = decodeOptionsFor(r.options, { beamSize: 2, maxNewTokens: 20 }, 10, 255, r.maxNewTokens);
  assert.deepEqual([seg.beamSize, seg.maxNewTokens, seg.lengthPenalty], [2, 20, 0.5]);
  assert.equal(decodeOptionsFor(r.options, {}, 10, 255, r.maxNewTokens).maxNewTokens, 199);
  assert.equal(decodeOptionsFor(r.options, {}, 10, 64, r.maxNewTokens).maxNewTokens, 64);
  assert.equal(decodeOptionsFor(DEFAULT_DECODE_OPTIONS, {}, 10, 255, undefined).maxNewTokens, 36, "built-in: 16 + 2 x source");
  // GLOSSA_BEAM_SIZE is unset by default: the model decides.
  assert.equal(defaultSettings().beamSize, undefined);
});

interface HfCase {
  id: string;
  src_ids: number[];
  forced_bos_id: number;
  ids: number[];
}
const hf = JSON.parse(readFileSync(join(repoRoot(), "test", "fixtures", "golden", "generate-defaults.json"), "utf8")) as {
  generation_config: Record<string, unknown>;
  cases: HfCase[];
};
const shared = new SharedBackend();

test("with no options the server answers as generate() with the model's generation_config.json", { skip: modelSkip }, async () => {
  const golden = new Map(loadGolden().cases.map((c) => [c.id, c]));
  const tok = await MBartTokenizer.fromDir(MODEL);
  assert.equal(hf.generation_config.num_beams, 4);
  assert.equal(hf.cases.length, 48);
  let differsFromGreedy = 0;
  await shared.with({ beamSize: undefined }, async (base) => {
    for (const c of hf.cases) {
      const g = golden.get(c.id)!;
      assert.deepEqual(Array.from(tok.encodeSource(g.text, g.src_lang)), c.src_ids, `${c.id}: same source ids`);
      const want = tok.decode(c.ids);
      const a = await postJson(base, "/translate", { text: g.text, source_lang: g.src_lang, target_lang: g.tgt_lang });
      assert.equal(a.status, 200, JSON.stringify(a.json));
      assert.equal(a.json.translations[0].text, want, c.id);
      // tokens after the decoder start: the forced language code, the pieces and </s>
      assert.equal(a.json.translations[0].tokens, c.ids.length - 1, c.id);
      if (want !== tok.decode(g.greedy.ids)) differsFromGreedy++;
    }
  });
  assert.ok(differsFromGreedy > 0, "the fixture tells beam 4 from greedy");
});

test("the operator's GLOSSA_BEAM_SIZE=1 beats the model; a request's beam_size beats the operator", { skip: modelSkip }, async () => {
  const golden = loadGolden().cases.filter((c) => tokDiff(c));
  assert.ok(golden.length > 0);
  const c = golden[0]!;
  const tok = await MBartTokenizer.fromDir(MODEL);
  await shared.with({ beamSize: 1 }, async (base) => {
    const greedy = await postJson(base, "/translate", { text: c.text, source_lang: c.src_lang, target_lang: c.tgt_lang });
    assert.equal(greedy.json.translations[0].text, tok.decode(c.greedy.ids));
    const beam = await postJson(base, "/translate", { text: c.text, source_lang: c.src_lang, target_lang: c.tgt_lang, options: { beam_size: 4 } });
    assert.equal(beam.json.translations[0].text, tok.decode(c.beam4.ids));
  });
});

function tokDiff(c: { greedy: { text: string }; beam4: { text: string } }): boolean {
  return c.greedy.text !== c.beam4.text;
}
