/**
 * A progress bar on stderr: sentences done/total, rate and ETA. On a terminal it redraws one line;
 * otherwise (CI logs, pipes) it prints a line at most every few seconds and at the end.
 */

export interface ProgressSink {
  /** `done` sentences of `total` finished; `label` names the current set and direction. */
  update(done: number, label: string): void;
  finish(): void;
}

interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

/** One progress line: "[#####.....] 120/997 sentences  4.1 sent/s  ETA 3m32s  flores200-dev de-en". */
export function progressLine(done: number, total: number, elapsedSeconds: number, label: string, width = 24): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * width);
  const rate = elapsedSeconds > 0 ? done / elapsedSeconds : 0;
  const eta = rate > 0 ? formatDuration((total - done) / rate) : "?";
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} sentences  ${rate.toFixed(1)} sent/s  ETA ${eta}  ${label}`;
}

export class ProgressBar implements ProgressSink {
  private readonly started = Date.now();
  private lastPrinted = 0;
  private lastLine = "";

  constructor(
    private readonly total: number,
    private readonly out: Out = process.stderr,
    private readonly intervalMs = 5000,
  ) {}

  update(done: number, label: string): void {
    const elapsed = (Date.now() - this.started) / 1000;
    this.lastLine = progressLine(done, this.total, elapsed, label);
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${this.lastLine}`);
    } else if (Date.now() - this.lastPrinted >= this.intervalMs || done === this.total) {
      this.out.write(`${this.lastLine}\n`);
      this.lastPrinted = Date.now();
    }
  }

  finish(): void {
    if (this.out.isTTY && this.lastLine !== "") this.out.write("\n");
  }
}

/** For callers that want no output. */
export const SILENT_PROGRESS: ProgressSink = { update: () => undefined, finish: () => undefined };
