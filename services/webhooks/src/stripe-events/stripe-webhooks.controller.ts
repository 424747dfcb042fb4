import { Controller, Post, Req, Res } from '@nestjs/common';
import { currentContext, JsonLogger } from '@omnipay/observability';
import type { Response } from 'express';
import type { RawBodyRequest } from './raw-body';
import { WebhookIngestService } from './webhook-ingest.service';
import { webhookDeliveries, webhookIngestDuration } from './webhook.metrics';

/**
 * Stripe's webhook endpoint. 200 once the event is committed (or was already); 400 for what no retry can fix,
 * with a short reason and nothing stored; 503 when the database is away, so Stripe retries later.
 * Nothing of the body or the signature header is ever logged.
 */
@Controller('stripe')
export class StripeWebhooksController {
  constructor(
    private readonly ingest: WebhookIngestService,
    private readonly logger: JsonLogger,
  ) {}

  @Post('webhooks')
  async receive(@Req() req: RawBodyRequest, @Res() res: Response): Promise<void> {
    const started = req.bodyReadAt ?? process.hrtime.bigint();
    const result = await this.ingest.ingest({
      rawBody: req.stripeRawBody ?? Buffer.alloc(0),
      signatureHeader: req.headers['stripe-signature'],
      correlationId: currentContext()?.correlationId ?? 'none',
    });
    if (result.status === 200) {
      webhookDeliveries.inc({ outcome: result.outcome, reason: '' });
      res.status(200).json({ received: true, duplicate: result.outcome === 'duplicate' });
    } else {
      webhookDeliveries.inc({ outcome: result.outcome, reason: result.reason });
      if (result.outcome === 'rejected')
        this.logger.pino.info({ reason: result.reason }, 'stripe webhook rejected');
      if (result.status === 503) res.set('Retry-After', '5');
      res.status(result.status).json({ error: result.reason });
    }
    webhookIngestDuration.observe(
      { outcome: result.outcome },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
  }
}
