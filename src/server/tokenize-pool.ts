/**
 * Where units are planned and tokenized. Short inputs (a sentence or two) on the event loop, in slices of ~10 ms;
 * longer ones on a pool of tokenizer worker threads (piscina, src/server/tokenize-worker.ts) started at a lower
 * CPU priority (nice +10 on Linux), so that a flood of long texts can never hold the event loop (health checks,
 * short requests, the scheduler's loop) and yields the CPU to it. The pool's backlog, in characters, is what the
 * server checks before accepting more long work.
 */
import { availableParallelism } from "node:os";
import { Piscina } from "piscina";
import { planUnits, type PlanOutcome, type PlanTask, type PlanTokenizer } from "./plan-units.js";
import { timeSlicer } from "./segment.js";

export interface UnitPlanner {
  plan(task: PlanTask, signal?: AbortSignal): Promise<PlanOutcome>;
  /** Characters queued or being planned off the event loop. */
  backlogChars(): number;
  close(): Promise<void>;
}

/** Inputs up to this many characters are planned on the event loop: cheaper than a round trip to a worker. */
export const INLINE_PLAN_CHARS = 256;

/** Told after each plan where it ran, how many characters it covered and how long it took (metrics). */
export type PlanObserver = (thread: "event_loop" | "worker", chars: number, seconds: number) => void;

const taskChars = (task: PlanTask) => task.units.reduce((n, u) => n + u.length, 0);

/** Plans on the event loop, yielding every ~10 ms. */
export class InlinePlanner implements UnitPlanner {
  constructor(
    private readonly tokenizer: PlanTokenizer,
    private readonly observe: PlanObserver = () => {},
  ) {}
  async plan(task: PlanTask): Promise<PlanOutcome> {
    const t0 = performance.now();
    try {
      return await planUnits(this.tokenizer, task, timeSlicer(10));
    } finally {
      this.observe("event_loop", taskChars(task), (performance.now() - t0) / 1000);
    }
  }
  backlogChars(): number {
    return 0;
  }
  async close(): Promise<void> {}
}

function workerFile(): URL {
  // Compiled: dist/src/server/tokenize-worker-entry.cjs (CommonJS; it imports tokenize-worker.js, see there why);
  // under tsx (from source): the ES module tokenize-worker.ts itself.
  if (import.meta.url.endsWith(".ts")) return new URL("./tokenize-worker.ts", import.meta.url);
  return new URL("./tokenize-worker-entry.cjs", import.meta.url);
}

export class PooledPlanner implements UnitPlanner {
  private readonly pool: Piscina<PlanTask, PlanOutcome>;
  private backlog = 0;

  constructor(
    modelDir: string,
    threads: number,
    private readonly inline: UnitPlanner,
    private readonly observe: PlanObserver = () => {},
  ) {
    this.pool = new Piscina<PlanTask, PlanOutcome>({
      filename: workerFile().href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      niceIncrement: process.platform === "linux" ? 10 : 0,
      workerData: { modelDir },
    });
  }

  async plan(task: PlanTask, signal?: AbortSignal): Promise<PlanOutcome> {
    const chars = taskChars(task);
    if (chars <= INLINE_PLAN_CHARS) return this.inline.plan(task);
    this.backlog += chars;
    const t0 = performance.now();
    try {
      return await this.pool.run(task, signal ? { signal } : {});
    } finally {
      this.backlog -= chars;
      this.observe("worker", chars, (performance.now() - t0) / 1000);
    }
  }

  backlogChars(): number {
    return this.backlog;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/** Default tokenizer threads: half the cores (the engine's compute threads need the rest), at least one. */
export function defaultTokenizerThreads(): number {
  return Math.max(1, Math.floor(availableParallelism() / 2));
}
