/**
 * The quality dashboard's data (GET /api/dashboard): what the registry knows about engines, evaluation runs, gate
 * decisions, releases, calibration profiles and benchmark results, shaped for reading. Plain JSON types with no
 * imports, so that the browser code (web/) can import them too.
 */

export interface DashboardData {
  generated_at: string;
  /** False when the server has no registry file (GLOSSA_DB does not exist): everything below is empty. */
  registry: boolean;
  /** The gate tolerances applied by the newest decision, or eval/gates.json's default. */
  tolerances: { max_bleu_drop: number; max_chrf_drop: number };
  models: DashboardModel[];
  engines: DashboardEngine[];
  /** One row per (set, direction, line limit) the reference or an engine was evaluated on. */
  scores: PairScores[];
  benchmarks: BenchmarkRow[];
}

export interface DashboardModel {
  id: number;
  name: string;
  created_at: string;
}

export type EngineStatus = "reference" | "released" | "rejected" | "revoked" | "not gated";

export interface DashboardEngine {
  id: number;
  name: string;
  model: string;
  recipe: string;
  /** Calibration language; null for engines serving every language (the reference). */
  language: string | null;
  is_reference: boolean;
  size_bytes: number;
  created_at: string;
  status: EngineStatus;
  /** Every gate decision, newest first, with the reasons of each pair. */
  gates: GateView[];
  /** Every release, newest first. */
  releases: ReleaseView[];
  profile: CalibrationProfileView | null;
}

export interface GateView {
  id: number;
  decision: "pass" | "fail";
  summary: string;
  created_at: string;
  tolerances: { max_bleu_drop: number; max_chrf_drop: number } | null;
  reasons: GateReasonView[];
}

export interface GateReasonView {
  pair: string;
  set: string;
  engine_bleu: number | null;
  reference_bleu: number | null;
  engine_chrf: number | null;
  reference_chrf: number | null;
  bleu_delta: number | null;
  chrf_delta: number | null;
  passed: boolean;
  reason: string;
}

export interface ReleaseView {
  id: number;
  /** The passing decision that made this release. */
  gate_decision_id: number;
  /** The decision that ended it, when one did. */
  ended_by_decision_id: number | null;
  released_at: string;
  active: boolean;
  ended_at: string | null;
  /** Why it ended: a later passing decision supersedes, a failing one revokes. */
  ended_by: "superseded" | "revoked" | null;
}

export interface CalibrationProfileView {
  /** Where the profile was read: the registry's copy, or the engine file's header. */
  source: "registry" | "engine file";
  kl_estimate: number | null;
  kl_measured: number | null;
  examples: number | null;
  layers: LayerView[];
}

export interface LayerView {
  unit: string;
  /** Chosen precision, e.g. "int8-w8a8", "int4-g128", "int8-w8a16", "f32". */
  precision: string;
  /** KL (nats/token) with this unit alone at the chosen precision; null when not measured. */
  kl: number | null;
  /** KL for every precision the sensitivity pass tried. */
  kl_by_precision: Record<string, number>;
  awq_alpha: number | null;
}

export interface PairScores {
  set: string;
  pair: string;
  /** First N lines, or null for the whole set. */
  line_limit: number | null;
  reference: RunScore | null;
  engines: Array<RunScore & { bleu_delta: number | null; chrf_delta: number | null }>;
}

export interface RunScore {
  engine: string;
  engine_id: number;
  run_id: number;
  bleu: number;
  chrf: number;
  sentences: number;
  created_at: string;
}

export interface BenchmarkRow {
  id: number;
  /** The benchmark that measured it, e.g. "engine" (npm run bench:engine). */
  bench: string;
  /** One invocation of the benchmark: rows measured side by side share it. */
  run: string;
  engine: string;
  engine_id: number | null;
  model: string;
  /** "greedy", "beam4", ... */
  mode: string;
  batch: number;
  tokens_per_second: number;
  latency_p50_s: number | null;
  threads: number;
  kernels: string;
  load_average: number | null;
  /** The machine it ran on. */
  host: string;
  created_at: string;
}
