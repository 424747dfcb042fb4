import { Controller } from '@nestjs/common';
import { StripeEventReceived, Topics } from '@omnipay/contracts';
import { OnMessage, isMessage, type ConsumedMessage } from '@omnipay/messaging';
import { JsonLogger } from '@omnipay/observability';
import type Stripe from 'stripe';
import { PaymentStateService, type ObservationSource } from '../payments/payment-state.service';
import { ReconciliationWorker } from '../reconciliation/reconciliation.worker';

/**
 * Stripe's events, as the webhooks service verified and published them. The transport's inbox dedups by
 * envelope id; `applied_stripe_events` also dedups by Stripe event id (a replay or a second webhook endpoint
 * can wrap one Stripe event in two envelopes). Everything goes through the state machine, in the inbox's
 * transaction, so an event and its effects commit together.
 */
@Controller()
export class StripeEventsConsumer {
  constructor(
    private readonly state: PaymentStateService,
    private readonly reconciliation: ReconciliationWorker,
    private readonly logger: JsonLogger,
  ) {}

  @OnMessage(Topics.stripeEvents, { group: 'payments' })
  async handle(message: ConsumedMessage): Promise<void> {
    if (!isMessage(message, StripeEventReceived)) return;
    const event = message.envelope.data.event as unknown as Stripe.Event;
    const m = message.manager;
    const fresh = await m.query<unknown[]>(
      `INSERT INTO applied_stripe_events (event_id, type) VALUES ($1,$2) ON CONFLICT DO NOTHING RETURNING event_id`,
      [event.id, event.type],
    );
    if (fresh.length === 0) return;
    const source: ObservationSource = { kind: 'event', id: event.id, created: event.created };
    const object = event.data?.object as { object?: string } | undefined;
    switch (object?.object) {
      case 'payment_intent':
        await this.state.applyPaymentIntent(m, object as Stripe.PaymentIntent, source);
        break;
      case 'charge':
        await this.state.applyCharge(m, object as Stripe.Charge, source);
        break;
      case 'refund':
        await this.state.applyRefund(m, object as Stripe.Refund, source);
        break;
      case 'dispute':
        await this.state.applyDispute(m, object as Stripe.Dispute, source);
        break;
      default:
        this.logger.pino.debug(
          { stripeEventId: event.id, type: event.type },
          'Stripe event not about payments; skipped',
        );
        return;
    }
    // The worker polls anyway; this only shortens the wait for a balance transaction after the commit.
    this.reconciliation.soon();
  }
}
