import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import {
  childTraceparent,
  correlationIdFrom,
  httpRequestDuration,
  JsonLogger,
  runWithContext,
  type RequestContext,
} from '@omnipay/observability';
import { APP_CONFIG } from '@omnipay/platform';
import type { WebhooksConfig } from '../config';
import { WebhookIngestService, type IngestResult } from './webhook-ingest.service';
import { webhookDeliveries, webhookIngestDuration } from './webhook.metrics';

export const STRIPE_WEBHOOK_PATH = '/stripe/webhooks';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const JSON_TYPE = 'application/json; charset=utf-8';
const bodies = new Map<string, Buffer>();
/** The few answer bodies there are, serialised once. */
function body(value: object): Buffer {
  const text = JSON.stringify(value);
  let b = bodies.get(text);
  if (!b) bodies.set(text, (b = Buffer.from(text)));
  return b;
}
const ACCEPTED = body({ received: true, duplicate: false });
const DUPLICATE = body({ received: true, duplicate: true });

// Label sets resolved once: `inc({...})` would hash the labels on every delivery.
const accepted = webhookDeliveries.labels({ outcome: 'accepted', reason: '' });
const duplicate = webhookDeliveries.labels({ outcome: 'duplicate', reason: '' });
const durationOf = {
  accepted: webhookIngestDuration.labels({ outcome: 'accepted' }),
  duplicate: webhookIngestDuration.labels({ outcome: 'duplicate' }),
  rejected: webhookIngestDuration.labels({ outcome: 'rejected' }),
  failed: webhookIngestDuration.labels({ outcome: 'failed' }),
};
const httpOk = httpRequestDuration.labels({ method: 'POST', route: STRIPE_WEBHOOK_PATH, status: '200' });

/** `/stripe/webhooks`, `/stripe/webhooks/`, any letter case, any query: what Express's router would match. */
export function isWebhookPath(url: string | undefined): boolean {
  if (!url) return false;
  const q = url.indexOf('?');
  let path = q < 0 ? url : url.slice(0, q);
  if (path.length === STRIPE_WEBHOOK_PATH.length + 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path.length === STRIPE_WEBHOOK_PATH.length && path.toLowerCase() === STRIPE_WEBHOOK_PATH;
}

/**
 * Stripe's webhook endpoint, answered by the HTTP server itself, in front of Express and Nest.
 *
 * Why not a controller: at a few thousand deliveries per second Express's router, the platform's body parsers,
 * Nest's router and the per-request access log cost more CPU than verifying and storing the event (measured in
 * `bench/webhooks`). What the platform's correlation middleware gives a request is kept here: the caller's
 * `X-Correlation-Id` (if sane) or a new one, a continued or new trace, both echoed on the response, the
 * correlation id on the stored message, `http_request_duration_seconds`. The access log keeps what
 * `HTTP_ACCESS_LOG=errors` keeps (answers ≥ 400 and slow ones): a line per accepted delivery is noise at this
 * rate, and `stripe_webhook_deliveries_total` counts them. Every other request goes to Express unchanged.
 *
 * Answers: 200 `{"received":true,"duplicate":…}` after the event is committed (or was already stored); 400 with a
 * short reason for what no retry can fix, nothing stored; 413 for a body over `WEBHOOK_MAX_BODY_BYTES` (declared
 * or actual), without buffering it, closing the connection; 503 + `Retry-After` when the database is away.
 * Nothing of the body or the signature header is ever logged.
 */
@Injectable()
export class WebhookEndpoint implements OnApplicationBootstrap {
  private readonly limit: number;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly ingest: WebhookIngestService,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) config: WebhooksConfig,
  ) {
    this.limit = config.WEBHOOK_MAX_BODY_BYTES;
  }

  /** The HTTP server exists once Nest's application object does, and listens only after bootstrap. */
  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server) throw new Error('the webhooks service needs an HTTP server');
    const others = server.listeners('request') as Handler[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.method === 'POST' && isWebhookPath(req.url)) return this.receive(req, res);
      for (const handler of others) handler.call(server, req, res);
    });
  }

  private receive(req: IncomingMessage, res: ServerResponse): void {
    const started = process.hrtime.bigint();
    const ctx: RequestContext = {
      correlationId: correlationIdFrom(req.headers['x-correlation-id']),
      traceparent: childTraceparent(req.headers.traceparent),
    };
    const declared = Number(req.headers['content-length']);
    if (declared > this.limit) return this.tooLarge(res, ctx, started);

    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > this.limit) {
        done = true;
        req.pause();
        return this.tooLarge(res, ctx, started);
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      const bodyReadAt = process.hrtime.bigint();
      const rawBody = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      this.ingest
        .ingest({
          rawBody,
          signatureHeader: req.headers['stripe-signature'],
          correlationId: ctx.correlationId,
          traceparent: ctx.traceparent,
        })
        .then(
          (result) => this.answer(res, ctx, started, bodyReadAt, result),
          (error: unknown) => {
            runWithContext(ctx, () => this.logger.pino.error({ err: error }, 'stripe webhook failed'));
            this.answer(res, ctx, started, bodyReadAt, {
              status: 500,
              outcome: 'failed',
              reason: 'internal_error',
            });
          },
        );
    });
    // A client gone mid-body: nothing to answer, nothing stored.
    req.on('error', () => {
      done = true;
    });
  }

  private answer(
    res: ServerResponse,
    ctx: RequestContext,
    started: bigint,
    bodyReadAt: bigint,
    result: IngestResult,
  ): void {
    const now = process.hrtime.bigint();
    if (result.status === 200) {
      const dup = result.outcome === 'duplicate';
      (dup ? duplicate : accepted).inc();
      this.send(res, ctx, 200, dup ? DUPLICATE : ACCEPTED);
      durationOf[result.outcome].observe(Number(now - bodyReadAt) / 1e9);
      const seconds = Number(now - started) / 1e9;
      httpOk.observe(seconds);
      if (seconds >= 1) this.accessLog(ctx, 200, seconds);
      return;
    }
    webhookDeliveries.inc({ outcome: result.outcome, reason: result.reason });
    if (result.outcome === 'rejected')
      runWithContext(ctx, () => this.logger.pino.info({ reason: result.reason }, 'stripe webhook rejected'));
    const extra: Record<string, string> = result.status === 503 ? { 'Retry-After': '5' } : {};
    this.send(res, ctx, result.status, body({ error: result.reason }), extra);
    durationOf[result.outcome].observe(Number(now - bodyReadAt) / 1e9);
    this.finished(ctx, result.status, started);
  }

  private tooLarge(res: ServerResponse, ctx: RequestContext, started: bigint): void {
    webhookDeliveries.inc({ outcome: 'rejected', reason: 'payload_too_large' });
    // Close the connection: the rest of an oversized body is not worth reading.
    this.send(res, ctx, 413, body({ error: 'payload_too_large' }), { Connection: 'close' });
    this.finished(ctx, 413, started);
  }

  private send(
    res: ServerResponse,
    ctx: RequestContext,
    status: number,
    payload: Buffer,
    extra?: Record<string, string>,
  ): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, {
      'Content-Type': JSON_TYPE,
      'Content-Length': payload.length,
      'X-Correlation-Id': ctx.correlationId,
      traceparent: ctx.traceparent,
      ...extra,
    });
    res.end(payload);
  }

  private finished(ctx: RequestContext, status: number, started: bigint): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    httpRequestDuration.observe(
      { method: 'POST', route: STRIPE_WEBHOOK_PATH, status: String(status) },
      seconds,
    );
    this.accessLog(ctx, status, seconds);
  }

  private accessLog(ctx: RequestContext, status: number, seconds: number): void {
    runWithContext(ctx, () =>
      this.logger.pino.info(
        {
          method: 'POST',
          path: STRIPE_WEBHOOK_PATH,
          route: STRIPE_WEBHOOK_PATH,
          status,
          ms: Math.round(seconds * 1e4) / 10,
        },
        'http request',
      ),
    );
  }
}
