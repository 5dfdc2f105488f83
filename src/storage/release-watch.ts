/**
 * Noticing release changes made by other processes (other servers, `glossa gate`, workers), for replicas that
 * route requests to released engines.
 *
 * PostgreSQL: recordGateDecision NOTIFYs RELEASES_CHANNEL when its transaction commits; every watcher LISTENs on a
 * dedicated connection and reacts at once. Both dialects also poll a cheap stamp of the release state (number and
 * last id of gate decisions, number of active releases) every pollMs: the only mechanism on SQLite (one machine),
 * and on PostgreSQL the safety net for a notification lost while the listening connection was down. A change is
 * therefore seen within pollMs at worst (default 1 s), within a few milliseconds with LISTEN/NOTIFY.
 */
import { count, eq, max } from "drizzle-orm";
import type { Registry } from "./db.js";
import { RELEASES_CHANNEL } from "./releases.js";

export interface ReleaseWatch {
  close(): Promise<void>;
}

export interface ReleaseWatchOptions {
  /** Polling period in ms (default 1000). */
  pollMs?: number;
  /** Where errors of the watch itself go (a failed poll, a lost listening connection); default: ignored after logging to stderr. */
  log?: (msg: string, err?: unknown) => void;
}

async function stamp(reg: Registry): Promise<string> {
  const { gateDecisions, releases } = reg.db.t;
  const [d] = await reg.db.orm.select({ n: count(), last: max(gateDecisions.id) }).from(gateDecisions);
  const [r] = await reg.db.orm.select({ n: count() }).from(releases).where(eq(releases.active, true));
  return `${d?.n ?? 0}/${d?.last ?? 0}/${r?.n ?? 0}`;
}

/** Calls onChange (never concurrently with itself) whenever releases change in the registry. */
export async function watchReleases(reg: Registry, onChange: () => void, opts: ReleaseWatchOptions = {}): Promise<ReleaseWatch> {
  const log = opts.log ?? ((msg: string, err?: unknown) => process.stderr.write(`${msg}${err ? `: ${(err as Error).message}` : ""}\n`));
  let last = await stamp(reg);
  let closed = false;
  let checking: Promise<void> | undefined;
  let again = false;
  const check = (): Promise<void> => {
    if (checking) {
      again = true;
      return checking;
    }
    checking = (async () => {
      do {
        again = false;
        try {
          const now = await stamp(reg);
          if (now !== last && !closed) {
            last = now;
            onChange();
          }
        } catch (err) {
          if (!closed) log("release watch: reading the registry failed", err);
        }
      } while (again && !closed);
    })().finally(() => {
      checking = undefined;
    });
    return checking;
  };
  const timer = setInterval(() => void check(), opts.pollMs ?? 1000);
  timer.unref();
  let unlisten: (() => Promise<void>) | undefined;
  if (reg.listen) {
    unlisten = await reg.listen(RELEASES_CHANNEL, () => void check(), () => void check());
  }
  return {
    close: async () => {
      closed = true;
      clearInterval(timer);
      await unlisten?.();
      await checking;
    },
  };
}
