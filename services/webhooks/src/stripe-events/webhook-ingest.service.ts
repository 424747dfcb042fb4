import { Inject, Injectable } from '@nestjs/common';
import { JsonLogger, runWithContext } from '@omnipay/observability';
import { isDatabaseUnavailable } from '@omnipay/persistence';
import { APP_CONFIG } from '@omnipay/platform';
import type { WebhooksConfig } from '../config';
import { MicroBatcher } from './micro-batcher';
import { verifyStripeSignature, type SignatureFailure } from './signature';
import { parseStripeEvent, type EventParseFailure } from './stripe-event';
import { StripeEventStore, type StoreOutcome, type VerifiedDelivery } from './stripe-event-store';
import { recordSignatureAge, webhookBatchSize } from './webhook.metrics';

export type RejectReason = SignatureFailure | EventParseFailure | 'payload_too_large';

export type IngestResult =
  | { status: 200; outcome: StoreOutcome; eventId: string }
  | { status: 400; outcome: 'rejected'; reason: RejectReason }
  | { status: 500 | 503; outcome: 'failed'; reason: 'database_unavailable' | 'internal_error' };

export interface IncomingDelivery {
  rawBody: Buffer;
  signatureHeader: string | string[] | undefined;
  correlationId: string;
  /** W3C trace context of the request, continued by the published message. */
  traceparent: string;
}

/** Postgres "deadlock detected" / "serialization failure": the whole batch can simply run again. */
function isRetryable(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return code === '40P01' || code === '40001';
}

/**
 * The webhook use case: verify the signature over the raw bytes, then parse and check the event, then store it
 * with its outbox message in a transaction shared with concurrent deliveries. Everything that can reject a
 * single delivery happens before batching, so one bad request cannot fail the others' transaction.
 */
@Injectable()
export class WebhookIngestService {
  private readonly batcher: MicroBatcher<VerifiedDelivery, StoreOutcome | Error>;

  constructor(
    private readonly store: StripeEventStore,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: WebhooksConfig,
  ) {
    this.batcher = new MicroBatcher((items) => this.flush(items), {
      maxBatch: config.WEBHOOK_BATCH_MAX,
      maxWaitMs: config.WEBHOOK_BATCH_WAIT_MS,
      concurrency: config.WEBHOOK_BATCH_CONCURRENCY,
    });
  }

  async ingest(delivery: IncomingDelivery): Promise<IngestResult> {
    const sig = verifyStripeSignature(
      delivery.rawBody,
      delivery.signatureHeader,
      this.config.STRIPE_WEBHOOK_SECRETS,
      this.config.STRIPE_WEBHOOK_TOLERANCE_S,
    );
    if (!sig.ok) {
      if (sig.reason === 'timestamp_outside_tolerance') {
        recordSignatureAge(sig.ageSeconds);
        this.clockSkew(delivery, sig.ageSeconds);
      }
      return { status: 400, outcome: 'rejected', reason: sig.reason };
    }
    recordSignatureAge(sig.ageSeconds);
    const parsed = parseStripeEvent(delivery.rawBody);
    if (!parsed.ok) return { status: 400, outcome: 'rejected', reason: parsed.reason };
    const receivedAt = new Date();
    // `parseStripeEvent` already checked every field the StripeEventReceived schema requires, so the outbox's own
    // validation inside the batch cannot fail for this delivery (and if it ever did, `flush` isolates it).
    let outcome: StoreOutcome | Error;
    try {
      outcome = await this.batcher.submit({
        facts: parsed.facts,
        event: parsed.event,
        raw: delivery.rawBody,
        text: parsed.text,
        receivedAt,
        secretIndex: sig.secretIndex,
        signatureTimestamp: sig.timestamp,
        correlationId: delivery.correlationId,
        traceparent: delivery.traceparent,
      });
    } catch (error) {
      outcome = error instanceof Error ? error : new Error(String(error));
    }
    if (!(outcome instanceof Error)) return { status: 200, outcome, eventId: parsed.facts.eventId };
    // Stripe retries any non-2xx; a 503 says the retry is expected to work once the database is back.
    if (isDatabaseUnavailable(outcome))
      return { status: 503, outcome: 'failed', reason: 'database_unavailable' };
    const err = outcome;
    runWithContext({ correlationId: delivery.correlationId, traceparent: delivery.traceparent }, () =>
      this.logger.pino.error({ err, stripeEventId: parsed.facts.eventId }, 'storing a Stripe event failed'),
    );
    return { status: 500, outcome: 'failed', reason: 'internal_error' };
  }

  /**
   * Stripe signs each attempt as it sends it, so a correctly signed delivery stamped outside the tolerance means,
   * short of someone replaying a captured delivery, that our clock or Stripe's is off, and Stripe will retry every
   * event into the same refusal until they agree. Warn, where every rejection gets an info line, so it stands out
   * from forged requests. Only numbers: nothing of the request.
   */
  private clockSkew(delivery: IncomingDelivery, ageSeconds: number): void {
    runWithContext({ correlationId: delivery.correlationId, traceparent: delivery.traceparent }, () =>
      this.logger.pino.warn(
        { ageSeconds, toleranceSeconds: this.config.STRIPE_WEBHOOK_TOLERANCE_S },
        "correctly signed Stripe webhook refused: its timestamp is outside the tolerance, our clock and Stripe's likely disagree",
      ),
    );
  }

  private async flush(items: VerifiedDelivery[]): Promise<(StoreOutcome | Error)[]> {
    webhookBatchSize.observe(items.length);
    try {
      return await this.storeWithRetry(items);
    } catch (error) {
      if (items.length === 1 || isDatabaseUnavailable(error)) throw error;
      // Something in this batch broke its transaction: store each delivery alone so only the culprit fails.
      this.logger.pino.warn(
        { err: error, size: items.length },
        'webhook batch failed; storing its deliveries one by one',
      );
      const out: (StoreOutcome | Error)[] = [];
      for (const item of items) {
        try {
          out.push((await this.storeWithRetry([item]))[0]);
        } catch (e) {
          out.push(e instanceof Error ? e : new Error(String(e)));
        }
      }
      return out;
    }
  }

  private async storeWithRetry(items: VerifiedDelivery[]): Promise<StoreOutcome[]> {
    try {
      return await this.store.storeAll(items);
    } catch (error) {
      if (!isRetryable(error)) throw error;
      return this.store.storeAll(items);
    }
  }
}
