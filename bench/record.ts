/**
 * Benchmark results into the registry (GLOSSA_DB, table bench_results) so that the dashboard charts throughput by
 * engine and batch: one recorder per benchmark invocation; rows measured side by side share its run id. The float
 * model is recorded as the model's reference engine (registered on first use, as `glossa eval` does); an engine
 * file as the registered engine with that file's sha256, else under its file name. GLOSSA_BENCH_RECORD=0 skips.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { cpus, hostname, loadavg } from "node:os";
import { basename, resolve } from "node:path";
import { recordBenchResults, type NewBenchResult } from "../src/storage/benchmarks.js";
import { openRegistry, type RegistryDb } from "../src/storage/db.js";
import { ensureReferenceEngine, listEngines } from "../src/storage/engines.js";

/** What was measured: the model's float weights, an engine file, or something unregistered (a synthetic model). */
export type Measured = { kind: "reference"; modelDir: string } | { kind: "file"; path: string } | { kind: "other"; name: string };

export interface BenchFigures {
  /** A section of the benchmark with its own method (e.g. "engine-quant"); default the recorder's bench. */
  bench?: string;
  measured: Measured;
  mode: string;
  batch: number;
  sentences: number;
  tokens: number;
  wallSeconds: number;
  /** Per-sentence latencies in seconds, when the benchmark measured them. */
  latencies?: readonly number[];
  threads: number;
  kernels: string;
}

export class BenchRecorder {
  readonly run = `${new Date().toISOString()}/${process.pid}`;
  private readonly rows: Array<{ figures: BenchFigures; loadAverage: number }> = [];
  /**
   * sha256 of each engine file, hashed when its first row is added (a benchmark may delete its temporary files
   * before save), synchronously so that hashing never overlaps a measurement.
   */
  private readonly fileSha = new Map<string, string | undefined>();

  constructor(
    readonly bench: string,
    readonly model: string,
  ) {}

  add(figures: BenchFigures): void {
    this.rows.push({ figures, loadAverage: loadavg()[0]! });
    const m = figures.measured;
    if (m.kind === "file" && !this.fileSha.has(m.path)) {
      let sha: string | undefined;
      try {
        sha = createHash("sha256").update(readFileSync(m.path)).digest("hex");
      } catch {
        sha = undefined; // unreadable: recorded under its file name
      }
      this.fileSha.set(m.path, sha);
    }
  }

  /** Writes the rows (one transaction); returns what it printed, or why nothing was recorded. */
  async save(dbPath?: string): Promise<string> {
    if (process.env.GLOSSA_BENCH_RECORD === "0") return "not recorded (GLOSSA_BENCH_RECORD=0)";
    if (this.rows.length === 0) return "nothing to record";
    const reg = await openRegistry(dbPath ? { path: dbPath } : {});
    try {
      const ids = new Map<string, { id: number | null; name: string }>();
      const rows: NewBenchResult[] = [];
      const host = `${hostname()} (${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores)`;
      for (const { figures: f, loadAverage } of this.rows) {
        const key = JSON.stringify(f.measured);
        let engine = ids.get(key);
        if (!engine) ids.set(key, (engine = await resolveEngine(reg.db, f.measured, this.fileSha)));
        const lat = [...(f.latencies ?? [])].sort((a, b) => a - b);
        rows.push({
          run: this.run,
          bench: f.bench ?? this.bench,
          engineId: engine.id,
          engineName: engine.name,
          model: this.model,
          mode: f.mode,
          batch: f.batch,
          sentences: f.sentences,
          tokens: f.tokens,
          wallSeconds: f.wallSeconds,
          tokensPerSecond: f.tokens / f.wallSeconds,
          latencyMeanS: lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : null,
          latencyP50S: lat.length ? lat[Math.floor(lat.length / 2)]! : null,
          latencyMaxS: lat.length ? lat.at(-1)! : null,
          threads: f.threads,
          kernels: f.kernels,
          loadAverage,
          host,
        });
      }
      await recordBenchResults(reg.db, rows);
      return `recorded ${rows.length} rows in ${reg.location} (bench_results, run ${this.run}; shown on /dashboard)`;
    } finally {
      await reg.close();
    }
  }
}

async function resolveEngine(db: RegistryDb, m: Measured, fileSha: Map<string, string | undefined>): Promise<{ id: number | null; name: string }> {
  if (m.kind === "other") return { id: null, name: m.name };
  if (m.kind === "reference") {
    const e = await ensureReferenceEngine(db, resolve(m.modelDir));
    return { id: e.id, name: e.name };
  }
  const sha = fileSha.get(m.path);
  const e = sha === undefined ? undefined : (await listEngines(db)).find((x) => x.fileSha256 === sha);
  return e ? { id: e.id, name: e.name } : { id: null, name: basename(m.path) };
}
