/**
 * The release gate: an engine's scores against its model's reference engine, pair by pair and set by set.
 *
 * The unquantized reference engine is the baseline: it is never gated and is released by definition
 * (src/storage/releases.ts). For any other engine:
 * - the runs compared are the newest run per (set text, direction, line limit) of each engine; within a
 *   (set text, direction) the two sides are compared on a line limit both have, the whole set first,
 *   else the largest shared `--limit`;
 * - every (set, direction) the reference has a run for is required, restricted to `--sets` / `--pairs`
 *   when given and, for an engine built for one language, to the directions involving it;
 * - a required (set, direction) without a comparable engine run fails the gate; so does an engine run
 *   the reference has no comparable run for (no baseline), unless filtered out by `--sets` / `--pairs`;
 * - a compared run passes when engine BLEU >= reference BLEU - maxBleuDrop and
 *   engine chrF++ >= reference chrF++ - maxChrfDrop (tolerances from eval/gates.json);
 * - the gate passes when every row passes. A rejection names every failing pair.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parsePair, pairName } from "../languages.js";
import { inTransaction, lockRow, type RegistryDb } from "../storage/db.js";
import { referenceEngineOf } from "../storage/engines.js";
import { latestRunsOfEngine, type RunWithSet } from "../storage/evaluation.js";
import { recordGateDecision, type NewGateReason, type RecordedGate } from "../storage/releases.js";
import type { EngineRow } from "../storage/schema/models.js";

export class GateError extends Error {
  override readonly name = "GateError";
}

export interface Tolerance {
  /** Largest allowed BLEU drop below the reference (points); negative demands an improvement. */
  maxBleuDrop: number;
  /** Largest allowed chrF++ drop below the reference (points). */
  maxChrfDrop: number;
}

export interface GateTolerances {
  default: Tolerance;
  /** Overrides per direction, e.g. { "sw-en": { maxBleuDrop: 1.5 } }. */
  pairs: Record<string, Partial<Tolerance>>;
}

export const DEFAULT_TOLERANCE: Readonly<Tolerance> = { maxBleuDrop: 1.0, maxChrfDrop: 1.0 };

/** Floating-point slack so that a drop of exactly the tolerance passes. */
const EPSILON = 1e-9;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseTolerance(v: unknown, where: string, partial: boolean): Partial<Tolerance> {
  if (!isRecord(v)) throw new GateError(`${where}: expected an object {maxBleuDrop, maxChrfDrop}`);
  const out: Partial<Tolerance> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k !== "maxBleuDrop" && k !== "maxChrfDrop") throw new GateError(`${where}: unknown key ${JSON.stringify(k)}`);
    if (typeof x !== "number" || !Number.isFinite(x)) throw new GateError(`${where}.${k}: expected a number`);
    out[k] = x;
  }
  if (!partial && (out.maxBleuDrop === undefined || out.maxChrfDrop === undefined)) {
    throw new GateError(`${where}: needs both maxBleuDrop and maxChrfDrop`);
  }
  return out;
}

/** Parses gates.json: { "default": {maxBleuDrop, maxChrfDrop}, "pairs": { "de-en": {...} } }. */
export function parseTolerances(json: unknown, where: string): GateTolerances {
  if (!isRecord(json)) throw new GateError(`${where}: expected a JSON object`);
  for (const k of Object.keys(json)) {
    if (!["description", "default", "pairs"].includes(k)) throw new GateError(`${where}: unknown key ${JSON.stringify(k)}`);
  }
  const def = json.default === undefined ? { ...DEFAULT_TOLERANCE } : (parseTolerance(json.default, `${where} default`, false) as Tolerance);
  const pairs: Record<string, Partial<Tolerance>> = {};
  if (json.pairs !== undefined) {
    if (!isRecord(json.pairs)) throw new GateError(`${where} pairs: expected an object keyed by direction`);
    for (const [p, t] of Object.entries(json.pairs)) {
      const parsed = parsePair(p);
      if (!parsed || pairName(parsed) !== p) throw new GateError(`${where} pairs: ${JSON.stringify(p)} is not a direction like "de-en"`);
      pairs[p] = parseTolerance(t, `${where} pairs.${p}`, true);
    }
  }
  return { default: def, pairs };
}

/** <evalDir>/gates.json, or the defaults (1.0 BLEU, 1.0 chrF++) when the file is absent. */
export function loadTolerances(evalDir: string, file?: string): GateTolerances {
  const path = file ?? join(evalDir, "gates.json");
  if (!existsSync(path)) {
    if (file !== undefined) throw new GateError(`tolerances file ${path} not found`);
    return { default: { ...DEFAULT_TOLERANCE }, pairs: {} };
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new GateError(`${path}: invalid JSON: ${(e as Error).message}`);
  }
  return parseTolerances(json, path);
}

export function toleranceFor(t: GateTolerances, pair: string): Tolerance {
  return { ...t.default, ...t.pairs[pair] };
}

export interface GateScope {
  sets?: string[];
  pairs?: string[];
  /**
   * The set texts the manifests name now (setTextKey of each entry). When given, runs on any other
   * text (an older version of a set, or a set no longer in the manifests) are ignored.
   */
  currentSetTexts?: ReadonlySet<string>;
}

/** Identity of one set text in one direction, as manifests and eval_sets rows both know it. */
export function setTextKey(set: string, pair: string, sourceSha256: string, refSha256: string): string {
  return `${set}|${pair}|${sourceSha256}|${refSha256}`;
}

export interface GateOutcome {
  decision: "pass" | "fail";
  reasons: NewGateReason[];
  /** Failing directions, in first-seen order. */
  failingPairs: string[];
  summary: string;
}

const fmt = (x: number): string => x.toFixed(2);
const signed = (x: number): string => (x >= 0 ? `+${fmt(x)}` : fmt(x));
const limitText = (r: RunWithSet): string => (r.run.lineLimit === null ? "" : ` --limit ${r.run.lineLimit}`);

/**
 * The engine and reference runs to compare within one (set text, direction): those on the same line
 * limit, preferring the whole set, then the largest limit. Either side is undefined when no limit is shared.
 */
function comparablePair(engineRuns: RunWithSet[], referenceRuns: RunWithSet[]): [RunWithSet | undefined, RunWithSet | undefined] {
  const size = (r: RunWithSet): number => r.run.lineLimit ?? Number.POSITIVE_INFINITY;
  const byLimit = new Map(referenceRuns.map((r) => [size(r), r]));
  const common = engineRuns.filter((e) => byLimit.has(size(e))).sort((a, b) => size(b) - size(a));
  const best = common[0];
  return best ? [best, byLimit.get(size(best))] : [undefined, undefined];
}

function inScope(r: RunWithSet, engine: EngineRow, scope: GateScope): boolean {
  if (scope.sets && !scope.sets.includes(r.set.name)) return false;
  if (scope.pairs && !scope.pairs.includes(r.run.pair)) return false;
  if (scope.currentSetTexts && !scope.currentSetTexts.has(setTextKey(r.set.name, r.set.pair, r.set.sourceSha256, r.set.refSha256))) return false;
  if (engine.language !== null && r.set.srcLang !== engine.language && r.set.tgtLang !== engine.language) return false;
  return true;
}

/**
 * Compares the engine's newest runs with the reference's (both keyed by comparableKey) and decides.
 * Pure: recording the decision is the caller's job.
 */
export function decideGate(
  engine: EngineRow,
  reference: EngineRow,
  engineRuns: Map<string, RunWithSet>,
  referenceRuns: Map<string, RunWithSet>,
  tolerances: GateTolerances,
  scope: GateScope = {},
): GateOutcome {
  if (engine.isReference) throw new GateError(`engine ${engine.name} is the reference engine: the baseline, released by definition`);
  const engineInScope = [...engineRuns.values()].filter((r) => inScope(r, engine, scope));
  const referenceInScope = [...referenceRuns.values()].filter((r) => inScope(r, engine, scope));
  if (referenceInScope.length === 0) {
    throw new GateError(`the reference engine ${reference.name} has no evaluation runs in scope: run glossa eval --engine ${reference.name} first`);
  }
  if (engineInScope.length === 0) {
    throw new GateError(`engine ${engine.name} has no evaluation runs in scope: run glossa eval --engine ${engine.name} first`);
  }
  // Group by (set text, direction); within a group the runs differ by line limit.
  const groups = new Map<string, { engine: RunWithSet[]; reference: RunWithSet[] }>();
  const groupOf = (r: RunWithSet) => {
    const k = `${r.set.id}|${r.run.pair}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { engine: [], reference: [] }));
    return g;
  };
  for (const r of engineInScope) groupOf(r).engine.push(r);
  for (const r of referenceInScope) groupOf(r).reference.push(r);
  const ordered = [...groups.values()].sort((a, b) => {
    const ra = (a.reference[0] ?? a.engine[0])!;
    const rb = (b.reference[0] ?? b.engine[0])!;
    return ra.run.pair.localeCompare(rb.run.pair) || ra.set.name.localeCompare(rb.set.name) || ra.set.id - rb.set.id;
  });
  const reasons: NewGateReason[] = [];
  for (const g of ordered) {
    const [e, r] = comparablePair(g.engine, g.reference);
    const any = (e ?? r ?? g.engine[0] ?? g.reference[0])!;
    const base = {
      pair: any.run.pair,
      setName: any.set.name,
      evalSetId: any.set.id,
      engineRunId: e?.run.id ?? null,
      referenceRunId: r?.run.id ?? null,
      engineBleu: e?.run.bleu ?? null,
      referenceBleu: r?.run.bleu ?? null,
      engineChrf: e?.run.chrf ?? null,
      referenceChrf: r?.run.chrf ?? null,
    };
    if (!e || !r) {
      const largestFirst = (xs: RunWithSet[]) => [...xs].sort((a, b) => (b.run.lineLimit ?? Infinity) - (a.run.lineLimit ?? Infinity));
      const need = largestFirst(g.reference)[0] ?? largestFirst(g.engine)[0]!;
      const who = g.engine.length === 0 || (g.reference.length > 0 && !e) ? engine.name : reference.name;
      const what = g.engine.length === 0 ? `no run of ${engine.name}` : g.reference.length === 0 ? "no reference run to compare with" : "no runs with the same --limit on both sides";
      reasons.push({ ...base, passed: false, reason: `${what}: run glossa eval --engine ${who} --sets ${need.set.name} --pairs ${need.run.pair}${limitText(need)}` });
      continue;
    }
    const tol = toleranceFor(tolerances, any.run.pair);
    const dBleu = e.run.bleu - r.run.bleu;
    const dChrf = e.run.chrf - r.run.chrf;
    const bleuOk = dBleu >= -tol.maxBleuDrop - EPSILON;
    const chrfOk = dChrf >= -tol.maxChrfDrop - EPSILON;
    const parts = [
      `BLEU ${fmt(e.run.bleu)} vs ${fmt(r.run.bleu)} (${signed(dBleu)}${bleuOk ? "" : ` < ${signed(-tol.maxBleuDrop)}`})`,
      `chrF++ ${fmt(e.run.chrf)} vs ${fmt(r.run.chrf)} (${signed(dChrf)}${chrfOk ? "" : ` < ${signed(-tol.maxChrfDrop)}`})`,
    ];
    reasons.push({ ...base, passed: bleuOk && chrfOk, reason: parts.join(", ") });
  }
  const failingPairs: string[] = [];
  for (const r of reasons) if (!r.passed && !failingPairs.includes(r.pair)) failingPairs.push(r.pair);
  const decision = failingPairs.length === 0 ? "pass" : "fail";
  const pairsChecked = new Set(reasons.map((r) => r.pair)).size;
  const summary =
    decision === "pass"
      ? `pass: ${reasons.length} set/pair comparisons over ${pairsChecked} pairs within tolerance of ${reference.name}`
      : `fail: ${failingPairs.length} of ${pairsChecked} pairs below tolerance: ${failingPairs
          .map((p) => `${p} (${reasons.filter((r) => r.pair === p && !r.passed).map((r) => `${r.setName}: ${r.reason}`).join("; ")})`)
          .join(", ")}`;
  return { decision, reasons, failingPairs, summary };
}

export interface GateRun extends GateOutcome {
  recorded: RecordedGate;
}

/**
 * Gates `engine` against its model's reference engine: decides on the newest runs of both and records
 * the decision, its reasons and the release (pass) or the revocation of an active release (fail).
 */
export async function gateEngine(db: RegistryDb, engine: EngineRow, tolerances: GateTolerances, scope: GateScope = {}): Promise<GateRun> {
  // One transaction: the decision is recorded on exactly the runs it read, even with concurrent writers.
  return inTransaction(db, async (tx) => {
    await lockRow(tx, tx.t.engines, tx.t.engines.id, engine.id);
    const reference = await referenceEngineOf(tx, engine.modelId);
    if (!reference) throw new GateError(`engine ${engine.name}: its model (id ${engine.modelId}) has no reference engine to compare with`);
    const outcome = decideGate(engine, reference, await latestRunsOfEngine(tx, engine.id), await latestRunsOfEngine(tx, reference.id), tolerances, scope);
    const recorded = await recordGateDecision(tx, {
      engineId: engine.id,
      referenceEngineId: reference.id,
      decision: outcome.decision,
      tolerances: { ...tolerances, scope: { sets: scope.sets ?? null, pairs: scope.pairs ?? null } },
      summary: outcome.summary,
      reasons: outcome.reasons,
    });
    return { ...outcome, recorded };
  });
}
