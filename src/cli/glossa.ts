#!/usr/bin/env node
/**
 * The `glossa` command line: `glossa <command> [options]`.
 *
 * To add a command: write src/cli/commands/<name>.ts exporting an async function
 * `(argv: string[]) => Promise<number>` (argv = the arguments after the command name, result = exit
 * code), import it below and add one row to COMMANDS.
 */
import { scoreCommand } from "./commands/score.js";
import { evalCommand } from "./commands/eval.js";
import { gateCommand } from "./commands/gate.js";
import { releasesCommand } from "./commands/releases.js";
import { calibDataCommand } from "./commands/calib-data.js";

interface CommandEntry {
  /** Runs the command on the arguments after its name; resolves to the process exit code. */
  run: (argv: string[]) => Promise<number>;
  /** One line for `glossa --help`. */
  summary: string;
}

const COMMANDS: Record<string, CommandEntry> = {
  score: { run: scoreCommand, summary: "BLEU / chrF / chrF++ of a hypothesis file against reference files (sacreBLEU 2.6.0)" },
  eval: { run: (argv) => evalCommand(argv), summary: "translate evaluation sets with an engine, score BLEU and chrF++, record the runs" },
  gate: { run: (argv) => gateCommand(argv), summary: "compare an engine's runs with the reference engine's; release it or reject it" },
  releases: { run: (argv) => releasesCommand(argv), summary: "list released engines (the reference baseline and gated releases)" },
  "calib-data": { run: (argv) => calibDataCommand(argv), summary: "per-language calibration sets: import, sample, list, stats, exclude, verify" },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: glossa <command> [options]   (glossa <command> --help for its options)\n\ncommands:\n${lines.join("\n")}\n`;
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
  try {
    return await command.run(rest);
  } catch (err) {
    // A failure the command did not turn into an exit code: report it without a stack trace
    // unless GLOSSA_DEBUG is set.
    const detail = err instanceof Error ? (process.env.GLOSSA_DEBUG ? err.stack ?? err.message : err.message) : String(err);
    process.stderr.write(`glossa ${name}: error: ${detail}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
