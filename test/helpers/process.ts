/**
 * Child processes of Glossa's own entry points for tests that need a separate process (servers, workers):
 * the compiled file under dist/ when the tests run compiled, the TypeScript source through tsx otherwise.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../src/config.js";

/** node arguments that run src/<entry>.ts (e.g. "server/main", "cli/glossa"). */
export function entryCommand(entry: string): string[] {
  return import.meta.url.endsWith(".ts")
    ? ["--import", "tsx", join(repoRoot(), "src", `${entry}.ts`)]
    : [join(repoRoot(), "dist", "src", `${entry}.js`)];
}

export interface CapturedProcess {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  /** The exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Starts node with `args` in the repository root, env added to this process's, output captured. */
export function spawnCapturing(args: string[], env: Record<string, string> = {}): CapturedProcess {
  const child = spawn(process.execPath, args, { cwd: repoRoot(), env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, output: () => out, exited };
}

/** Waits until the process has printed a match of `re` (checked every 10 ms); fails if it exits first or on time-out. */
export async function waitForOutput(p: Pick<CapturedProcess, "output" | "exited">, re: RegExp, timeoutMs = 120_000): Promise<RegExpExecArray> {
  const end = Date.now() + timeoutMs;
  let gone = false;
  void p.exited.then(() => (gone = true));
  for (;;) {
    const m = re.exec(p.output());
    if (m) return m;
    if (gone) throw new Error(`process exited before printing ${re}:\n${p.output()}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${re}:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
