import {
  BadGatewayException,
  GatewayTimeoutException,
  HttpException,
  Inject,
  Injectable,
  ServiceUnavailableException,
} from '@nestjs/common';
import { JsonLogger, currentContext } from '@omnipay/observability';
import { APP_CONFIG, serviceAuthorization } from '@omnipay/platform';
import type { GatewayConfig } from '../config';
import { sendJson, UpstreamTimeout } from './http-json';

export type Upstream = 'orders' | 'payments' | 'terminal';

export interface UpstreamResponse<T> {
  status: number;
  body: T;
}

/**
 * Internal HTTP to the owning services. A call that exceeds UPSTREAM_TIMEOUT_MS is a 504, never a hang, and so is a
 * service's own 504; a 503 (busy, database down) stays a 503; an unreachable service or another 5xx is a 502; a 4xx is passed through with
 * the service's message, which is written for clients. Correlation id and trace context go along.
 */
@Injectable()
export class UpstreamClient {
  /** The services' internal APIs ask for it (decision 0024); the client's own Authorization never goes on. */
  private readonly authorization: Record<string, string>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: GatewayConfig,
    private readonly logger: JsonLogger,
  ) {
    this.authorization = serviceAuthorization(config, 'the gateway calls the internal APIs');
  }

  private base(service: Upstream): string {
    const url = { orders: this.config.ORDERS_URL, payments: this.config.PAYMENTS_URL, terminal: this.config.TERMINAL_URL }[service];
    if (!url) throw new BadGatewayException(`${service} is not configured`);
    return url;
  }

  async call<T>(
    service: Upstream,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<UpstreamResponse<T>> {
    const ctx = currentContext();
    let res: { status: number; text: string };
    try {
      res = await sendJson(`${this.base(service)}${path}`, {
        method,
        headers: {
          ...(ctx ? { 'x-correlation-id': ctx.correlationId, traceparent: ctx.traceparent } : {}),
          ...headers,
          ...this.authorization,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        timeoutMs: this.config.UPSTREAM_TIMEOUT_MS,
      });
    } catch (error) {
      if (error instanceof UpstreamTimeout) {
        throw new GatewayTimeoutException(`${service} did not answer within ${this.config.UPSTREAM_TIMEOUT_MS} ms`);
      }
      throw new BadGatewayException(`${service} is unavailable`);
    }
    let parsed: unknown = undefined;
    if (res.text) {
      try {
        parsed = JSON.parse(res.text);
      } catch {
        // A 503 page of a proxy in front of the service is still a 503.
        if (res.status === 503) throw new ServiceUnavailableException(`${service} is unavailable; retry shortly`);
        throw new BadGatewayException(`${service} answered with something that is not JSON`);
      }
    }
    // 503 is a service saying "busy or database down, retry" (the same request, with its Idempotency-Key, is safe);
    // its reason (`stripe_rate_limited`, `busy`, `database_unavailable`) goes along.
    if (res.status === 503) {
      const reason = (parsed as { error?: { code?: string } } | undefined)?.error?.code;
      throw new ServiceUnavailableException(`${service} is busy${reason ? ` (${reason})` : ''}; retry shortly`);
    }
    // A 504 is the service's own call timing out behind it (terminal waiting for payments): as with our own timeout,
    // the outcome is unknown, and the client must learn that rather than a plain failure.
    if (res.status === 504) {
      const reason = (parsed as { error?: { code?: string } } | undefined)?.error?.code;
      throw new GatewayTimeoutException(`${service} timed out behind it${reason ? ` (${reason})` : ''}; the outcome is unknown`);
    }
    if (res.status >= 500) throw new BadGatewayException(`${service} failed (${res.status})`);
    // The services authenticate no one but us (decision 0024): a 401 is our SERVICE_TOKEN refused (a rotation done
    // out of order, a typo), an outage to alert on, never the client's login or a "not found" to pass on.
    if (res.status === 401) {
      this.logger.pino.error({ service, path, code: (parsed as { error?: { code?: string } } | undefined)?.error?.code }, `${service} refused the gateway's SERVICE_TOKEN`);
      throw new BadGatewayException(`${service} refused the gateway`);
    }
    return { status: res.status, body: parsed as T };
  }

  /** As `call`, but any 4xx becomes the same error for the client. */
  async expectOk<T>(service: Upstream, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    const res = await this.call<T>(service, method, path, body, headers);
    if (res.status >= 400) throw new HttpException(res.body as object, res.status);
    return res.body;
  }
}
