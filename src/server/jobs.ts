/**
 * Admin jobs: long administrative work (drawing a calibration set, excluding members with a refill) runs as a job
 * with a status instead of inside the HTTP request. Jobs run one at a time in submission order (they compete with
 * translation for the same cores); the table keeps the last `keep` finished jobs. The work itself is given as a
 * function, which runs it off the event loop (src/server/routes/calib-admin.ts: a worker thread).
 */
import { randomUUID } from "node:crypto";

export type JobStatus = "queued" | "running" | "succeeded" | "failed";

/** A job as the admin API shows it. */
export interface JobView {
  id: string;
  kind: string;
  status: JobStatus;
  params: unknown;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** Progress lines the work reported, newest last (at most 50). */
  log: string[];
  result?: unknown;
  /** Why it failed, with the HTTP status the same error gets from a synchronous route. */
  error?: { message: string; status: number };
}

/** Thrown by work to fail its job with a given status (400 bad input, 404 unknown set, 409 changed corpus...). */
export class JobError extends Error {
  override readonly name = "JobError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export type JobWork = (kind: string, params: unknown, log: (line: string) => void) => Promise<unknown>;

export class JobQueueFullError extends Error {
  override readonly name = "JobQueueFullError";
}

export class JobRunner {
  private readonly jobs = new Map<string, JobView>();
  private readonly pending: JobView[] = [];
  private running: JobView | undefined;

  constructor(
    private readonly work: JobWork,
    private readonly maxQueued = 16,
    private readonly keep = 100,
  ) {}

  /** Queues a job; throws JobQueueFullError when maxQueued jobs already wait. */
  submit(kind: string, params: unknown): JobView {
    if (this.pending.length >= this.maxQueued) throw new JobQueueFullError(`${this.pending.length} admin jobs already waiting; retry later`);
    const job: JobView = {
      id: randomUUID(),
      kind,
      status: "queued",
      params,
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
      log: [],
    };
    this.jobs.set(job.id, job);
    this.pending.push(job);
    this.prune();
    this.next();
    return { ...job };
  }

  get(id: string): JobView | undefined {
    const j = this.jobs.get(id);
    return j ? { ...j, log: [...j.log] } : undefined;
  }

  /** Newest first. */
  list(): JobView[] {
    return [...this.jobs.values()].reverse().map((j) => ({ ...j, log: [...j.log] }));
  }

  private next(): void {
    if (this.running) return;
    const job = this.pending.shift();
    if (!job) return;
    this.running = job;
    job.status = "running";
    job.started_at = new Date().toISOString();
    const log = (line: string) => {
      job.log.push(line);
      if (job.log.length > 50) job.log.shift();
    };
    this.work(job.kind, job.params, log).then(
      (result) => {
        job.status = "succeeded";
        job.result = result;
      },
      (err: unknown) => {
        job.status = "failed";
        job.error = {
          message: err instanceof Error ? err.message : String(err),
          status: err instanceof JobError ? err.status : 500,
        };
      },
    ).finally(() => {
      job.finished_at = new Date().toISOString();
      this.running = undefined;
      this.next();
    });
  }

  /** Forgets the oldest finished jobs beyond `keep`. */
  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => j.status === "succeeded" || j.status === "failed");
    for (const j of finished.slice(0, Math.max(0, this.jobs.size - this.keep))) this.jobs.delete(j.id);
  }
}
