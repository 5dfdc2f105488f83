/**
 * mBART-50 tokenization conventions over a Hugging Face tokenizer.json:
 * source = [src_lang_code, ...pieces, </s>], decoder start = </s>, first generated token forced to the target code,
 * special tokens and language codes stripped on decode. Works for Glossa's reference tokenizer and the real
 * mBART-50 tokenizer.json alike: only token strings are relied on, never their ids.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenizerError";
  }
}

/** mBART-50 language code shape, e.g. en_XX, zh_CN. */
const LANGUAGE_CODE = /^[a-z]{2}_[A-Z]{2}$/;

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

export class MBartTokenizer {
  readonly bosId: number;
  readonly padId: number;
  readonly eosId: number;
  readonly unkId: number;
  readonly vocabSize: number;
  /** Characters of the longest vocabulary piece (word-boundary marker excluded): n characters are >= n / this tokens. */
  readonly maxPieceChars: number;
  /** Language code -> id, for every mBART-style code the tokenizer has as an added token. */
  readonly languageIds: ReadonlyMap<string, number>;
  private readonly specialIds: ReadonlySet<number>;

  private constructor(
    private readonly tokenizer: Tokenizer,
    addedTokens: readonly AddedTokenJson[],
    vocabSize: number,
    readonly file: string,
    maxPieceChars = 64,
  ) {
    this.maxPieceChars = maxPieceChars;
    const need = (token: string): number => {
      const id = tokenizer.token_to_id(token);
      if (id === undefined) throw new TokenizerError(`${file}: the tokenizer has no ${token} token`);
      return id;
    };
    this.bosId = need("<s>");
    this.padId = need("<pad>");
    this.eosId = need("</s>");
    this.unkId = need("<unk>");
    this.vocabSize = vocabSize;
    const languages = new Map<string, number>();
    const special = new Set<number>([this.bosId, this.padId, this.eosId, this.unkId]);
    for (const t of addedTokens) {
      if (LANGUAGE_CODE.test(t.content)) languages.set(t.content, t.id);
      if (t.special) special.add(t.id);
    }
    if (languages.size === 0) throw new TokenizerError(`${file}: no mBART language codes (like en_XX) among the added tokens`);
    this.languageIds = languages;
    this.specialIds = special;
  }

  /** Loads `tokenizer.json` (and `tokenizer_config.json` when present) from a model directory. */
  static async fromDir(dir: string): Promise<MBartTokenizer> {
    const file = join(dir, "tokenizer.json");
    let json: { added_tokens?: AddedTokenJson[]; model?: { vocab?: unknown[] | Record<string, number> } };
    try {
      json = JSON.parse(await readFile(file, "utf8"));
    } catch (e) {
      throw new TokenizerError(`${file}: cannot read tokenizer: ${(e as Error).message}`);
    }
    let config: Record<string, unknown> = {};
    try {
      config = JSON.parse(await readFile(join(dir, "tokenizer_config.json"), "utf8"));
    } catch {
      config = {}; // optional file: tokenizer.json alone carries everything the conventions need
    }
    const added = Array.isArray(json.added_tokens) ? json.added_tokens : [];
    const vocab = json.model?.vocab;
    const baseSize = Array.isArray(vocab) ? vocab.length : vocab ? Object.keys(vocab).length : 0;
    const size = Math.max(baseSize, ...added.map((t) => t.id + 1));
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, { ...config, clean_up_tokenization_spaces: false });
    } catch (e) {
      throw new TokenizerError(`${file}: unsupported tokenizer: ${(e as Error).message}`);
    }
    const pieces = Array.isArray(vocab) ? vocab.map((v) => (Array.isArray(v) ? String(v[0]) : String(v))) : vocab ? Object.keys(vocab) : [];
    const longest = pieces.reduce((m, p) => Math.max(m, [...p.replace(/\u2581/g, "")].length), 1);
    return new MBartTokenizer(tokenizer, added, size, file, longest);
  }

  /** Id of a language code such as "de_DE"; throws TokenizerError when the tokenizer lacks it. */
  languageId(code: string): number {
    const id = this.languageIds.get(code);
    if (id === undefined) throw new TokenizerError(`the tokenizer has no language code ${code}`);
    return id;
  }

  /** Sentence pieces of `text` without special tokens. Special-token strings typed by a user stay text: their ids are dropped. */
  pieces(text: string): number[] {
    const ids: number[] = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    return ids.filter((id) => !this.specialIds.has(id) || id === this.unkId);
  }

  /** Encoder input [src_code, ...pieces, </s>], the pieces cut to fit `maxTokens` in all. */
  encodeSource(text: string, srcCode: string, maxTokens = 1024): Int32Array {
    if (maxTokens < 3) throw new TokenizerError(`maxTokens must be at least 3, got ${maxTokens}`);
    const code = this.languageId(srcCode);
    const pieces = this.pieces(text);
    const n = Math.min(pieces.length, maxTokens - 2);
    const out = new Int32Array(n + 2);
    out[0] = code;
    for (let i = 0; i < n; i++) out[i + 1] = pieces[i]!;
    out[n + 1] = this.eosId;
    return out;
  }

  /** Number of encoder tokens `text` takes with its language code and </s>. */
  sourceLength(text: string): number {
    return this.pieces(text).length + 2;
  }

  /** Text of generated ids, with special tokens and language codes removed. */
  decode(ids: ArrayLike<number>): string {
    const keep: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!this.specialIds.has(id)) keep.push(id);
    }
    if (keep.length === 0) return "";
    return this.tokenizer.decode(keep, { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }
}
