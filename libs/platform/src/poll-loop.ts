/**
 * The timer of a worker that polls a table: a pass every `intervalMs`; the next one at once while passes come back
 * full (a backlog); one shortly after `soon()` (new work was just committed). A wake-up during a pass is kept: one
 * more pass runs right after it. `stop()` waits for a running pass. A failed pass is reported and the loop goes on.
 */
export class PollLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    private readonly opts: {
      intervalMs: number;
      /** One pass; true if it was full, so the next should not wait. */
      pass: () => Promise<boolean>;
      onError: (error: unknown) => void;
    },
  ) {}

  start(firstDelayMs = this.opts.intervalMs): void {
    this.schedule(firstDelayMs);
  }

  /** Run shortly (give the caller's transaction time to commit). */
  soon(delayMs = 50): void {
    // During a pass, the wake-up must survive the pass's own rescheduling: one more pass right after it.
    if (this.running) this.again = true;
    this.schedule(delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.again = false;
    let full = false;
    this.running = (async () => {
      try {
        full = await this.opts.pass();
      } catch (error) {
        try {
          this.opts.onError(error);
        } catch {
          // A failing report must not stop the loop.
        }
      }
    })();
    await this.running;
    this.running = undefined;
    this.schedule(full || this.again ? 0 : this.opts.intervalMs);
  }
}
