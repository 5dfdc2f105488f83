#!/usr/bin/env node
/**
 * The `glossa` command line: `glossa <command> [options]`.
 *
 * To add a command: write src/cli/commands/<name>.ts exporting an async function
 * `(argv: string[]) => Promise<number>` (argv = the arguments after the command name, result = exit
 * code) and add one row to COMMANDS whose `load` imports it.
 *
 * Commands are imported lazily, only when invoked: `glossa score` then does not load the registry
 * database, the native engine or any other command's dependencies, and a command that fails to load
 * cannot take the others down.
 */

type CommandRun = (argv: string[]) => Promise<number>;

interface CommandEntry {
  /** Imports the command module and returns its entry point. */
  load: () => Promise<CommandRun>;
  /** One line for `glossa --help`. */
  summary: string;
}

const COMMANDS: Record<string, CommandEntry> = {
  score: {
    load: async () => (await import("./commands/score.js")).scoreCommand,
    summary: "BLEU / chrF / chrF++ of a hypothesis file against reference files (sacreBLEU 2.6.0)",
  },
  eval: {
    load: async () => { const { evalCommand } = await import("./commands/eval.js"); return (argv) => evalCommand(argv); },
    summary: "translate evaluation sets with an engine, score BLEU and chrF++, record the runs",
  },
  gate: {
    load: async () => { const { gateCommand } = await import("./commands/gate.js"); return (argv) => gateCommand(argv); },
    summary: "compare an engine's runs with the reference engine's; release it or reject it",
  },
  releases: {
    load: async () => { const { releasesCommand } = await import("./commands/releases.js"); return (argv) => releasesCommand(argv); },
    summary: "list released engines (the reference baseline and gated releases)",
  },
  calibrate: {
    load: async () => { const { calibrateCommand } = await import("./commands/calibrate.js"); return (argv) => calibrateCommand(argv); },
    summary: "build a per-language INT8 / AWQ-INT4 engine, register it, evaluate and gate it (table per pair)",
  },
  worker: {
    load: async () => { const { workerCommand } = await import("./commands/worker.js"); return (argv) => workerCommand(argv); },
    summary: "process evaluation shards queued by glossa eval --queue / glossa calibrate --queue",
  },
  "calib-data": {
    load: async () => { const { calibDataCommand } = await import("./commands/calib-data.js"); return (argv) => calibDataCommand(argv); },
    summary: "per-language calibration sets: import, sample, list, stats, exclude, verify",
  },
  keys: {
    load: async () => { const { keysCommand } = await import("./commands/keys.js"); return (argv) => keysCommand(argv); },
    summary: "API keys of the translation API: create (with chars/month and requests/minute limits), list, revoke",
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: glossa <command> [options]   (glossa <command> --help for its options)\n\ncommands:\n${lines.join("\n")}\n`;
}

/** An error as one line (its stack only when GLOSSA_DEBUG is set). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return process.env.GLOSSA_DEBUG ? err.stack ?? err.message : err.message;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    (name === undefined ? process.stderr : process.stdout).write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`glossa: unknown command ${JSON.stringify(name)}\n${usage()}`);
    return 2;
  }
  let run: CommandRun;
  try {
    run = await command.load();
  } catch (err) {
    process.stderr.write(`glossa ${name}: error: cannot load the command: ${describe(err)}\n`);
    return 1;
  }
  try {
    return await run(rest);
  } catch (err) {
    // A failure the command did not turn into an exit code.
    process.stderr.write(`glossa ${name}: error: ${describe(err)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
