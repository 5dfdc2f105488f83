/**
 * A fake corpora folder for the calibration-data tests, in the real layout (train/<pair>/<name>.<lang>,
 * <name>.eval_overlap_lines.txt, evaluation folders beside train/), filled with sentences generated
 * here from small self-written word lists. No corpus text.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const DE = ["Haus", "Baum", "Wasser", "Licht", "Garten", "Fenster", "Stein", "Wolke", "Brücke", "Straße", "Vogel", "Blume", "Tisch", "Lampe", "Berg", "Fluss"];
const EN = ["house", "tree", "water", "light", "garden", "window", "stone", "cloud", "bridge", "street", "bird", "flower", "table", "lamp", "mountain", "river"];
const HAN = [..."山水火木金土日月星云花鸟鱼虫风雨"];
const FILL_DE = ["und", "der", "die", "das", "im", "am", "mit", "ohne"];
const FILL_EN = ["and", "the", "a", "in", "at", "with", "without", "of"];

/** Words of a generated sentence: two index words (unique for i < 256), then fillers. */
function words(vocab: readonly string[], fill: readonly string[], i: number, len: number): string[] {
  const out = [vocab[i % 16]!, vocab[Math.floor(i / 16) % 16]!];
  for (let k = 2; k < len; k++) out.push(k % 3 === 0 ? vocab[(i + k) % 16]! : fill[(i * 3 + k) % fill.length]!);
  return out;
}

/** A generated German/English sentence pair number i with `len` whitespace tokens. */
export function dePair(i: number, len: number, tag = ""): { de: string; en: string } {
  const d = words(DE, FILL_DE, i, len);
  const e = words(EN, FILL_EN, i, len);
  return { de: `${tag}${d.join(" ")}.`, en: `${tag}${e.join(" ")}.` };
}

/** A generated Simplified Chinese sentence i of `len` characters (before the full stop). */
export function zhSentence(i: number, len: number): string {
  const cs = [HAN[i % 16]!, HAN[Math.floor(i / 16) % 16]!];
  for (let k = 2; k < len; k++) cs.push(HAN[(i * 5 + k * 7) % 16]!);
  return `${cs.join("")}。`;
}

/** Length of generated sentence i: spread over 2..31 so quartile buckets are well populated. */
export function lengthOf(i: number): number {
  return 2 + ((i * 7) % 30);
}

export interface FakeCorpora {
  /** Temp root holding everything. */
  readonly root: string;
  readonly corpora: string;
  /** A fake repository root (manifest paths are relative to it). */
  readonly repo: string;
  readonly evalDir: string;
  readonly manifestDir: string;
  readonly dbPath: string;
  /** Line numbers (1-based) in train/en-de/alpha.de of the planted cases. */
  readonly alpha: {
    readonly lines: number;
    readonly overlapListed: readonly number[];
    readonly evalExact: number;
    readonly evalVariant: number;
    readonly evalInParagraph: number;
    readonly evalFromManifestOnly: number;
    readonly evalTargetSide: number;
    readonly cyrillic: number;
    readonly duplicateOf: { readonly line: number; readonly copies: readonly number[] };
  };
  /** Line numbers in train/en-zh/gamma.zh. */
  readonly gamma: {
    readonly lines: number;
    readonly latinOnly: number;
    readonly traditional: number;
    readonly mixedKept: number;
    readonly evalExact: number;
  };
}

function write(path: string, lines: readonly string[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, lines.map((l) => `${l}\n`).join(""), "utf8");
}

/** Builds the fake corpora under a fresh temp folder. */
export function makeFakeCorpora(): FakeCorpora {
  const root = mkdtempSync(join(tmpdir(), "glossa-calib-"));
  const corpora = join(root, "corpora");
  const repo = join(root, "repo");
  const evalDir = join(repo, "eval");
  const manifestDir = join(repo, "calib-data");
  mkdirSync(manifestDir, { recursive: true });

  // Evaluation texts: FLORES-like dev, a Tatoeba-like test, and one file only an eval manifest names.
  const evalDe = [dePair(300, 9, "Eval ").de, dePair(301, 12, "Eval ").de, "Der Nebel über dem stillen See verschwand am Morgen langsam."];
  const evalEn = [dePair(300, 9, "Eval ").en, dePair(301, 12, "Eval ").en, "The fog over the quiet lake slowly vanished in the morning."];
  const evalZh = ["雾气在清晨慢慢散去了。", "我们明天一起去爬山吧。"];
  write(join(corpora, "flores200/dev/de.dev"), evalDe);
  write(join(corpora, "flores200/dev/en.dev"), evalEn);
  write(join(corpora, "flores200/dev/zh.dev"), evalZh);
  write(join(corpora, "tatoeba-test/en-de/tatoeba-test-v2021-08-07.de"), ["Die alte Uhr im Flur schlägt jede Stunde zweimal."]);
  write(join(corpora, "tatoeba-test/en-de/tatoeba-test-v2021-08-07.en"), ["The old clock in the hall strikes twice every hour."]);
  write(join(corpora, "tatoeba-test/en-de/tatoeba-test-v2021-08-07.de.labels"), ["deu"]);
  write(join(corpora, "SOURCES.md"), ["# fake corpora for tests"]);
  write(join(repo, "holdout/secret.de"), ["Nur das Manifest kennt diesen besonderen Satz über Laternen."]);
  write(join(repo, "holdout/secret.en"), ["Only the manifest knows this special sentence about lanterns."]);
  mkdirSync(join(evalDir, "sets"), { recursive: true });
  writeFileSync(
    join(evalDir, "sets", "holdout.json"),
    JSON.stringify({ set: "holdout", entries: [{ pair: "de-en", source: { file: "holdout/secret.de" }, reference: { file: "holdout/secret.en" } }] }),
  );

  // train/en-de/alpha: 200 generated pairs, then the planted cases.
  const de: string[] = [];
  const en: string[] = [];
  for (let i = 0; i < 200; i++) {
    const p = dePair(i, lengthOf(i));
    de.push(p.de);
    en.push(p.en);
  }
  const push = (d: string, e: string): number => {
    de.push(d);
    en.push(e);
    return de.length;
  };
  const evalExact = push(evalDe[0]!, "An unrelated English line number one.");
  const evalVariant = push("  DIE ALTE UHR IM FLUR SCHLÄGT JEDE STUNDE ZWEIMAL!! ", "An unrelated English line number two.");
  const evalInParagraph = push(
    `Am Abend wurde es kalt im Tal. ${evalDe[2]} Danach schien wieder die Sonne über den Feldern.`,
    "In the evening it got cold in the valley. Afterwards the sun shone again.",
  );
  const evalFromManifestOnly = push("Nur das Manifest kennt diesen besonderen Satz über Laternen.", "An unrelated English line number three.");
  const evalTargetSide = push("Ein ganz gewöhnlicher deutscher Satz ohne Besonderheiten hier.", evalEn[1]!);
  const cyrillic = push("Это предложение написано совсем не по-немецки сегодня.", "This sentence is not German at all today.");
  const dupBase = dePair(5, lengthOf(5));
  const duplicateCopies = [push(dupBase.de, dupBase.en), push(`${dupBase.de.toUpperCase().slice(0, -1)} !`, dupBase.en)];
  write(join(corpora, "train/en-de/alpha.de"), de);
  write(join(corpora, "train/en-de/alpha.en"), en);
  const overlapListed = [3, 5, 7];
  write(join(corpora, "train/en-de/alpha.eval_overlap_lines.txt"), overlapListed.map(String));

  // train/en-de/beta: a second source, 60 pairs without an overlap list.
  const bde: string[] = [];
  const ben: string[] = [];
  for (let i = 0; i < 60; i++) {
    const p = dePair(200 + i, lengthOf(i + 3), "Beta ");
    bde.push(p.de);
    ben.push(p.en);
  }
  write(join(corpora, "train/en-de/beta.de"), bde);
  write(join(corpora, "train/en-de/beta.en"), ben);

  // train/en-zh/gamma: 120 generated Chinese lines plus planted script cases; gamma_hant must be ignored.
  const zh: string[] = [];
  const zen: string[] = [];
  for (let i = 0; i < 120; i++) {
    zh.push(zhSentence(i, 2 + ((i * 11) % 24)));
    zen.push(dePair(i, lengthOf(i), "Zh ").en);
  }
  const zpush = (z: string, e: string): number => {
    zh.push(z);
    zen.push(e);
    return zh.length;
  };
  const latinOnly = zpush("This line is English only, no Chinese at all.", "This line is English only.");
  const traditional = zpush("這是我們的書，請你們看看。", "This is our book, please have a look.");
  const mixedKept = zpush("我的朋友Anna喜欢山水风景。", "My friend Anna likes landscapes.");
  const zhEval = zpush(evalZh[1]!, "Let us climb the mountain together tomorrow.");
  write(join(corpora, "train/en-zh/gamma.zh"), zh);
  write(join(corpora, "train/en-zh/gamma.en"), zen);
  write(join(corpora, "train/en-zh/gamma.eval_overlap_lines.txt"), []);
  write(join(corpora, "train/en-zh/gamma_hant.zh_Hant"), ["這是繁體的句子。"]);
  write(join(corpora, "train/en-zh/gamma_hant.en"), ["This is a traditional sentence."]);

  return {
    root,
    corpora,
    repo,
    evalDir,
    manifestDir,
    dbPath: join(root, "registry.sqlite"),
    alpha: {
      lines: de.length,
      overlapListed,
      evalExact,
      evalVariant,
      evalInParagraph,
      evalFromManifestOnly,
      evalTargetSide,
      cyrillic,
      duplicateOf: { line: 6, copies: duplicateCopies },
    },
    gamma: { lines: zh.length, latinOnly, traditional, mixedKept, evalExact: zhEval },
  };
}
