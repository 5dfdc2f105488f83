/**
 * Translation work in flight (from an accepted request to its last pass settling), so that a shutdown can let it
 * finish for the grace period and then say exactly how much it dropped.
 */
export class WorkTracker {
  private running = 0;
  private waiters: Array<() => void> = [];

  /** Counts one unit of work; the returned function ends it (calling it again does nothing). */
  begin(): () => void {
    this.running++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.running--;
      if (this.running === 0) for (const w of this.waiters.splice(0)) w();
    };
  }

  get count(): number {
    return this.running;
  }

  /** Resolves true when no work is running, false when timeoutMs passed first. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.running === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, Math.max(0, timeoutMs));
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }
}
