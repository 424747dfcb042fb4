import { type ArgumentsHost, Catch, HttpException, HttpStatus, type HttpServer } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { JsonLogger } from '@omnipay/observability';
import { isDatabaseUnavailable, isTransientConflict } from '@omnipay/persistence';
import type { Request, Response } from 'express';
import { ApiError } from './api-error';

function sqlState(error: unknown): string {
  const e = error as { code?: string; driverError?: { code?: string } } | null;
  return e?.driverError?.code ?? e?.code ?? '';
}

/**
 * HTTP answers for errors a retry can cure. Database errors of that kind (the database is down or restarting, or
 * the request lost a race for a row: lock timeout, deadlock, serialisation failure) become a 503 instead of a 500,
 * and every 503 carries Retry-After, so callers (the gateway, a client with its Idempotency-Key) retry instead of
 * treating it as a bug. Everything else goes to Nest's own handling unchanged, or, given `errorBody` (the gateway's
 * one public error shape), is answered in that shape. (`super.catch` is ExceptionFilter#catch, not Promise#catch,
 * whatever the promise lint rule thinks.)
 */
@Catch()
export class RetryableErrorsFilter extends BaseExceptionFilter {
  constructor(
    httpAdapter: HttpServer,
    private readonly logger: JsonLogger,
    private readonly errorBody?: (status: number, body: unknown) => object,
  ) {
    super(httpAdapter);
  }

  override catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.getType() === 'http' ? host.switchToHttp().getResponse<Response>() : undefined;
    // Not HTTP, or too late to shape the answer: Nest's own handling copes.
    // eslint-disable-next-line promise/valid-params
    if (!res || res.headersSent) return super.catch(exception, host);
    if (exception instanceof ApiError && exception.ourBug) {
      const req = host.switchToHttp().getRequest<Request>();
      const route = (req.route as { path?: string } | undefined)?.path ?? req.path;
      this.logger.pino.error(
        { status: exception.getStatus(), code: exception.code, method: req.method, route, detail: exception.message },
        `answered ${exception.getStatus()} ${exception.code}: a bug of ours, not of the caller`,
      );
    }
    if (exception instanceof HttpException) {
      // Every 503 of these services means "retry shortly" (Stripe rate-limiting us, a dependency restarting).
      if (exception.getStatus() === 503) res.setHeader('Retry-After', '1');
      if (this.errorBody) {
        res.status(exception.getStatus()).json(this.errorBody(exception.getStatus(), exception.getResponse()));
        return;
      }
      // eslint-disable-next-line promise/valid-params
      return super.catch(exception, host);
    }
    const unavailable = isDatabaseUnavailable(exception);
    // A statement timeout (57014) is not here: it is mostly an expensive query, and telling every client to come
    // back in a second would add load to a database that is already slow. It stays a 500.
    const busy = !unavailable && isTransientConflict(exception);
    // Express's body parser refuses with http-errors (413 too large, 400 not JSON), which Nest answers by status.
    const httpError = exception as { status?: unknown; expose?: unknown; message?: unknown } | null;
    if (this.errorBody && typeof httpError?.status === 'number' && httpError.status >= 400 && httpError.status < 500) {
      res.status(httpError.status).json(this.errorBody(httpError.status, httpError.expose ? httpError.message : undefined));
      return;
    }
    if (!unavailable && !busy && this.errorBody) {
      this.logger.pino.error({ err: exception }, 'unhandled error; answered 500');
      res.status(HttpStatus.INTERNAL_SERVER_ERROR).json(this.errorBody(HttpStatus.INTERNAL_SERVER_ERROR, 'internal error'));
      return;
    }
    // eslint-disable-next-line promise/valid-params
    if (!unavailable && !busy) return super.catch(exception, host);
    const code = unavailable ? 'database_unavailable' : 'busy';
    this.logger.pino.warn({ err: exception, sqlState: sqlState(exception) }, `answered 503 ${code}`);
    const body = {
      error: { code, message: unavailable ? 'the database is unavailable; retry shortly' : 'the data is busy; retry shortly' },
    };
    res
      .status(HttpStatus.SERVICE_UNAVAILABLE)
      .setHeader('Retry-After', '1')
      .json(this.errorBody ? this.errorBody(HttpStatus.SERVICE_UNAVAILABLE, body) : body);
  }
}
