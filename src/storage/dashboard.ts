/**
 * Read-only queries behind the quality dashboard (GET /api/dashboard): engines with their gate decisions, reasons,
 * releases and calibration profiles, the newest evaluation run of every (engine, set, direction, line limit) next to
 * the reference's, and benchmark results. A handful of whole-table reads grouped in memory: the registry holds
 * hundreds of rows, not millions, and one read per table keeps this independent of the dialect.
 */
import { asc } from "drizzle-orm";
import type {
  BenchmarkRow,
  CalibrationProfileView,
  DashboardData,
  DashboardEngine,
  EngineStatus,
  GateView,
  LayerView,
  PairScores,
  ReleaseView,
  RunScore,
} from "./dashboard-types.js";
import { benchResults, engineProfiles } from "./benchmarks.js";
import type { DbOrTx } from "./db.js";

export type { DashboardData } from "./dashboard-types.js";

export interface DashboardOptions {
  /** Reads an engine file's calibration report when the registry has none (the engine file's header). */
  profileFromFile?: (file: string) => unknown;
  /** Tolerances shown when no gate decision exists (eval/gates.json's default). */
  defaultTolerances?: { maxBleuDrop: number; maxChrfDrop: number };
  now?: () => Date;
}

type Tolerances = { max_bleu_drop: number; max_chrf_drop: number };

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The default tolerance of a decision's stored tolerances JSON ({default: {maxBleuDrop, maxChrfDrop}, ...}). */
function parseTolerances(json: string): Tolerances | null {
  try {
    const t = JSON.parse(json) as unknown;
    const d = isRecord(t) && isRecord(t.default) ? t.default : undefined;
    const b = num(d?.maxBleuDrop);
    const c = num(d?.maxChrfDrop);
    return b !== null && c !== null ? { max_bleu_drop: b, max_chrf_drop: c } : null;
  } catch {
    return null;
  }
}

/**
 * A calibration report (src/calib/build.ts: {klEstimate, klMeasured, examples, layers: [{unit, precision, kl,
 * awqAlpha}]}) as the dashboard shows it; null when it does not have that shape.
 */
export function profileView(report: unknown, source: CalibrationProfileView["source"]): CalibrationProfileView | null {
  const r = typeof report === "string" ? safeJson(report) : report;
  if (!isRecord(r) || !Array.isArray(r.layers)) return null;
  const layers: LayerView[] = [];
  for (const l of r.layers) {
    if (!isRecord(l) || typeof l.unit !== "string" || typeof l.precision !== "string") return null;
    const byPrecision: Record<string, number> = {};
    if (isRecord(l.kl)) for (const [k, v] of Object.entries(l.kl)) if (typeof v === "number" && Number.isFinite(v)) byPrecision[k] = v;
    layers.push({ unit: l.unit, precision: l.precision, kl: byPrecision[l.precision] ?? null, kl_by_precision: byPrecision, awq_alpha: num(l.awqAlpha) });
  }
  return { source, kl_estimate: num(r.klEstimate), kl_measured: num(r.klMeasured), examples: num(r.examples), layers };
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

export async function dashboardData(db: DbOrTx, opts: DashboardOptions = {}): Promise<DashboardData> {
  const now = (opts.now ?? (() => new Date()))();
  const { models, engines, gateDecisions, gateReasons, releases, evalSets, evalRuns } = db.t;
  const modelRows = await db.orm.select().from(models).orderBy(asc(models.id));
  const engineRows = await db.orm.select().from(engines).orderBy(asc(engines.id));
  const decisionRows = await db.orm.select().from(gateDecisions).orderBy(asc(gateDecisions.id));
  const reasonRows = await db.orm.select().from(gateReasons).orderBy(asc(gateReasons.id));
  const releaseRows = await db.orm.select().from(releases).orderBy(asc(releases.id));
  const setRows = await db.orm.select().from(evalSets);
  const runRows = await db.orm.select().from(evalRuns).orderBy(asc(evalRuns.id));
  const profileRows = new Map((await engineProfiles(db)).map((p) => [p.engineId, p.report]));
  const benchRows = await benchResults(db);

  const modelName = new Map(modelRows.map((m) => [m.id, m.name]));
  const engineName = new Map(engineRows.map((e) => [e.id, e.name]));
  const setById = new Map(setRows.map((s) => [s.id, s]));
  const runById = new Map(runRows.map((r) => [r.id, r]));
  const decisionById = new Map(decisionRows.map((d) => [d.id, d]));
  const def = opts.defaultTolerances ?? { maxBleuDrop: 1, maxChrfDrop: 1 };
  let tolerances: Tolerances = { max_bleu_drop: def.maxBleuDrop, max_chrf_drop: def.maxChrfDrop };
  const newest = decisionRows.at(-1);
  if (newest) tolerances = parseTolerances(newest.tolerances) ?? tolerances;

  const reasonsOf = new Map<number, typeof reasonRows>();
  for (const r of reasonRows) reasonsOf.set(r.decisionId, [...(reasonsOf.get(r.decisionId) ?? []), r]);

  const delta = (a: number | null, b: number | null) => (a === null || b === null ? null : a - b);
  const gateView = (d: (typeof decisionRows)[number]): GateView => ({
    id: d.id,
    decision: d.decision,
    summary: d.summary,
    created_at: d.createdAt,
    tolerances: parseTolerances(d.tolerances),
    reasons: (reasonsOf.get(d.id) ?? []).map((r) => {
      const run = r.engineRunId !== null ? runById.get(r.engineRunId) : r.referenceRunId !== null ? runById.get(r.referenceRunId) : undefined;
      const limit = run?.lineLimit ?? null;
      return {
        pair: r.pair,
        set: limit !== null ? `${r.setName} (first ${limit})` : r.setName,
        engine_bleu: r.engineBleu,
        reference_bleu: r.referenceBleu,
        engine_chrf: r.engineChrf,
        reference_chrf: r.referenceChrf,
        bleu_delta: delta(r.engineBleu, r.referenceBleu),
        chrf_delta: delta(r.engineChrf, r.referenceChrf),
        passed: r.passed,
        reason: r.reason,
      };
    }),
  });

  const dashboardEngines: DashboardEngine[] = engineRows.map((e) => {
    const gates = decisionRows.filter((d) => d.engineId === e.id).reverse().map(gateView);
    const rels: ReleaseView[] = releaseRows
      .filter((r) => r.engineId === e.id)
      .reverse()
      .map((r) => {
        const ender = r.endedByDecisionId !== null ? decisionById.get(r.endedByDecisionId) : undefined;
        return {
          id: r.id,
          gate_decision_id: r.gateDecisionId,
          ended_by_decision_id: r.endedByDecisionId,
          released_at: r.releasedAt,
          active: r.active,
          ended_at: r.endedAt,
          ended_by: r.endedAt === null && !ender ? null : ender?.decision === "fail" ? "revoked" : "superseded",
        };
      });
    let status: EngineStatus;
    if (e.isReference) status = "reference";
    else if (rels.some((r) => r.active)) status = "released";
    else if (rels.some((r) => r.ended_by === "revoked")) status = "revoked";
    else if (gates[0]?.decision === "fail") status = "rejected";
    else status = "not gated";
    const stored = profileRows.get(e.id);
    let profile: CalibrationProfileView | null = stored !== undefined ? profileView(stored, "registry") : null;
    if (!profile && !e.isReference && opts.profileFromFile) {
      try {
        profile = profileView(opts.profileFromFile(e.file), "engine file");
      } catch {
        profile = null; // the file is gone or unreadable: the card says no profile is recorded
      }
    }
    return {
      id: e.id,
      name: e.name,
      model: modelName.get(e.modelId) ?? String(e.modelId),
      recipe: e.recipe,
      language: e.language,
      is_reference: e.isReference,
      size_bytes: e.sizeBytes,
      created_at: e.createdAt,
      status,
      gates,
      releases: rels,
      profile,
    };
  });

  // Newest run per (engine, set name, direction, line limit); the reference's next to every engine's.
  const newestRun = new Map<string, (typeof runRows)[number]>();
  for (const r of runRows) {
    const set = setById.get(r.evalSetId);
    newestRun.set(`${r.engineId}|${set?.name ?? r.evalSetId}|${r.pair}|${r.lineLimit ?? ""}`, r);
  }
  const isReference = new Map(engineRows.map((e) => [e.id, e.isReference]));
  const groups = new Map<string, PairScores>();
  const score = (r: (typeof runRows)[number]): RunScore => ({
    engine: engineName.get(r.engineId) ?? String(r.engineId),
    engine_id: r.engineId,
    run_id: r.id,
    bleu: r.bleu,
    chrf: r.chrf,
    sentences: r.sentences,
    created_at: r.createdAt,
  });
  for (const r of newestRun.values()) {
    const setName = setById.get(r.evalSetId)?.name ?? String(r.evalSetId);
    const key = `${setName}|${r.pair}|${r.lineLimit ?? ""}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { set: setName, pair: r.pair, line_limit: r.lineLimit, reference: null, engines: [] }));
    if (isReference.get(r.engineId)) g.reference = score(r);
    else g.engines.push({ ...score(r), bleu_delta: null, chrf_delta: null });
  }
  const scores = [...groups.values()].sort((a, b) => a.pair.localeCompare(b.pair) || a.set.localeCompare(b.set) || (a.line_limit ?? Infinity) - (b.line_limit ?? Infinity));
  for (const g of scores) {
    for (const e of g.engines) {
      e.bleu_delta = g.reference ? e.bleu - g.reference.bleu : null;
      e.chrf_delta = g.reference ? e.chrf - g.reference.chrf : null;
    }
  }

  return {
    generated_at: now.toISOString(),
    registry: true,
    tolerances,
    models: modelRows.map((m) => ({ id: m.id, name: m.name, created_at: m.createdAt })),
    engines: dashboardEngines,
    scores,
    benchmarks: benchRows.map(
      (b): BenchmarkRow => ({
        id: b.id,
        bench: b.bench,
        run: b.run,
        engine: b.engineId !== null ? (engineName.get(b.engineId) ?? b.engineName) : b.engineName,
        engine_id: b.engineId,
        model: b.model,
        mode: b.mode,
        batch: b.batch,
        tokens_per_second: b.tokensPerSecond,
        latency_p50_s: b.latencyP50S,
        threads: b.threads,
        kernels: b.kernels,
        load_average: b.loadAverage,
        host: b.host,
        created_at: b.createdAt,
      }),
    ),
  };
}

/** What the dashboard answers when the server has no registry file. */
export function emptyDashboard(now = new Date(), tol = { maxBleuDrop: 1, maxChrfDrop: 1 }): DashboardData {
  return {
    generated_at: now.toISOString(),
    registry: false,
    tolerances: { max_bleu_drop: tol.maxBleuDrop, max_chrf_drop: tol.maxChrfDrop },
    models: [],
    engines: [],
    scores: [],
    benchmarks: [],
  };
}
