import { Inject, Injectable } from '@nestjs/common';
import { JsonLogger } from '@omnipay/observability';
import { STRIPE } from '@omnipay/stripe';
import type Stripe from 'stripe';
import type { EntityManager } from 'typeorm';
import { ReadersService } from '../readers/readers.service';
import { ReaderActionsRepository } from './reader-actions.repository';
import { intentOf } from './reader-payments.service';

/**
 * Applies Stripe's reader events to our reader actions. Events carry the reader as it was, with no id for the
 * action, and a declined PaymentIntent is reused for the retry on the same reader; so a success (which can only
 * happen once per PaymentIntent) is applied as is, while a failure is checked against the reader's live action
 * first: a late copy of the first attempt's decline must not fail the retry that is running now.
 */
@Injectable()
export class ReaderEventsService {
  constructor(
    private readonly repo: ReaderActionsRepository,
    private readonly readers: ReadersService,
    private readonly logger: JsonLogger,
    @Inject(STRIPE) private readonly stripe: Stripe,
  ) {}

  async apply(m: EntityManager, event: Stripe.Event): Promise<void> {
    const snapshot = event.data?.object as unknown as Stripe.Terminal.Reader | undefined;
    const ra = snapshot?.action;
    if (snapshot?.object !== 'terminal.reader' || !ra || ra.type !== 'process_payment_intent') return;
    const pi = intentOf(ra);
    const reader = await this.readers.byStripeId(snapshot.id);
    if (!pi || !reader) return;
    const fresh = await m.query<unknown[]>(
      `INSERT INTO applied_stripe_events (event_id, type) VALUES ($1,$2) ON CONFLICT DO NOTHING RETURNING event_id`,
      [event.id, event.type],
    );
    if (fresh.length === 0) return;
    const action = await this.repo.forReaderAndIntent(m, reader.id, pi);
    const log = {
      stripeEventId: event.id,
      type: event.type,
      readerId: reader.id,
      paymentIntentId: pi,
      actionId: action?.id,
    };
    if (!action) {
      this.logger.pino.info(log, 'reader event for no action of ours; skipped');
      return;
    }
    if (ra.status === 'succeeded') {
      const after = await this.repo.transition(m, action, 'succeeded');
      this.logger.pino.info(
        { ...log, from: action.state, applied: Boolean(after) },
        'reader action succeeded',
      );
      return;
    }
    if (ra.status !== 'failed' || action.state !== 'in_progress') return;
    const live = await this.stripe.terminal.readers.retrieve(reader.stripeReaderId);
    const now = 'deleted' in live && live.deleted ? null : (live as Stripe.Terminal.Reader).action;
    if (now?.type === 'process_payment_intent' && intentOf(now) === pi && now.status === 'in_progress') {
      this.logger.pino.info(log, 'stale reader failure (the reader is running a newer attempt); skipped');
      return;
    }
    if (now?.type === 'process_payment_intent' && intentOf(now) === pi && now.status === 'succeeded') {
      await this.repo.transition(m, action, 'succeeded');
      return;
    }
    const canceled = ra.failure_code === 'canceled';
    const after = await this.repo.transition(m, action, canceled ? 'canceled' : 'failed', {
      failureCode: ra.failure_code ?? 'failed',
      failureMessage: ra.failure_message ?? null,
    });
    this.logger.pino.info(
      { ...log, failureCode: ra.failure_code, applied: Boolean(after) },
      'reader action failed',
    );
  }
}
