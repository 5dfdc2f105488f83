/**
 * Worker thread of the calibration-data admin jobs (src/server/routes/calib-admin.ts): opens its own registry
 * connection, runs one sample or exclude, posts progress lines and the result (or the error with the HTTP status
 * the synchronous routes give it), and exits. The server's event loop never runs this work. On Linux the thread
 * lowers its own CPU priority (nice 10: setpriority on the calling thread), so translation keeps the cores first.
 */
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { CalibDataError, CalibInputError, CalibNotFoundError, CorpusChangedError } from "../../calib/data/errors.js";
import { excludeMembers, sampleSet, type CalibDataContext } from "../../calib/data/service.js";
import { openRegistry } from "../../storage/db.js";

export interface AdminJobInput {
  kind: "calib-data.sample" | "calib-data.exclude";
  params: Record<string, unknown>;
  context: { dbPath?: string; corpora: string; repoRoot: string; manifestDir: string; evalDir: string };
}

export type AdminJobMessage =
  | { type: "log"; line: string }
  | { type: "done"; result: unknown }
  | { type: "failed"; message: string; status: number };

function statusOf(e: unknown): number {
  if (e instanceof CalibNotFoundError) return 404;
  if (e instanceof CalibInputError) return 400;
  if (e instanceof CorpusChangedError) return 409;
  if (e instanceof CalibDataError) return 500;
  return 500;
}

async function main(): Promise<void> {
  const port = parentPort!;
  const input = workerData as AdminJobInput;
  const post = (m: AdminJobMessage) => port.postMessage(m);
  if (process.platform === "linux") {
    try {
      setPriority(10);
    } catch {
      // not allowed here: run at the normal priority
    }
  }
  const registry = await openRegistry(input.context.dbPath !== undefined ? { path: input.context.dbPath } : {});
  try {
    const ctx: CalibDataContext = { db: registry.db, ...input.context, log: (line) => post({ type: "log", line }) };
    const p = input.params;
    const result =
      input.kind === "calib-data.sample"
        ? await sampleSet(ctx, p as unknown as Parameters<typeof sampleSet>[1])
        : await excludeMembers(ctx, String(p.set), p as unknown as Parameters<typeof excludeMembers>[2]);
    post({ type: "done", result });
  } catch (e) {
    post({ type: "failed", message: e instanceof Error ? e.message : String(e), status: statusOf(e) });
  } finally {
    await registry.close();
  }
}

main().catch((e: unknown) => parentPort?.postMessage({ type: "failed", message: e instanceof Error ? e.message : String(e), status: 500 }));
