/**
 * Writes test/fixtures/hf-tokenizer/cases.json: Glossa's own token ids for the self-written sentences of
 * sentences.json, each in its language and in whitespace / Unicode-normalisation variants, plus the decoded
 * text of the golden outputs. tools/train-reference/hf_tokenizer_check.py compares Hugging Face's
 * AutoTokenizer with these ids on the GPU machine (transformers is not installed here); test/hf-tokenizer.test.ts
 * checks that Glossa still produces them.
 *
 *   npx tsx test/tools/hf-tokenizer-cases.ts --write [MODEL_DIR]
 * (without --write, e.g. when `node --test dist/test/` runs this file, it does nothing).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { repoRoot } from "../../src/config.js";
import { MBartTokenizer } from "../../src/tokenizer/mbart.js";

export interface EncodeCase {
  id: string;
  text: string;
  lang: string;
  ids: number[];
}
export interface DecodeCase {
  id: string;
  ids: number[];
  text: string;
}

const FULLWIDTH_OFFSET = 0xff01 - 0x21;

/** The variants every sentence is checked in; each name says what it exercises. */
export function variants(text: string): Array<[string, string]> {
  const words = text.includes(" ") ? text.split(" ") : [text.slice(0, Math.ceil(text.length / 2)), text.slice(Math.ceil(text.length / 2))];
  return [
    ["plain", text],
    ["outer-spaces", `  ${text}   `],
    ["double-spaces", words.join("  ")],
    ["tab-newline", `${words[0]}\t${words.slice(1).join(" ")}\r\n`],
    ["nbsp-ideographic-space", words.join("\u00a0") + "\u3000"],
    ["fullwidth-ascii", [...text].map((c) => (c >= "!" && c <= "~" ? String.fromCodePoint(c.codePointAt(0)! + FULLWIDTH_OFFSET) : c)).join("")],
    ["rare-symbols", `${text} ☃ 🙂 ﬁ №`],
  ];
}

export async function buildCases(modelDir: string): Promise<{ encode: EncodeCase[]; decode: DecodeCase[] }> {
  const tok = await MBartTokenizer.fromDir(modelDir);
  const root = repoRoot();
  const sentences = JSON.parse(readFileSync(join(root, "test", "fixtures", "hf-tokenizer", "sentences.json"), "utf8")) as Record<string, unknown>;
  const encode: EncodeCase[] = [];
  for (const [lang, list] of Object.entries(sentences)) {
    if (!Array.isArray(list)) continue;
    list.forEach((s: string, i) => {
      for (const [name, text] of variants(s)) encode.push({ id: `${lang}-${i}-${name}`, text, lang, ids: Array.from(tok.encodeSource(text, lang)) });
    });
  }
  // Every language code on one sentence: the code ids themselves.
  for (const lang of tok.languageIds.keys()) {
    const text = "Good morning, everyone.";
    encode.push({ id: `code-${lang}`, text, lang, ids: Array.from(tok.encodeSource(text, lang)) });
  }
  const golden = JSON.parse(readFileSync(join(root, "test", "fixtures", "golden", "golden.json"), "utf8")) as {
    cases: Array<{ id: string; greedy: { ids: number[] }; beam4: { ids: number[] } }>;
  };
  const decode: DecodeCase[] = [];
  for (const c of golden.cases)
    for (const [mode, r] of [["greedy", c.greedy], ["beam4", c.beam4]] as const) decode.push({ id: `${c.id}-${mode}`, ids: r.ids, text: tok.decode(r.ids) });
  return { encode, decode };
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain && process.argv[2] === "--write") {
  const modelDir = process.argv[3] ?? join(repoRoot(), "models", "glossa-mini-50");
  const { encode, decode } = await buildCases(modelDir);
  const out = join(repoRoot(), "test", "fixtures", "hf-tokenizer", "cases.json");
  writeFileSync(
    out,
    JSON.stringify({ about: "Glossa's ids (MBartTokenizer.encodeSource / decode) for models/glossa-mini-50; regenerate with npx tsx test/tools/hf-tokenizer-cases.ts --write", encode, decode }, null, 1) + "\n",
  );
  console.log(`${out}: ${encode.length} encode cases, ${decode.length} decode cases`);
}
