import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { APP_CONFIG } from '@omnipay/platform';
import type { Application, NextFunction, Request, Response } from 'express';
import type { WebhooksConfig } from '../config';
import { webhookDeliveries } from './webhook.metrics';

export const STRIPE_WEBHOOK_PATH = '/stripe/webhooks';

/** The unparsed request body of a webhook delivery, attached by `rawBodyReader`. */
export interface RawBodyRequest extends Request {
  stripeRawBody?: Buffer;
  /** When the last byte of the body arrived (process.hrtime.bigint), for the ingest latency histogram. */
  bodyReadAt?: bigint;
}

function tooLarge(res: Response): void {
  webhookDeliveries.inc({ outcome: 'rejected', reason: 'payload_too_large' });
  // Close the connection: the rest of an oversized body is not worth reading.
  res.status(413).set('Connection', 'close').json({ error: 'payload_too_large' });
}

/**
 * Reads the body of a webhook POST into a Buffer, up to `limit` bytes, and marks the request as read so the
 * global JSON parser leaves it alone: the signature is computed over these exact bytes before anything parses
 * them. Oversized bodies are answered 413 here, without being buffered.
 */
export function rawBodyReader(limit: number) {
  return (req: RawBodyRequest, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST') return next();
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return tooLarge(res);
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      if (error) return next(error);
      req.stripeRawBody = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      req.bodyReadAt = process.hrtime.bigint();
      next();
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.pause();
        return tooLarge(res);
      }
      chunks.push(chunk);
    });
    req.on('end', () => finish());
    req.on('error', (e) => finish(e));
  };
}

/**
 * Installs `rawBodyReader` on the webhook path in front of the platform's body parsers. Nest registers its JSON
 * parser in `app.init()`, after providers are constructed and before module middleware runs, so a middleware
 * bound through `MiddlewareConsumer` would only ever see an already-parsed body. Mounting on the Express
 * instance while providers are built puts this reader first. (A `bootstrapService` hook for per-route body
 * parsing would make this unnecessary; see the service README.)
 */
@Injectable()
export class RawBodyInstaller {
  constructor(adapterHost: HttpAdapterHost, @Inject(APP_CONFIG) config: WebhooksConfig) {
    const adapter = adapterHost.httpAdapter;
    if (!adapter || adapter.getType() !== 'express')
      throw new Error('the webhooks service needs the Express HTTP adapter');
    adapter.getInstance<Application>().use(STRIPE_WEBHOOK_PATH, rawBodyReader(config.WEBHOOK_MAX_BODY_BYTES));
  }
}
