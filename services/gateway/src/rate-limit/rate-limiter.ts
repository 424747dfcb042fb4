import { HttpStatus, Injectable } from '@nestjs/common';
import { BestEffortRedis } from '@omnipay/platform';
import type { Response } from 'express';
import { apiError } from '../common/public-error';

/** One command per request (not MULTI, INCR, PEXPIRE, EXEC): the window's key expires a second after it ends. */
const COUNT_IN_WINDOW = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;
const WINDOW_MS = 60_000;

/**
 * Fixed one-minute windows counted in Redis, so every gateway replica shares them. While Redis is unreachable each
 * replica counts on its own (a limit then holds per replica): rate limiting must not take the checkout down with it,
 * nor switch off when card testers find Redis away.
 */
@Injectable()
export class RateLimiter {
  private readonly local = new LocalWindows();

  constructor(private readonly redis: BestEffortRedis) {}

  /** Counts one request of `bucket` in this minute; answers 429 (with Retry-After) once there are more than `limit`. */
  async take(bucket: string, limit: number, res: Response): Promise<void> {
    const window = Math.floor(Date.now() / WINDOW_MS);
    const key = `ratelimit:${bucket}:${window}`;
    const shared = await this.redis.attempt('rate_limit', (r) =>
      r.eval(COUNT_IN_WINDOW, 1, key, WINDOW_MS + 1000),
    );
    const count = shared.ok ? Number(shared.value) : this.local.count(key, window);
    res.setHeader('RateLimit-Limit', String(limit));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, limit - count)));
    if (count > limit) {
      res.setHeader('Retry-After', String(60 - Math.floor((Date.now() / 1000) % 60)));
      throw apiError(
        HttpStatus.TOO_MANY_REQUESTS,
        'rate_limited',
        'rate limit exceeded; retry after Retry-After seconds',
      );
    }
  }
}

/** The same fixed windows in this process's memory, for while Redis is away; a new window forgets the old one. */
class LocalWindows {
  private window = -1;
  private counts = new Map<string, number>();

  count(key: string, window: number): number {
    if (window !== this.window) {
      this.window = window;
      this.counts = new Map();
    }
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n;
  }
}
