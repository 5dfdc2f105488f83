/** Shared pieces of the eval, gate and releases commands (src/cli/commands/): output streams, errors, engine lookup. */
import { ConfigError, modelDir } from "../config.js";
import { EngineError } from "../engine/types.js";
import { MetricInputError } from "../metrics/index.js";
import { StorageError, type Registry } from "../storage/db.js";
import { ensureReferenceEngine, findEngine, listEngines, ModelMissingError } from "../storage/engines.js";
import type { EngineRow } from "../storage/schema/models.js";
import { GateError } from "./gate.js";
import { ManifestError } from "./manifest.js";
import { EvalError } from "./runner.js";
import { TranslatorUnavailableError } from "./translator.js";

export interface CommandIo {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
}

export const PROCESS_IO: CommandIo = { stdout: process.stdout, stderr: process.stderr };

/** A usage or input error: printed as "error: ..." with exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Splits "a,b, c" into ["a","b","c"]; undefined stays undefined. */
export function csv(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) throw new UsageError("empty list");
  return parts;
}

export function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new UsageError(`${flag} expects a positive integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

/**
 * The engine named by `--engine` (id or name; "reference" means the reference engine of the model
 * folder). The reference engine of the configured model (GLOSSA_MODEL, default models/glossa-mini-50)
 * is created on first use, so it can be named before anything else is registered.
 */
export async function resolveEngineArg(reg: Registry, arg: string): Promise<{ engine: EngineRow; reference: EngineRow }> {
  const reference = await ensureReferenceEngine(reg.db, modelDir());
  if (arg === "reference") return { engine: reference, reference };
  const engine = await findEngine(reg.db, arg);
  if (!engine) {
    const known = (await listEngines(reg.db)).map((e) => `${e.id}:${e.name}`).join(", ");
    throw new UsageError(`no engine ${JSON.stringify(arg)} in the registry (known: ${known})`);
  }
  return { engine, reference };
}

export function describeEngine(e: EngineRow): string {
  return `${e.name} (#${e.id}, ${e.recipe}, ${e.language ?? "all languages"}${e.isReference ? ", reference" : ""})`;
}


const EXPECTED: ReadonlyArray<new (...args: never[]) => Error> = [
  ConfigError, EngineError, GateError, ManifestError, EvalError, TranslatorUnavailableError, MetricInputError, StorageError, ModelMissingError,
];

/** Runs a command body: usage errors exit 2 (with usage), expected failures exit 1 with their message. */
export async function runCommand(io: CommandIo, usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    // node:util parseArgs reports unknown or malformed flags with these codes.
    const code = (err as { code?: string }).code;
    if (err instanceof UsageError || (code !== undefined && code.startsWith("ERR_PARSE_ARGS"))) {
      io.stderr.write(`error: ${err.message}\n${usage}\n`);
      return 2;
    }
    if (EXPECTED.some((c) => err instanceof c)) {
      io.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    // Unexpected: the message, and the stack when GLOSSA_DEBUG is set (as the dispatcher does).
    io.stderr.write(`error: ${process.env.GLOSSA_DEBUG ? err.stack ?? err.message : `${err.name}: ${err.message}`}\n`);
    return 1;
  }
}
