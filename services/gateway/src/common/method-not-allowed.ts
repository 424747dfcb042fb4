import type { NextFunction, Request, Response } from 'express';
import { type JsonLogger, logWhenFinished, newContext } from '@omnipay/observability';
import { publicError } from './public-error';

export interface KnownRoute {
  method: string;
  /** OpenAPI style: `/v1/orders/{id}` */
  path: string;
}

/**
 * 405 with `Allow` for a path the API serves under other methods (`DELETE /v1/checkout`), where Nest would say 404
 * and let a client believe the path does not exist. Paths nobody serves still get their 404.
 */
export function methodNotAllowed(routes: KnownRoute[], logger?: JsonLogger) {
  const byPath = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const r of routes) {
    let entry = byPath.get(r.path);
    if (!entry) {
      const source = r.path
        .split(/\{[^}]+\}/)
        .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
        .join('[^/]+');
      byPath.set(r.path, (entry = { pattern: new RegExp(`^${source}/?$`, 'i'), methods: new Set() }));
    }
    entry.methods.add(r.method.toUpperCase());
    if (r.method.toUpperCase() === 'GET') entry.methods.add('HEAD');
  }
  const entries = [...byPath.values()];
  return (req: Request, res: Response, next: NextFunction): void => {
    const matching = entries.filter((e) => e.pattern.test(req.path));
    if (matching.length === 0 || matching.some((e) => e.methods.has(req.method))) return next();
    const allowed = [...new Set(matching.flatMap((e) => [...e.methods]))].sort();
    // Express runs this before Nest's middleware, which this answer ends the request before: the answer carries its
    // correlation id and trace context, its access-log line and its duration sample here, like every other answer.
    const ctx = newContext({ correlationId: req.header('x-correlation-id'), traceparent: req.header('traceparent') });
    if (logger) logWhenFinished(logger, req, res, ctx);
    res
      .setHeader('X-Correlation-Id', ctx.correlationId)
      .setHeader('traceparent', ctx.traceparent)
      .status(405)
      .setHeader('Allow', allowed.join(', '))
      .json(publicError(405, `${req.method} is not allowed here; use ${allowed.join(', ')}`));
  };
}

