import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { JsonLogger } from '@omnipay/observability';
import { PollLoop } from './poll-loop';

/**
 * A background worker of a service on a `PollLoop`: its passes start with the application and stop with it (the
 * pass under way is finished first); a failed pass is logged at warn and tried again at the next interval.
 */
export abstract class PolledWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  protected readonly loop: PollLoop;

  protected constructor(opts: {
    /** what the log line of a failed pass calls it ("payout reconciliation") */
    name: string;
    intervalMs: number;
    logger: JsonLogger;
    /** the first pass after startup (default: one interval) */
    firstDelayMs?: number;
  }) {
    this.firstDelayMs = opts.firstDelayMs;
    this.loop = new PollLoop({
      intervalMs: opts.intervalMs,
      pass: () => this.pass(),
      onError: (error) => opts.logger.pino.warn({ err: error }, `${opts.name} pass failed; will retry`),
    });
  }

  private readonly firstDelayMs?: number;

  /** One pass; true when it was full (a backlog), so that the next one runs at once. */
  protected abstract pass(): Promise<boolean>;

  onApplicationBootstrap(): void {
    this.loop.start(this.firstDelayMs);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  /** Runs a pass shortly: new work was just committed (call it after the commit, e.g. through `afterCommit`). */
  soon(): void {
    this.loop.soon();
  }
}
