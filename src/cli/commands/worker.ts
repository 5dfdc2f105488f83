/**
 * glossa worker [--queue-url URL] [--queue-name NAME] [--concurrency N] [--threads N] [--lock-ms N]
 *
 * Takes evaluation shards queued by `glossa eval --queue` / `glossa calibrate --queue` (src/jobs/) and translates
 * them, until SIGTERM/SIGINT (the shard in hand is finished first; a second signal exits at once). Run any number,
 * on any machine that has the same registry (GLOSSA_DB), corpora and manifests. Progress lines go to stderr.
 */
import { parseArgs } from "node:util";
import { positiveInt, PROCESS_IO, runCommand, UsageError, type CommandIo } from "../../eval/cliSupport.js";

export const WORKER_USAGE =
  "usage: glossa worker [--queue-url redis://...|postgres://...] [--queue-name NAME] [--concurrency N] [--threads N] [--lock-ms N]\n" +
  "  queue: --queue-url, else GLOSSA_QUEUE, else GLOSSA_DB when it is a postgres:// URL, else redis://127.0.0.1:6379";

export async function workerCommand(argv: string[], io: CommandIo = PROCESS_IO, stop?: Promise<unknown>): Promise<number> {
  return runCommand(io, WORKER_USAGE, async () => {
    const { values } = parseArgs({
      args: argv,
      options: {
        "queue-url": { type: "string" },
        "queue-name": { type: "string" },
        concurrency: { type: "string" },
        threads: { type: "string" },
        "lock-ms": { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      io.stdout.write(`${WORKER_USAGE}\n`);
      return 0;
    }
    const concurrency = positiveInt(values.concurrency, "--concurrency");
    const threads = positiveInt(values.threads, "--threads");
    const lockMs = positiveInt(values["lock-ms"], "--lock-ms");
    if (lockMs !== undefined && lockMs < 1000) throw new UsageError("--lock-ms must be at least 1000");
    const { queueTarget, describeTarget, QueueConfigError } = await import("../../jobs/queue.js");
    const { startEvalWorker } = await import("../../jobs/eval-worker.js");
    let target;
    try {
      target = queueTarget(values["queue-url"], values["queue-name"]);
    } catch (e) {
      if (e instanceof QueueConfigError) throw new UsageError(e.message);
      throw e;
    }
    const running = await startEvalWorker({
      target,
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(lockMs !== undefined ? { lockDurationMs: lockMs, stalledIntervalMs: Math.max(500, Math.floor(lockMs / 2)) } : {}),
      log: (line) => io.stderr.write(`${line}\n`),
    });
    io.stderr.write(`glossa worker ready: ${describeTarget(target)} (pid ${process.pid})\n`);
    await (stop ??
      new Promise<void>((resolve) => {
        let signals = 0;
        const onSignal = (sig: NodeJS.Signals): void => {
          if (++signals > 1) process.exit(130);
          io.stderr.write(`${sig}: finishing the shard in hand, then exiting\n`);
          resolve();
        };
        process.on("SIGTERM", onSignal);
        process.on("SIGINT", onSignal);
      }));
    await running.close();
    io.stderr.write(`glossa worker: ${running.done()} shard(s) done, exiting\n`);
    return 0;
  });
}
