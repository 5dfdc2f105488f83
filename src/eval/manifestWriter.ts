/**
 * Writes the evaluation manifests (eval/sets/<set>.json) from the corpora folder: for each set and
 * direction, the source and reference files with their line counts and sha256.
 *
 *   npx tsx src/eval/manifestWriter.ts [--corpora DIR] [--out DIR]      (or node dist/src/eval/manifestWriter.js)
 *
 * Sets (every direction through English among the served languages, where the corpus has it):
 * - flores200-dev: FLORES-200 dev, multi-way parallel, all 18 directions.
 * - ntrex128: NTREX-128 (English source of WMT19 with references in 128 languages), both directions.
 * - tatoeba: Tatoeba test v2021-08-07 (zh: the cmn_Hans file), both directions.
 * - newstest2019, newstest2020: WMT news, only the source-original directions the corpus has.
 * - tico19-dev: TICO-19 dev, both directions for the languages it covers.
 * - flores200-dev-pivot: FLORES-200 dev, directions between two non-English languages (served through the
 *   English pivot by models trained only on en-xx, see src/engine/directions.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { corporaDir, evalDir } from "../config.js";
import { LANGUAGES, type Language } from "../languages.js";
import { sha256Bytes } from "../storage/hashing.js";
import { ManifestError, parseManifest, splitLines, type ManifestEntry, type ManifestFile, type SetManifest } from "./manifest.js";

const NON_ENGLISH: readonly Language[] = LANGUAGES.filter((l) => l.iso !== "en");

/** NTREX-128 reference file codes for the served languages. */
const NTREX_CODES: Readonly<Record<string, string>> = {
  ar: "arb", de: "deu", es: "spa", fr: "fra", hi: "hin", ru: "rus", sw: "swa", vi: "vie", zh: "zho_Hans",
};

interface Candidate {
  pair: string;
  source: string;
  reference: string;
}

interface SetRecipe {
  set: string;
  description: string;
  /** Missing files are an error for required sets, skipped for "where they exist" sets. */
  required: boolean;
  candidates: () => Candidate[];
}

function bothWays(iso: string, enFile: string, xxFile: string): Candidate[] {
  return [
    { pair: `en-${iso}`, source: enFile, reference: xxFile },
    { pair: `${iso}-en`, source: xxFile, reference: enFile },
  ];
}

export const SET_RECIPES: readonly SetRecipe[] = [
  {
    set: "flores200-dev",
    description: "FLORES-200 dev (997 multi-way parallel sentences), all 18 directions through English",
    required: true,
    candidates: () => NON_ENGLISH.flatMap((l) => bothWays(l.iso, "flores200/dev/en.dev", `flores200/dev/${l.iso}.dev`)),
  },
  {
    set: "ntrex128",
    description: "NTREX-128 (WMT19 English news source, human references), both directions",
    required: true,
    candidates: () =>
      NON_ENGLISH.flatMap((l) => bothWays(l.iso, "ntrex128/newstest2019-src.eng.txt", `ntrex128/newstest2019-ref.${NTREX_CODES[l.iso]}.txt`)),
  },
  {
    set: "tatoeba",
    description: "Tatoeba Translation Challenge test v2021-08-07 (zh: cmn_Hans), both directions",
    required: true,
    candidates: () =>
      NON_ENGLISH.flatMap((l) =>
        bothWays(l.iso, `tatoeba-test/en-${l.iso}/tatoeba-test-v2021-08-07.en`, `tatoeba-test/en-${l.iso}/tatoeba-test-v2021-08-07.${l.iso}`),
      ),
  },
  ...[2019, 2020].map(
    (year): SetRecipe => ({
      set: `newstest${year}`,
      description: `WMT newstest${year}, source-original directions where the corpus has them`,
      required: false,
      candidates: () =>
        NON_ENGLISH.flatMap((l) => [
          { pair: `en-${l.iso}`, source: `newstest/en-${l.iso}/newstest${year}.en-${l.iso}.en`, reference: `newstest/en-${l.iso}/newstest${year}.en-${l.iso}.${l.iso}` },
          { pair: `${l.iso}-en`, source: `newstest/en-${l.iso}/newstest${year}.${l.iso}-en.${l.iso}`, reference: `newstest/en-${l.iso}/newstest${year}.${l.iso}-en.en` },
        ]),
    }),
  ),
  {
    set: "tico19-dev",
    description: "TICO-19 dev (extracted from the TICO-19 translation memories), both directions where the corpus has them",
    required: false,
    candidates: () =>
      NON_ENGLISH.flatMap((l) => bothWays(l.iso, `tico19/en-${l.iso}/tico19-dev.en`, `tico19/en-${l.iso}/tico19-dev.${l.iso}`)),
  },
  {
    set: "flores200-dev-pivot",
    description: "FLORES-200 dev, directions between non-English languages (de-fr, es-ru, zh-ar): pivot against direct",
    required: true,
    candidates: () =>
      [["de", "fr"], ["es", "ru"], ["zh", "ar"]].map(([s, t]) => ({
        pair: `${s}-${t}`,
        source: `flores200/dev/${s}.dev`,
        reference: `flores200/dev/${t}.dev`,
      })),
  },
];

function describeFile(corpora: string, rel: string, cache: Map<string, ManifestFile>): ManifestFile {
  const hit = cache.get(rel);
  if (hit) return hit;
  const bytes = readFileSync(join(corpora, rel));
  const f = { file: rel, lines: splitLines(bytes.toString("utf8")).length, sha256: sha256Bytes(bytes) };
  cache.set(rel, f);
  return f;
}

/** Builds every manifest from the corpora folder. */
export function buildManifests(corpora: string): SetManifest[] {
  const cache = new Map<string, ManifestFile>();
  return SET_RECIPES.map((r) => {
    const entries: ManifestEntry[] = [];
    for (const c of r.candidates()) {
      const present = existsSync(join(corpora, c.source)) && existsSync(join(corpora, c.reference));
      if (!present) {
        if (r.required) throw new ManifestError(`${r.set} ${c.pair}: ${c.source} or ${c.reference} missing in ${corpora}`);
        continue;
      }
      const source = describeFile(corpora, c.source, cache);
      const reference = describeFile(corpora, c.reference, cache);
      if (source.lines !== reference.lines) {
        throw new ManifestError(`${r.set} ${c.pair}: ${c.source} has ${source.lines} lines but ${c.reference} has ${reference.lines}`);
      }
      entries.push({ pair: c.pair, source, reference });
    }
    const m: SetManifest = { set: r.set, description: r.description, entries };
    return parseManifest(m, r.set); // the writer's output must load
  });
}

/** Writes <out>/sets/<set>.json for every set; returns the paths written. */
export function writeManifests(corpora: string, out: string): string[] {
  const dir = join(out, "sets");
  mkdirSync(dir, { recursive: true });
  return buildManifests(corpora).map((m) => {
    const path = join(dir, `${m.set}.json`);
    writeFileSync(path, `${JSON.stringify(m, null, 2)}\n`);
    return path;
  });
}

function main(argv: string[]): void {
  let corpora: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--corpora") corpora = argv[++i];
    else if (a === "--out") out = argv[++i];
    else throw new ManifestError(`unknown argument ${a}; usage: manifestWriter [--corpora DIR] [--out DIR]`);
  }
  const c = resolve(corpora ?? corporaDir());
  for (const p of writeManifests(c, resolve(out ?? evalDir()))) process.stdout.write(`wrote ${p}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
