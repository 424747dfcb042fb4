import { Inject, Injectable } from '@nestjs/common';
import { JsonLogger, redisFallbacks } from '@omnipay/observability';
import type Redis from 'ioredis';
import { REDIS } from './tokens';

export type Attempt<T> = { ok: true; value: T } | { ok: false };

const WARN_EVERY_MS = 60_000;

/**
 * Redis as the platform uses it: idempotency locks and cached answers, rate-limit counters. None of it is the only
 * copy of a fact (the services' own idempotency lives in PostgreSQL), so while Redis is away a request goes on
 * without it rather than failing. A command is not even sent while the client is disconnected: ioredis would
 * otherwise hold it through its reconnect attempts, adding that wait to every request of an outage.
 */
@Injectable()
export class BestEffortRedis {
  private warnedAt = new Map<string, number>();

  constructor(
    @Inject(REDIS) readonly client: Redis,
    private readonly logger: JsonLogger,
  ) {}

  get connected(): boolean {
    return this.client.status === 'ready';
  }

  /** Runs the command; `{ ok: false }` (counted, and logged once a minute per use) when Redis is unreachable. */
  async attempt<T>(use: string, command: (redis: Redis) => Promise<T>): Promise<Attempt<T>> {
    if (!this.connected) return this.fallback(use, `Redis is ${this.client.status}`);
    try {
      return { ok: true, value: await command(this.client) };
    } catch (error) {
      return this.fallback(use, error instanceof Error ? error.message : String(error));
    }
  }

  private fallback(use: string, reason: string): { ok: false } {
    redisFallbacks.inc({ use });
    const now = Date.now();
    if (now - (this.warnedAt.get(use) ?? 0) >= WARN_EVERY_MS) {
      this.warnedAt.set(use, now);
      this.logger.pino.warn({ use, reason }, 'Redis unreachable: going on without it');
    }
    return { ok: false };
  }
}
