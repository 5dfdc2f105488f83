/**
 * Registry schema, benchmark domain: throughput and latency measured by the benchmarks (`npm run bench:engine`),
 * one row per (engine, decoding mode, batch size) of one run. Rows of one run were measured side by side in one
 * process, so ratios between them hold even on a shared machine; absolute figures carry the load average.
 */
import { index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { engines } from "./models.js";

export const benchResults = sqliteTable(
  "bench_results",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** One invocation of a benchmark (e.g. "2026-11-29T05:10:00.000Z/4242"): rows measured side by side share it. */
    run: text("run").notNull(),
    /** Which benchmark measured it, e.g. "engine" (bench/engine.ts) or "engine-quant" (bench/quant.ts). */
    bench: text("bench").notNull(),
    /** The registered engine measured, when it is registered; null for an unregistered engine file. */
    engineId: integer("engine_id").references(() => engines.id),
    /** What was measured as the benchmark names it: the engine's name, or its file's name. */
    engineName: text("engine_name").notNull(),
    /** Checkpoint name, e.g. "glossa-mini-50". */
    model: text("model").notNull(),
    /** Decoding: "greedy", "beam4", ... */
    mode: text("mode").notNull(),
    batch: integer("batch").notNull(),
    sentences: integer("sentences").notNull(),
    /** Target tokens generated. */
    tokens: integer("tokens").notNull(),
    wallSeconds: real("wall_seconds").notNull(),
    tokensPerSecond: real("tokens_per_second").notNull(),
    latencyMeanS: real("latency_mean_s"),
    latencyP50S: real("latency_p50_s"),
    latencyMaxS: real("latency_max_s"),
    threads: integer("threads").notNull(),
    /** Kernel set used, e.g. "avx512". */
    kernels: text("kernels").notNull(),
    /** 1-minute load average when the row was measured (the machine may have been shared). */
    loadAverage: real("load_average"),
    /** The machine: host name and CPU model. */
    host: text("host").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [index("bench_results_run").on(t.run), index("bench_results_engine").on(t.engineId)],
);

export type BenchResultRow = typeof benchResults.$inferSelect;
export type NewBenchResultRow = typeof benchResults.$inferInsert;
