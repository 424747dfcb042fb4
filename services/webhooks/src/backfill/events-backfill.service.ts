import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { JsonLogger, metricsRegistry, newContext } from '@omnipay/observability';
import { APP_CONFIG } from '@omnipay/platform';
import { PLATFORM_EVENT_TYPES, createStripeClient } from '@omnipay/stripe';
import { Counter } from 'prom-client';
import type Stripe from 'stripe';
import { DataSource } from 'typeorm';
import type { WebhooksConfig } from '../config';
import { eventFacts } from '../stripe-events/stripe-event';
import { StripeEventStore, type VerifiedDelivery } from '../stripe-events/stripe-event-store';

/** `secret_index` of an event fetched from Stripe's API rather than received signed (the column is NOT NULL). */
export const FETCHED_FROM_API = -1;

/** Stripe's limit on the `types` filter of `GET /v1/events`. */
const TYPES_PER_CALL = 20;

const backfilled = new Counter({
  name: 'webhooks_backfilled_events_total',
  help: 'Stripe events found undelivered by the backfill and stored (the webhook never arrived, or not yet)',
  registers: [metricsRegistry],
});

export interface BackfillResult {
  /** Undelivered platform events Stripe listed in the window. */
  listed: number;
  /** Of those, the ones not stored before: now stored and published. */
  stored: number;
  /** Another replica was running a pass: this one did nothing (one pass reads the same events as two). */
  skipped?: true;
}

/**
 * Stripe retries a webhook for three days, then gives up; an endpoint that was down, misrouted or rejecting for
 * longer never hears of those events, and the janitor in payments only re-reads payments that are not final (a
 * refund that fails later, a dispute, would stay unknown). The backfill asks Stripe's Events API for events of the
 * platform's types whose delivery has not succeeded (`delivery_success=false`) and stores them exactly as a
 * delivery would be: the store deduplicates by event id and publishes through the outbox with the same envelope
 * id, so an event that arrives both ways has one effect. Events come from the API over TLS with our key, so no
 * signature is involved (`secret_index` = -1). The key is a restricted one that can only read events.
 */
@Injectable()
export class EventsBackfill implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly stripe?: Stripe;
  private timer?: NodeJS.Timeout;
  private pass?: Promise<BackfillResult>;
  private stopping = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly store: StripeEventStore,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: WebhooksConfig,
  ) {
    if (config.STRIPE_EVENTS_READ_KEY) {
      this.stripe = createStripeClient({
        STRIPE_SECRET_KEY: config.STRIPE_EVENTS_READ_KEY,
        STRIPE_API_BASE: config.STRIPE_API_BASE,
        STRIPE_TIMEOUT_MS: 10000,
        STRIPE_MAX_NETWORK_RETRIES: 2,
      });
    }
  }

  get enabled(): boolean {
    return this.stripe !== undefined;
  }

  onApplicationBootstrap(): void {
    if (!this.stripe) {
      this.logger.pino.info('events backfill off (STRIPE_EVENTS_READ_KEY not set)');
      return;
    }
    if (this.config.BACKFILL_INTERVAL_MS === 0) return;
    this.timer = setInterval(() => {
      this.runOnce().catch((error: unknown) => this.logger.pino.warn({ err: error }, 'events backfill pass failed; the next one retries'));
    }, this.config.BACKFILL_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.stopping = true; // a pass under way stops after its current page
    await this.pass?.catch(() => undefined);
  }

  /** One pass; a pass already under way is joined, not doubled. */
  runOnce(): Promise<BackfillResult> {
    this.pass ??= this.backfill().finally(() => (this.pass = undefined));
    return this.pass;
  }

  /**
   * Every replica has the timer, but one pass at a time across them is enough (the others would read the same
   * events from Stripe, against its rate limit, and store nothing): a session advisory lock per schema, held on one
   * connection for the pass, decides; a replica that does not get it skips.
   */
  private async backfill(): Promise<BackfillResult> {
    if (!this.stripe) throw new Error('the events backfill needs STRIPE_EVENTS_READ_KEY');
    const lock = this.dataSource.createQueryRunner();
    await lock.connect();
    try {
      const [{ locked }] = (await lock.query(`SELECT pg_try_advisory_lock(hashtext('events-backfill:' || current_schema())) AS locked`)) as {
        locked: boolean;
      }[];
      if (!locked) return { listed: 0, stored: 0, skipped: true };
      try {
        return await this.backfillPass(this.stripe);
      } finally {
        await lock.query(`SELECT pg_advisory_unlock(hashtext('events-backfill:' || current_schema()))`);
      }
    } finally {
      await lock.release();
    }
  }

  private async backfillPass(stripe: Stripe): Promise<BackfillResult> {
    const since = Math.floor(Date.now() / 1000) - this.config.BACKFILL_WINDOW_S;
    let listed = 0;
    let stored = 0;
    // Stripe's `types` filter takes at most 20 values: the platform's types go in groups. Each page is stored as it
    // comes (a long outage can leave many events undelivered; a pass never holds more than a page, and what it
    // stored stays stored if a later page fails: the next pass finds the rest).
    for (let g = 0; g < PLATFORM_EVENT_TYPES.length; g += TYPES_PER_CALL) {
      const types = PLATFORM_EVENT_TYPES.slice(g, g + TYPES_PER_CALL);
      let startingAfter: string | undefined;
      for (;;) {
        if (this.stopping) return { listed, stored };
        const page = await stripe.events.list({
          delivery_success: false,
          created: { gte: since },
          types,
          limit: 100,
          ...(startingAfter ? { starting_after: startingAfter } : {}),
        });
        const deliveries = page.data.flatMap((event) => this.delivery(event));
        listed += deliveries.length;
        if (deliveries.length > 0) {
          // Stripe lists newest first; within a page, oldest first.
          deliveries.sort((a, b) => a.facts.created - b.facts.created);
          stored += (await this.store.storeAll(deliveries)).filter((o) => o === 'accepted').length;
        }
        if (!page.has_more || page.data.length === 0) break;
        startingAfter = page.data[page.data.length - 1].id;
      }
    }
    backfilled.inc(stored);
    if (stored > 0) this.logger.pino.warn({ listed, stored }, 'events backfill stored events whose webhooks had not arrived');
    return { listed, stored };
  }

  /** The event as the store takes a delivery, or nothing if it is not shaped like a Stripe event. */
  private delivery(event: Stripe.Event): VerifiedDelivery[] {
    const text = JSON.stringify(event);
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const facts = eventFacts(parsed);
    if (!facts) return [];
    const ctx = newContext();
    return [
      {
        facts,
        event: parsed,
        raw: Buffer.from(text, 'utf8'),
        text,
        receivedAt: new Date(),
        secretIndex: FETCHED_FROM_API,
        signatureTimestamp: 0,
        correlationId: ctx.correlationId,
        traceparent: ctx.traceparent,
      },
    ];
  }
}
