import { CanActivate, ExecutionContext, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, REDIS } from '@omnipay/platform';
import type { Response } from 'express';
import type Redis from 'ioredis';
import type { AuthedRequest } from '../auth/auth.decorators';
import { isOperationalPath } from '../auth/auth.guard';
import type { GatewayConfig } from '../config';
import { apiError } from '../common/public-error';

/** One command per request (not MULTI, INCR, PEXPIRE, EXEC): the window's key expires a second after it ends. */
const COUNT_IN_WINDOW = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

/**
 * Fixed one-minute windows per client (token subject, else IP) and route, counted in Redis so every gateway
 * replica shares them. If Redis is unreachable the request goes through: rate limiting must not take the
 * checkout down with it.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    if (isOperationalPath(req.path)) return true;
    const res = context.switchToHttp().getResponse<Response>();
    const route = (req.route as { path?: string } | undefined)?.path ?? req.path;
    const client = req.user?.sub ?? req.ip ?? 'unknown';
    const window = Math.floor(Date.now() / 60000);
    const key = `ratelimit:${client}:${req.method}:${route}:${window}`;
    let count: number;
    try {
      count = Number(await this.redis.eval(COUNT_IN_WINDOW, 1, key, 61000));
    } catch {
      return true;
    }
    const limit = this.config.RATE_LIMIT_PER_MINUTE;
    res.setHeader('RateLimit-Limit', String(limit));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, limit - count)));
    if (count > limit) {
      res.setHeader('Retry-After', String(60 - Math.floor((Date.now() / 1000) % 60)));
      throw apiError(HttpStatus.TOO_MANY_REQUESTS, 'rate_limited', 'rate limit exceeded; retry after Retry-After seconds');
    }
    return true;
  }
}
