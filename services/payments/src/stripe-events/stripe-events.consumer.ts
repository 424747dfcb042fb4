import { Controller } from '@nestjs/common';
import { StripeEventReceived, Topics } from '@omnipay/contracts';
import { OnMessages, OutboxService, isMessage, type ConsumedBatch, type ConsumedMessage } from '@omnipay/messaging';
import { JsonLogger, newContext, runWithContext } from '@omnipay/observability';
import { afterCommit } from '@omnipay/persistence';
import { PAYMENT_EVENT_TYPES, PAYOUT_EVENT_TYPES, StripeEventScope, idOf } from '@omnipay/stripe';
import type Stripe from 'stripe';
import { BatchPaymentStore, emptyKeys, type BatchKeys } from '../payments/payment-store';
import { PLATFORM, PaymentStateService, type ObservationSource } from '../payments/payment-state.service';
import { PayoutsService } from '../payouts/payouts.service';
import { ReconciliationWorker } from '../reconciliation/reconciliation.worker';

const PAYMENT_OBJECTS = new Set(['payment_intent', 'charge', 'refund', 'dispute']);

interface Fresh {
  message: ConsumedMessage;
  event: Stripe.Event;
}

/**
 * Stripe's events, as the webhooks service verified and published them, a partition chunk at a time. The
 * transport's inbox dedups by envelope id; `applied_stripe_events` also dedups by Stripe event id (a replay or
 * a second webhook endpoint can wrap one Stripe event in two envelopes). The chunk's payments are loaded and
 * locked once, every event goes through the state machine in offset order against that working copy, and the
 * end state is written back in a few set-based statements, in the inbox's transaction: an event and its effects
 * commit together, and the result is the one applying the events one by one would give.
 */
@Controller()
export class StripeEventsConsumer {
  constructor(
    private readonly state: PaymentStateService,
    private readonly outbox: OutboxService,
    private readonly reconciliation: ReconciliationWorker,
    private readonly payouts: PayoutsService,
    private readonly logger: JsonLogger,
    private readonly scope: StripeEventScope,
  ) {}

  // Other types (reader events, customers, setup intents, `payment_intent.created`) are passed over unread.
  @OnMessages(Topics.stripeEvents, { group: 'payments', subjects: [...PAYMENT_EVENT_TYPES, ...PAYOUT_EVENT_TYPES] })
  async handle(batch: ConsumedBatch): Promise<void> {
    const m = batch.manager;
    const candidates: Fresh[] = [];
    const ids = new Set<string>();
    for (const message of batch.messages) {
      if (!isMessage(message, StripeEventReceived)) continue;
      const event = message.envelope.data.event as unknown as Stripe.Event;
      // Another mode's or a connected account's event: not ours, and not even remembered as applied.
      if (!this.scope.admits(event, 'payments')) continue;
      // A second envelope of the same Stripe event in this chunk: the first one is applied, this one is not.
      if (ids.has(event.id)) continue;
      ids.add(event.id);
      candidates.push({ message, event });
    }
    if (candidates.length === 0) return;
    const inserted = await m.query<{ event_id: string }[]>(
      `INSERT INTO applied_stripe_events (event_id, type)
       SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING RETURNING event_id`,
      [candidates.map((c) => c.event.id), candidates.map((c) => c.event.type)],
    );
    const fresh = new Set(inserted.map((r) => r.event_id));
    const all = candidates.filter((c) => fresh.has(c.event.id));
    // Payouts are a few a day and touch no payment: recorded one by one, in this transaction too.
    const events = all.filter((c) => !isPayout(c.event));
    let payoutDue = false;
    for (const { message, event } of all.filter((c) => isPayout(c.event))) {
      const ctx = newContext({ correlationId: message.envelope.correlationId, causationId: message.envelope.id, traceparent: message.traceparent });
      const observedAt = new Date(event.created * 1000);
      if (await runWithContext(ctx, () => this.payouts.record(m, event.data.object as Stripe.Payout, observedAt))) payoutDue = true;
    }
    if (payoutDue) afterCommit(m, () => this.payouts.soon());
    if (events.length === 0) return;

    const store = await BatchPaymentStore.load(m, this.outbox, keysOf(events.map((e) => e.event)));
    for (const { message, event } of events) {
      // Each event in its own context, as if consumed alone: its logs and messages carry its correlation id.
      const ctx = newContext({
        correlationId: message.envelope.correlationId,
        causationId: message.envelope.id,
        traceparent: message.traceparent,
      });
      await runWithContext(ctx, () => this.apply(store, event));
    }
    await store.flush();
    // The worker polls anyway; this only shortens the wait for a new charge's, refund's or dispute's balance
    // transaction. Most events queue nothing (every checkout's `payment_intent.created`), and cost no pass.
    if (store.queuedReconciliation) this.reconciliation.soon();
  }

  private async apply(store: BatchPaymentStore, event: Stripe.Event): Promise<void> {
    const source: ObservationSource = { kind: 'event', id: event.id, created: event.created };
    const object = event.data?.object as { object?: string } | undefined;
    switch (object?.object) {
      case 'payment_intent':
        await this.state.applyPaymentIntent(store, object as Stripe.PaymentIntent, source);
        return;
      case 'charge':
        await this.state.applyCharge(store, object as Stripe.Charge, source);
        return;
      case 'refund':
        await this.state.applyRefund(store, object as Stripe.Refund, source);
        return;
      case 'dispute':
        await this.state.applyDispute(store, object as Stripe.Dispute, source);
        return;
      default:
        this.logger.pino.debug({ stripeEventId: event.id, type: event.type }, 'Stripe event not about payments; skipped');
    }
  }
}

const isPayout = (event: Stripe.Event): boolean => (event.data?.object as { object?: string } | undefined)?.object === 'payout';

/** Every key the state machine may look a payment, refund or refund request up by, for these events. */
export function keysOf(events: Stripe.Event[]): BatchKeys {
  const keys = emptyKeys();
  const add = (set: Set<string>, v: string | { id: string } | null | undefined) => {
    const id = idOf(v);
    if (id) set.add(id);
  };
  const refund = (r: Stripe.Refund) => {
    add(keys.refundIds, r.id);
    add(keys.paymentIntentIds, r.payment_intent);
    add(keys.chargeIds, r.charge);
    if (r.metadata?.platform === PLATFORM) add(keys.refundRequestIds, r.metadata.refundRequestId);
  };
  for (const event of events) {
    const object = event.data?.object as { object?: string } | undefined;
    if (!object?.object || !PAYMENT_OBJECTS.has(object.object)) continue;
    switch (object.object) {
      case 'payment_intent': {
        const pi = object as Stripe.PaymentIntent;
        if (pi.metadata?.platform === PLATFORM) add(keys.paymentIds, pi.metadata.paymentId);
        break;
      }
      case 'charge': {
        const charge = object as Stripe.Charge;
        add(keys.paymentIntentIds, charge.payment_intent);
        add(keys.chargeIds, charge.id);
        for (const r of charge.refunds?.data ?? []) refund(r);
        break;
      }
      case 'refund':
        refund(object as Stripe.Refund);
        break;
      case 'dispute': {
        const dispute = object as Stripe.Dispute;
        add(keys.paymentIntentIds, dispute.payment_intent);
        add(keys.chargeIds, dispute.charge);
        break;
      }
    }
  }
  return keys;
}
