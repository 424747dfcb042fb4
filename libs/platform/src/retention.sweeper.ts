import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { BaseConfig } from '@omnipay/config';
import { JsonLogger, metricsRegistry } from '@omnipay/observability';
import { pruneBatch, type RetentionRule } from '@omnipay/persistence';
import { Counter } from 'prom-client';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from './tokens';

export const RETENTION_RULES = Symbol('RETENTION_RULES');

/** Rows per DELETE: each batch is its own short statement, so the tables stay writable while a sweep runs. */
const BATCH = 5000;
/** A sweep stops after this long and goes on at the next one: a large first backlog is spread out. */
const SWEEP_BUDGET_MS = 60_000;

const pruned = new Counter({
  name: 'retention_rows_deleted_total',
  help: 'Rows deleted by the retention sweeper, by table',
  labelNames: ['table'],
  registers: [metricsRegistry],
});

/**
 * Deletes what each retention rule says may go, every RETENTION_SWEEP_MS, in batches. Replicas may sweep at the
 * same time: a row deleted by one is skipped by the other, so the cost is a duplicated scan, never a wrong delete.
 * The first sweep waits a random part of the interval so a fleet restarted together does not sweep together.
 */
@Injectable()
export class RetentionSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: JsonLogger,
    @Inject(RETENTION_RULES) private readonly rules: RetentionRule[],
    @Inject(APP_CONFIG) private readonly config: BaseConfig,
  ) {}

  onApplicationBootstrap(): void {
    const every = this.config.RETENTION_SWEEP_MS;
    if (every > 0) this.schedule(Math.floor(Math.random() * every));
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      this.running = this.sweep().catch((error: unknown) => this.logger.pino.warn({ err: error }, 'retention sweep failed; will retry'));
      await this.running;
      this.running = undefined;
      this.schedule(this.config.RETENTION_SWEEP_MS);
    }, ms);
    this.timer.unref();
  }

  /** One sweep over every rule; returns the rows deleted per table. */
  async sweep(now = new Date()): Promise<Record<string, number>> {
    const deadline = Date.now() + SWEEP_BUDGET_MS;
    const deleted: Record<string, number> = {};
    for (const rule of this.rules) {
      if (rule.keepMs <= 0) continue;
      let total = 0;
      for (;;) {
        if (this.stopped || Date.now() > deadline) break;
        const n = await pruneBatch(this.dataSource, rule, now, BATCH);
        total += n;
        if (n < BATCH) break;
      }
      deleted[rule.table] = total;
      if (total > 0) {
        pruned.inc({ table: rule.table }, total);
        this.logger.pino.info({ table: rule.table, deleted: total, keptHours: rule.keepMs / 3_600_000 }, 'retention: old rows deleted');
      }
    }
    return deleted;
  }
}
