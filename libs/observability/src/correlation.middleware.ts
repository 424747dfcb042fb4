import { Inject, Injectable, Optional, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { newContext, runWithContext, type RequestContext } from './request-context';
import { httpRequestDuration } from './metrics';
import { JsonLogger } from './logger';

/**
 * Gives every HTTP request a correlation id (the caller's `X-Correlation-Id` if it is a sane id), continues or
 * starts a W3C trace, echoes both on the response, and logs one line per request with its duration.
 */
export const ACCESS_LOG_MODE = Symbol('ACCESS_LOG_MODE');

@Injectable()
export class CorrelationMiddleware implements NestMiddleware {
  constructor(
    private readonly logger: JsonLogger,
    @Optional() @Inject(ACCESS_LOG_MODE) private readonly mode: 'all' | 'errors' = 'all',
  ) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const ctx = newContext({ correlationId: req.header('x-correlation-id'), traceparent: req.header('traceparent') });
    res.setHeader('X-Correlation-Id', ctx.correlationId);
    res.setHeader('traceparent', ctx.traceparent);
    logWhenFinished(this.logger, req, res, ctx, this.mode);
    runWithContext(ctx, next);
  }
}

/**
 * One access-log line and one duration sample per request, when its answer is sent: for the middleware above, and for
 * an answer given before Nest's middleware runs (the gateway's 405).
 */
export function logWhenFinished(logger: JsonLogger, req: Request, res: Response, ctx: RequestContext, mode: 'all' | 'errors' = 'all'): void {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
    httpRequestDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
    if (route === '/metrics' || route.startsWith('/health')) return;
    if (mode === 'errors' && res.statusCode < 400 && seconds < 1) return;
    // Who asked (set by the gateway's auth guard): a refused or hidden object (403, 404) names its principal, so
    // an audit can tell a probing client from a mistake. Ids and role only, never the token.
    const user = (req as Request & { user?: { sub?: string; role?: string; storeId?: string } }).user;
    const principal = user?.sub ? { sub: user.sub, role: user.role, ...(user.storeId ? { storeId: user.storeId } : {}) } : undefined;
    runWithContext(ctx, () =>
      logger.pino.info(
        {
          method: req.method,
          path: req.path,
          route,
          status: res.statusCode,
          ms: Math.round(seconds * 1e4) / 10,
          ...(principal ? { principal } : {}),
        },
        'http request',
      ),
    );
  });
}
