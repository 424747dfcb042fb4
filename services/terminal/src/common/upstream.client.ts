import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, serviceAuthorization } from '@omnipay/platform';
import { JsonLogger, currentContext } from '@omnipay/observability';
import type { TerminalConfig } from '../config';
import { ApiError } from './http-errors';

export interface UpstreamAnswer<T> {
  status: number;
  body: T;
}

/**
 * Internal HTTP to payments and orders, with a timeout (a slow peer is a 504, never a hang) and the caller's
 * correlation id. Answers of any status are returned; only transport failures throw.
 */
@Injectable()
export class UpstreamClient {
  /** Payments' and orders' internal APIs ask for it (decision 0024). */
  private readonly authorization: Record<string, string>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: TerminalConfig,
    private readonly logger: JsonLogger,
  ) {
    this.authorization = serviceAuthorization(config, 'terminal calls payments and orders');
  }

  payments<T>(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}) {
    return this.call<T>('payments', this.config.PAYMENTS_URL, method, path, body, headers);
  }

  orders<T>(method: 'GET' | 'POST', path: string): Promise<UpstreamAnswer<T>> | null {
    if (!this.config.ORDERS_URL) return null;
    return this.call<T>('orders', this.config.ORDERS_URL, method, path);
  }

  private async call<T>(
    peer: string,
    base: string,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<UpstreamAnswer<T>> {
    const ctx = currentContext();
    let res: Response;
    try {
      res = await fetch(`${base.replace(/\/$/, '')}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(ctx ? { 'x-correlation-id': ctx.correlationId } : {}),
          ...headers,
          ...this.authorization,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.config.UPSTREAM_TIMEOUT_MS),
      });
    } catch (error) {
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw new ApiError(
        timedOut ? HttpStatus.GATEWAY_TIMEOUT : HttpStatus.BAD_GATEWAY,
        `${peer}_unavailable`,
        `${peer} did not answer${timedOut ? ' in time' : ''}`,
      );
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    // Payments and orders authenticate no one but their callers (decision 0024): a 401 is our SERVICE_TOKEN refused,
    // an outage to alert on, not a refusal to pass on to the POS.
    if (res.status === 401) {
      this.logger.pino.error({ peer, path }, `${peer} refused terminal's SERVICE_TOKEN`);
      throw new ApiError(HttpStatus.BAD_GATEWAY, `${peer}_unavailable`, `${peer} refused terminal`);
    }
    return { status: res.status, body: parsed as T };
  }
}

/** The `{error:{code,message}}` of a peer's answer, passed on to our caller with the peer's status. */
export function relayError(peer: string, answer: UpstreamAnswer<unknown>): ApiError {
  const err = (answer.body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)
    ?.error;
  // A 503 is the peer saying "busy, retry shortly" (Stripe rate-limiting it, its database restarting): kept a 503.
  if (answer.status === 503)
    return new ApiError(HttpStatus.SERVICE_UNAVAILABLE, err?.code ?? `${peer}_busy`, err?.message ?? `${peer} is busy; retry shortly`);
  if (answer.status >= 500)
    return new ApiError(HttpStatus.BAD_GATEWAY, `${peer}_unavailable`, `${peer} answered ${answer.status}`);
  return new ApiError(
    answer.status,
    err?.code ?? `${peer}_refused`,
    err?.message ?? `${peer} answered ${answer.status}`,
    err?.details,
  );
}
