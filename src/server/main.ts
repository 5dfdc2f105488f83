/**
 * `npm start`: serves the reference model over HTTP. Settings from env variables or flags (see settings.ts).
 * SIGTERM/SIGINT shut down gracefully: /ready answers 503 and new work is refused at once, running translations
 * get GLOSSA_SHUTDOWN_GRACE_MS to finish; exit 0 when nothing was dropped, 3 when some had to be; a second signal
 * exits at once.
 */
import { formatAccess, formatMessage, type LogFormat } from "./access-log.js";
import { loadSettings, SettingsError, usage, type ServerSettings } from "./settings.js";
import { startServer, type RunningServer } from "./server.js";

/** Messages go to stderr, access records to stdout; both as text or JSON lines (GLOSSA_LOG_FORMAT). */
let logFormat: LogFormat = process.env.GLOSSA_LOG_FORMAT === "json" ? "json" : "text";

function log(msg: string, err?: unknown): void {
  console.error(formatMessage(logFormat, err === undefined ? "info" : "error", msg, err));
}

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    console.log(usage());
    process.exit(0);
  }
  let settings: ServerSettings;
  try {
    settings = loadSettings();
  } catch (err) {
    if (err instanceof SettingsError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }

  logFormat = settings.logFormat;
  // A stray rejected promise does not corrupt state: log it and keep serving.
  process.on("unhandledRejection", (reason) => log("unhandled promise rejection (still serving)", reason));

  const server: RunningServer = await startServer({
    settings,
    log,
    access: (record) => process.stdout.write(`${formatAccess(logFormat, record)}\n`),
  });
  log(`glossa listening on ${server.url} (model ${settings.modelDir}, threads ${settings.threads})`);

  // An exception nobody caught may have left state half-updated: stop taking work, finish what runs, exit 1.
  process.on("uncaughtException", (err) => {
    log("uncaught exception; shutting down", err);
    void server.close(settings.shutdownGraceMs).finally(() => process.exit(1));
  });

  server.ready.then(
    () => log(`glossa ready: ${server.url}/translate`),
    (err: unknown) => {
      log("engine failed to load; exiting", err);
      void server.close(0).finally(() => process.exit(1));
    },
  );

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log(`${sig} again: exiting now`);
      process.exit(130);
    }
    log(`${sig}: finishing running translations (up to ${settings.shutdownGraceMs} ms), then exiting`);
    server.close(settings.shutdownGraceMs).then(
      ({ dropped }) => {
        if (dropped > 0) {
          log(`shut down with ${dropped} translation request(s) dropped at the grace limit; exit status 3`);
          process.exit(3);
        }
        log("shut down cleanly");
        process.exit(0);
      },
      (err: unknown) => {
        log("error during shutdown", err);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

main().catch((err: unknown) => {
  log("failed to start", err);
  process.exit(1);
});
