/**
 * glossa calib-data import|sample|list|stats|exclude|verify
 *
 *   import  --lang L[,L...]|all [--json]        build/refresh languages' candidate pools from the corpora
 *   sample  --lang L [--size 512] [--seed S] [--name N] [--replace] [--json]
 *                                               draw a calibration set (manifest: calib-data/<name>.json)
 *   list    [--json]                            calibration sets
 *   stats   <set> [--json]                      counts by length bucket, script share, sources, exclusions
 *   exclude <set> (--sha256 H | --line FILE:LINE)... --reason R [--refill] [--json]
 *                                               remove members, recorded with the reason
 *   verify  <set>                               re-read the set's text, checking every sentence's sha256
 */
import { parseArgs } from "node:util";
import { LANGUAGES } from "../../languages.js";
import { openRegistry, StorageError } from "../../storage/db.js";
import { ConfigError } from "../../config.js";
import { defaultCalibContext } from "../../calib/data/context.js";
import { CalibDataError, CalibInputError } from "../../calib/data/errors.js";
import {
  excludeMembers,
  importPool,
  listSets,
  readStoredSetText,
  sampleSet,
  setStats,
  type CalibDataContext,
  type SetSummary,
} from "../../calib/data/service.js";

export const CALIB_DATA_USAGE = `usage: glossa calib-data <subcommand> [options]
  import  --lang L[,L...]|all [--json]
  sample  --lang L [--size 512] [--seed S] [--name N] [--replace] [--json]
  list    [--json]
  stats   <set> [--json]
  exclude <set> (--sha256 H | --line FILE:LINE)... --reason R [--refill] [--json]
  verify  <set>`;

export interface CalibCliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

const PROCESS: CalibCliIo = { stdout: process.stdout, stderr: process.stderr };

class UsageError extends Error {
  override readonly name = "UsageError";
}

const OPTIONS = {
  lang: { type: "string" },
  size: { type: "string" },
  seed: { type: "string" },
  name: { type: "string" },
  set: { type: "string" },
  replace: { type: "boolean", default: false },
  sha256: { type: "string", multiple: true },
  line: { type: "string", multiple: true },
  reason: { type: "string" },
  refill: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

export async function calibDataCommand(argv: string[], io: CalibCliIo = PROCESS): Promise<number> {
  try {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
      (sub === undefined ? io.stderr : io.stdout).write(`${CALIB_DATA_USAGE}\n`);
      return sub === undefined ? 2 : 0;
    }
    const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      io.stdout.write(`${CALIB_DATA_USAGE}\n`);
      return 0;
    }
    const reg = await openRegistry();
    try {
      const ctx = defaultCalibContext(reg.db, (line) => io.stderr.write(`${line}\n`));
      return await run(ctx, sub, values, positionals, io);
    } finally {
      await reg.close();
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const code = (err as { code?: string }).code;
    if (err instanceof UsageError || err instanceof CalibInputError || (code !== undefined && code.startsWith("ERR_PARSE_ARGS"))) {
      io.stderr.write(`error: ${err.message}\n${CALIB_DATA_USAGE}\n`);
      return 2;
    }
    if (err instanceof CalibDataError || err instanceof StorageError || err instanceof ConfigError) {
      io.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function run(ctx: CalibDataContext, sub: string, v: Values, positionals: string[], io: CalibCliIo): Promise<number> {
  const out = (s: string): void => void io.stdout.write(s);
  const json = (x: unknown): void => out(`${JSON.stringify(x, null, 2)}\n`);
  switch (sub) {
    case "import": {
      noPositionals(positionals);
      const langs = langList(required(v.lang, "--lang"));
      const results = [];
      for (const l of langs) results.push(await importPool(ctx, l));
      if (v.json) json(results);
      else {
        out(table(["lang", "candidates", "rejected", "eval_overlap_list", "eval_match", "duplicate", "script", "sources"], results.map((r) => [
          r.lang,
          r.candidates,
          Object.values(r.rejected).reduce((a, b) => a + b, 0),
          r.rejected.eval_overlap_list,
          r.rejected.eval_match + r.rejected.eval_segment_match + r.rejected.target_eval_match,
          r.rejected.duplicate,
          r.rejected.script + r.rejected.traditional_chinese,
          r.sources.length,
        ])));
      }
      return 0;
    }
    case "sample": {
      noPositionals(positionals);
      const size = v.size === undefined ? undefined : positiveInt(v.size, "--size");
      const s = await sampleSet(ctx, {
        lang: required(v.lang, "--lang"),
        ...(size !== undefined ? { size } : {}),
        ...(v.seed !== undefined ? { seed: v.seed } : {}),
        ...(v.name !== undefined ? { name: v.name } : {}),
        replace: v.replace,
      });
      if (v.json) json(s);
      else out(setsTable([s]));
      return 0;
    }
    case "list": {
      noPositionals(positionals);
      const sets = await listSets(ctx);
      if (v.json) json(sets);
      else out(sets.length === 0 ? "no calibration sets (glossa calib-data sample --lang L)\n" : setsTable(sets));
      return 0;
    }
    case "stats": {
      const st = await setStats(ctx, setArg(v, positionals));
      if (v.json) {
        json(st);
        return 0;
      }
      out(`${st.name}: ${st.lang}, ${st.size} members (requested ${st.requestedSize}), seed ${st.seed}, set hash ${st.setHash}\n`);
      out(`manifest ${st.manifestPath}; lengths in ${st.unit}s: min ${st.lengths.min}, median ${st.lengths.median}, mean ${st.lengths.mean}, max ${st.lengths.max}\n`);
      out(`script ${st.script.name}: mean share ${st.script.meanShare}, min ${st.script.minShare}, ${st.script.fullyInScript} fully in script\n\n`);
      out(table(["bucket", "units", "members"], st.buckets.map((b) => [b.name, `${b.minUnits}-${b.maxUnits ?? ""}`, b.count])));
      out("\n");
      out(table(["source", "members", "with_target", "short", "medium", "long", "very_long"], st.sources.map((s) => [
        s.file, s.members, s.withTarget, s.buckets.short, s.buckets.medium, s.buckets.long, s.buckets.very_long,
      ])));
      out(`\nreferences: ${Object.entries(st.targets).map(([l, n]) => `${l} ${n}`).join(", ") || "none"}; without reference: ${st.withoutTarget}\n`);
      if (st.exclusions.length > 0) {
        out(`\n${st.exclusions.length} excluded:\n`);
        out(table(["file", "line", "sha256", "reason", "at"], st.exclusions.map((e) => [e.file, e.line, e.sha256.slice(0, 16), e.reason, e.at])));
      }
      return 0;
    }
    case "exclude": {
      const name = setArg(v, positionals);
      const ids = [...(v.sha256 ?? []), ...(v.line ?? [])];
      if (ids.length === 0) throw new UsageError("exclude needs --sha256 H or --line FILE:LINE (repeatable)");
      const r = await excludeMembers(ctx, name, { ids, reason: required(v.reason, "--reason"), refill: v.refill });
      if (v.json) json(r);
      else {
        out(`${name}: removed ${r.removed.length}, added ${r.added.length}, now ${r.set.size} members, set hash ${r.set.setHash}\n`);
        for (const m of r.removed) out(`  - ${m.file}:${m.line} ${m.sha256.slice(0, 16)} (${m.bucket})\n`);
        for (const m of r.added) out(`  + ${m.file}:${m.line} ${m.sha256.slice(0, 16)} (${m.bucket})\n`);
        if (r.notFound.length > 0) out(`not members: ${r.notFound.join(", ")}\n`);
      }
      return r.notFound.length > 0 ? 1 : 0;
    }
    case "verify": {
      const name = setArg(v, positionals);
      const sentences = await readStoredSetText(ctx, name);
      const withTarget = sentences.filter((s) => s.target !== undefined).length;
      out(`${name}: ${sentences.length} sentences and ${withTarget} references re-read, every sha256 matches\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`);
  }
}

function required(x: string | undefined, flag: string): string {
  if (x === undefined || x.trim() === "") throw new UsageError(`${flag} is required`);
  return x;
}

function positiveInt(x: string, flag: string): number {
  if (!/^\d+$/.test(x) || Number(x) <= 0) throw new UsageError(`${flag} expects a positive integer, got ${JSON.stringify(x)}`);
  return Number(x);
}

function noPositionals(p: string[]): void {
  if (p.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(p[0])}`);
}

function setArg(v: Values, p: string[]): string {
  if (p.length > 1) throw new UsageError(`one set name expected, got ${p.join(" ")}`);
  const name = v.set ?? p[0];
  if (name === undefined) throw new UsageError("name the set: glossa calib-data <subcommand> <set>");
  return name;
}

function langList(arg: string): string[] {
  if (arg === "all") return LANGUAGES.map((l) => l.iso);
  return arg.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function setsTable(sets: readonly SetSummary[]): string {
  return table(
    ["name", "lang", "size", "seed", "short", "medium", "long", "very_long", "set_hash", "manifest"],
    sets.map((s) => [s.name, s.lang, s.size, s.seed, ...s.buckets.map((b) => b.count), s.setHash.slice(0, 16), s.manifestPath]),
  );
}

function table(headers: string[], rows: (string | number)[][]): string {
  const text = rows.map((r) => r.map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...text.map(line)].join("\n") + "\n";
}
