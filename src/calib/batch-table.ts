/**
 * Markdown summary of a calibration batch: reads the `glossa calibrate --json` outputs
 * (var/calib/<lang>-<recipe>.out by default) and prints one row per (pair, set) with the reference's and
 * each recipe's BLEU / chrF++, the gate verdict per engine, sizes and decode tokens/s.
 *
 *   npx tsx src/calib/batch-table.ts [dir] [gateDir]
 *
 * gateDir (optional): later `glossa gate --json` outputs named <lang>-<recipe>.gate.json (e.g. after evaluating
 * the whole FLORES dev set); their decisions and rows replace the batch's.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

interface Row {
  pair: string;
  setName: string;
  engineBleu: number | null;
  referenceBleu: number | null;
  engineChrf: number | null;
  referenceChrf: number | null;
  passed: boolean;
  reason: string;
  /** lines compared (the batch: first 200 of each set; a later gate over the whole FLORES dev: "all") */
  lines?: string;
}
interface Out {
  engine: { name: string; bytes: number };
  referenceBytes: number;
  decodeTokensPerSecond: { reference: number; engine: number };
  gate: { decision: string; summary: string };
  rows: Row[];
  build: { seconds: { total: number }; klEstimate: number; klMeasured: number; layers: Array<{ unit: string; precision: string }> };
}

const f2 = (x: number | null | undefined): string => (x === null || x === undefined ? "-" : x.toFixed(2));

interface GateJson {
  decision: string;
  summary: string;
  reasons: Row[];
}

export function batchTable(dir: string, gateDir?: string): string {
  const outs = new Map<string, Out>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".out")).sort()) {
    const text = readFileSync(join(dir, f), "utf8").trim();
    if (!text.startsWith("{")) continue;
    try {
      outs.set(f.replace(/\.out$/, ""), JSON.parse(text) as Out);
    } catch {
      /* an unfinished run */
    }
  }
  if (gateDir && existsSync(gateDir))
    for (const [k, o] of outs) {
      const f = join(gateDir, `${k}.gate.json`);
      if (!existsSync(f)) continue;
      try {
        const g = JSON.parse(readFileSync(f, "utf8")) as GateJson;
        o.gate = { decision: g.decision, summary: g.summary };
        o.rows = g.reasons.map((r) => ({ ...r, lines: r.setName === "flores200-dev" ? "all" : "200" }));
      } catch {
        /* unfinished */
      }
    }
  const lines: string[] = [];
  lines.push("| engine | size MB (ref) | KL est / measured | layers | gate |");
  lines.push("| --- | --- | --- | --- | --- |");
  for (const [k, o] of outs) {
    const prec = new Map<string, number>();
    for (const l of o.build.layers) prec.set(l.precision, (prec.get(l.precision) ?? 0) + 1);
    lines.push(
      `| ${k} | ${(o.engine.bytes / 1e6).toFixed(1)} (${(o.referenceBytes / 1e6).toFixed(1)}) | ${o.build.klEstimate.toExponential(1)} / ${o.build.klMeasured.toExponential(1)} | ${[...prec].map(([p, n]) => `${n} ${p}`).join(", ")} | ${o.gate.decision === "pass" ? "accepted" : "REJECTED"} |`,
    );
  }
  lines.push("");
  lines.push("| pair | set | lines | ref BLEU | INT8 BLEU | INT4 BLEU | ref chrF++ | INT8 chrF++ | INT4 chrF++ | INT8 | INT4 |");
  lines.push("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  const byKey = new Map<string, { ref?: Row; int8?: Row; int4?: Row }>();
  for (const [k, o] of outs) {
    const recipe = k.endsWith("awq-int4") ? "int4" : "int8";
    for (const r of o.rows) {
      const key = `${r.pair}|${r.setName}|${k.split("-")[0]}`;
      const e = byKey.get(key) ?? {};
      e.ref = r;
      e[recipe] = r;
      byKey.set(key, e);
    }
  }
  const verdict = (r?: Row): string => (r === undefined ? "-" : r.passed ? "ok" : `FAIL (${r.reason.replace(/\|/g, "/")})`);
  for (const [key, e] of [...byKey].sort(([a], [b]) => a.localeCompare(b))) {
    const [pair, set, lang] = key.split("|");
    lines.push(
      `| ${pair}${lang === "en" ? " (en engine)" : ""} | ${set} | ${e.int8?.lines ?? e.int4?.lines ?? "200"}${e.int8 && e.int4 && (e.int8.lines ?? "200") !== (e.int4.lines ?? "200") ? "*" : ""} | ${f2(e.ref?.referenceBleu)} | ${f2(e.int8?.engineBleu)} | ${f2(e.int4?.engineBleu)} | ${f2(e.ref?.referenceChrf)} | ${f2(e.int8?.engineChrf)} | ${f2(e.int4?.engineChrf)} | ${verdict(e.int8)} | ${verdict(e.int4)} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const dir = process.argv[2] ?? join(process.cwd(), "var", "calib");
  if (!existsSync(dir)) throw new Error(`${dir} does not exist`);
  process.stdout.write(batchTable(dir, process.argv[3]));
}
