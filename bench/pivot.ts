/**
 * Pivot against direct translation for pairs the model was not trained on: FLORES-200 dev (eval set
 * flores200-dev-pivot: de-fr, es-ru, zh-ar), the reference engine, greedy, max 200 new tokens (evaluation
 * defaults). "direct" forces one pass src -> tgt (what the server did before pivoting); "pivot" is
 * src -> en -> tgt (src/engine/directions.ts). Prints chrF++ and BLEU per pair, the share of hypotheses whose
 * script or detected language is the target's, and the load average.
 *
 *   npm run build && node dist/bench/pivot.js [--limit N]
 */
import { loadavg } from "node:os";
import { corporaDir, evalDir, modelDir } from "../src/config.js";
import { loadEvalSet, readManifests, selectEntries } from "../src/eval/manifest.js";
import { EVAL_DECODE_DEFAULTS, scoreRun } from "../src/eval/runner.js";
import { Translator, type RouteMode } from "../src/engine/translator.js";
import type { Language } from "../src/languages.js";
import { LanguageDetector } from "../src/server/detect.js";

const detector = await LanguageDetector.load();

const SCRIPT_RE: Record<string, RegExp> = {
  Latin: /\p{Script=Latin}/u,
  Han: /\p{Script=Han}/u,
  Arabic: /\p{Script=Arabic}/u,
  Cyrillic: /\p{Script=Cyrillic}/u,
  Devanagari: /\p{Script=Devanagari}/u,
};

/** Share of hypotheses in the target language: its script for non-Latin targets, the detector for Latin ones. */
function inTarget(hyps: string[], tgt: Language): number {
  const ok = hyps.filter((h) => {
    if (tgt.script !== "Latin") {
      const letters = [...h].filter((c) => /\p{L}/u.test(c));
      return letters.length > 0 && letters.filter((c) => SCRIPT_RE[tgt.script]!.test(c)).length / letters.length > 0.5;
    }
    return detector.best(h)?.language.iso === tgt.iso;
  });
  return hyps.length ? ok.length / hyps.length : 0;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const li = args.indexOf("--limit");
  const limit = li >= 0 ? Number(args[li + 1]) : undefined;
  const entries = selectEntries(readManifests(evalDir()), ["flores200-dev-pivot"]);
  const translator = await Translator.load({ modelDir: modelDir(), threads: 2 });
  const rows: string[] = [];
  try {
    for (const entry of entries) {
      const set = loadEvalSet(corporaDir(), entry, limit);
      const { src, tgt } = entry.direction;
      const scored: Record<RouteMode, { chrf: number; bleu: number; share: number; seconds: number }> = {} as never;
      for (const mode of ["direct", "auto"] as const) {
        const t0 = performance.now();
        const hyps: string[] = [];
        for (let i = 0; i < set.sources.length; i += 32) {
          hyps.push(...(await translator.translate(set.sources.slice(i, i + 32), src, tgt, EVAL_DECODE_DEFAULTS, mode)));
        }
        const { bleu, chrf } = scoreRun(set, hyps);
        scored[mode] = { chrf: chrf.score, bleu: bleu.score, share: inTarget(hyps, tgt), seconds: (performance.now() - t0) / 1000 };
        process.stderr.write(`${entry.pair} ${mode}: chrF++ ${chrf.score.toFixed(2)} BLEU ${bleu.score.toFixed(2)} (${scored[mode].seconds.toFixed(0)} s, load ${loadavg()[0]!.toFixed(1)})\n`);
      }
      const d = scored.direct;
      const p = scored.auto;
      rows.push(
        `| ${entry.pair} | ${set.sources.length} | ${d.chrf.toFixed(2)} | ${p.chrf.toFixed(2)} | ${(p.chrf - d.chrf).toFixed(2)} | ${d.bleu.toFixed(2)} | ${p.bleu.toFixed(2)} | ${(100 * d.share).toFixed(0)}% | ${(100 * p.share).toFixed(0)}% | ${d.seconds.toFixed(0)} / ${p.seconds.toFixed(0)} |`,
      );
    }
  } finally {
    await translator.close();
  }
  console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(" ")} (2 cores, shared)`);
  console.log("| pair | sentences | chrF++ direct | chrF++ pivot | gain | BLEU direct | BLEU pivot | in target language, direct | pivot | seconds direct / pivot |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
