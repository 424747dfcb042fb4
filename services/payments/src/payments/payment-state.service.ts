import { Injectable } from '@nestjs/common';
import {
  PaymentAuthorized,
  PaymentCanceled,
  PaymentCreated,
  PaymentDisputed,
  PaymentFailed,
  PaymentRefunded,
  PaymentRequiresAction,
  PaymentSucceeded,
  type MessageDefinition,
} from '@omnipay/contracts';
import { OutboxService } from '@omnipay/messaging';
import { JsonLogger, metricsRegistry } from '@omnipay/observability';
import { Counter } from 'prom-client';
import type Stripe from 'stripe';
import type { EntityManager } from 'typeorm';
import { deterministicUuid } from '../common/ids';
import { decide, refundStatusAdvances, statusOfIntent, type PaymentStatus } from './payment-state';
import { paymentRef, type Payment } from './payment.model';
import { PaymentsRepository } from './payments.repository';

/** Where an observation comes from: a Stripe event (its id and `created`), an API answer or the janitor. */
export interface ObservationSource {
  kind: 'event' | 'api' | 'janitor';
  id: string;
  /** unix seconds */
  created: number;
}

export const PLATFORM = 'omnipay';

const transitionsApplied = new Counter({
  name: 'payments_transitions_total',
  help: 'Payment state transitions applied (one normalised event each), by target status and source',
  labelNames: ['status', 'source'],
  registers: [metricsRegistry],
});
const observationsIgnored = new Counter({
  name: 'payments_observations_ignored_total',
  help: 'Stripe observations that changed nothing (stale, duplicate or not ours), by reason',
  labelNames: ['reason'],
  registers: [metricsRegistry],
});

const idOf = (v: string | { id: string } | null | undefined): string | null =>
  v == null ? null : typeof v === 'string' ? v : v.id;

/**
 * Applies what Stripe says about our payments, whoever tells it (webhook event, API answer, janitor), always
 * inside the caller's transaction, and writes one normalised event per real transition to the outbox.
 */
@Injectable()
export class PaymentStateService {
  constructor(
    private readonly repo: PaymentsRepository,
    private readonly outbox: OutboxService,
    private readonly logger: JsonLogger,
  ) {}

  /** The payment a PaymentIntent belongs to, or undefined when the platform did not create it. */
  async findForIntent(m: EntityManager, pi: Stripe.PaymentIntent): Promise<Payment | undefined> {
    if (pi.metadata?.platform !== PLATFORM || !pi.metadata.paymentId) return undefined;
    return (await this.repo.byId(m, pi.metadata.paymentId, true)) ?? undefined;
  }

  async applyPaymentIntent(
    m: EntityManager,
    pi: Stripe.PaymentIntent,
    source: ObservationSource,
  ): Promise<Payment | undefined> {
    let payment = await this.findForIntent(m, pi);
    if (!payment) {
      observationsIgnored.inc({ reason: 'not_ours' });
      return undefined;
    }
    if (payment.paymentIntentId && payment.paymentIntentId !== pi.id) {
      this.logger.pino.error(
        { paymentId: payment.id, paymentIntentId: pi.id },
        'PaymentIntent does not match the payment; ignored',
      );
      observationsIgnored.inc({ reason: 'mismatch' });
      return payment;
    }
    payment = await this.attachIntent(m, payment, pi, source);

    // Amounts only grow while the PaymentIntent lives; refunds are tracked separately on the charge.
    const chargeId = idOf(pi.latest_charge);
    const facts: Record<string, unknown> = {};
    if (pi.amount_received > payment.amountReceived) facts.amount_received = pi.amount_received;
    if (chargeId && chargeId !== payment.chargeId && ['requires_capture', 'succeeded'].includes(pi.status))
      facts.charge_id = chargeId;
    if (pi.status === 'requires_capture' && pi.amount_capturable !== payment.amountCapturable)
      facts.amount_capturable = pi.amount_capturable;
    if (pi.status === 'succeeded' && payment.amountCapturable !== 0) facts.amount_capturable = 0;
    await this.repo.update(m, payment.id, facts);
    payment = {
      ...payment,
      amountReceived: Math.max(payment.amountReceived, pi.amount_received),
      chargeId: (facts.charge_id as string) ?? payment.chargeId,
    };

    const observed = statusOfIntent(pi);
    const error = pi.last_payment_error;
    const failureKey = error
      ? (idOf(error.charge as string | null) ?? error.payment_method?.id ?? error.code ?? undefined)
      : undefined;
    const d = decide(payment, { status: observed, observedAt: source.created, failureKey });
    if (!d.apply) {
      if (d.reason !== 'same_status') observationsIgnored.inc({ reason: d.reason });
      return payment;
    }
    if (
      !(await this.repo.recordTransition(m, payment.id, d.transitionKey, d.to, `${source.kind}:${source.id}`))
    ) {
      observationsIgnored.inc({ reason: 'duplicate' });
      return payment;
    }
    const update: Record<string, unknown> = {
      status: d.to,
      cycle: d.cycle,
      status_observed_at: source.created,
    };
    if (d.to === 'failed') {
      update.failure_code = error?.code ?? null;
      update.decline_code = error?.decline_code ?? null;
      update.failure_message = error?.message ?? null;
    }
    await this.repo.update(m, payment.id, update);
    const next: Payment = { ...payment, status: d.to, cycle: d.cycle, statusObservedAt: source.created };
    await this.announce(m, next, d.to, d.transitionKey, pi);
    transitionsApplied.inc({ status: d.to, source: source.kind });
    if (d.to === 'succeeded' && next.chargeId)
      await this.repo.enqueueReconciliation(m, next.chargeId, 'charge', next.id);
    this.logger.pino.info(
      {
        paymentId: next.id,
        orderId: next.orderId,
        paymentIntentId: pi.id,
        status: d.to,
        source: source.kind,
        stripeId: source.id,
      },
      'payment transition',
    );
    return next;
  }

  /** First time we learn the PaymentIntent id (API answer, or a webhook that beat it): announce the payment. */
  private async attachIntent(
    m: EntityManager,
    payment: Payment,
    pi: Stripe.PaymentIntent,
    source: ObservationSource,
  ): Promise<Payment> {
    if (payment.paymentIntentId) return payment;
    await this.repo.update(m, payment.id, { payment_intent_id: pi.id });
    const p = { ...payment, paymentIntentId: pi.id };
    if (await this.repo.recordTransition(m, p.id, 'created', null, `${source.kind}:${source.id}`)) {
      await this.emit(m, PaymentCreated, p, 'created', {
        ...paymentRef(p),
        amount: p.amount,
        currency: p.currency,
        captureMethod: p.captureMethod,
      });
    }
    return p;
  }

  private async announce(
    m: EntityManager,
    p: Payment,
    to: PaymentStatus,
    key: string,
    pi: Stripe.PaymentIntent,
  ): Promise<void> {
    const ref = paymentRef(p);
    switch (to) {
      case 'requires_action':
        return this.emit(m, PaymentRequiresAction, p, key, {
          ...ref,
          nextActionType: pi.next_action?.type ?? null,
        });
      case 'requires_capture':
        return this.emit(m, PaymentAuthorized, p, key, {
          ...ref,
          amountCapturable: pi.amount_capturable,
          currency: pi.currency,
        });
      case 'succeeded':
        return this.emit(m, PaymentSucceeded, p, key, {
          ...ref,
          amount: pi.amount,
          amountReceived: pi.amount_received,
          currency: pi.currency,
          chargeId: idOf(pi.latest_charge),
        });
      case 'failed': {
        const e = pi.last_payment_error;
        return this.emit(m, PaymentFailed, p, key, {
          ...ref,
          code: e?.code ?? null,
          declineCode: e?.decline_code ?? null,
          message: e?.message ?? null,
        });
      }
      case 'canceled':
        return this.emit(m, PaymentCanceled, p, key, { ...ref, reason: pi.cancellation_reason ?? null });
      default:
        return; // requires_payment_method, requires_confirmation, processing: not announced
    }
  }

  /** Charge snapshots: Stripe's absolute `amount_refunded`, the charge id, the charge's refunds and reconciliation. */
  async applyCharge(m: EntityManager, charge: Stripe.Charge, source: ObservationSource): Promise<void> {
    const piId = idOf(charge.payment_intent);
    const payment = piId
      ? await this.repo.byIntent(m, piId, true)
      : await this.repo.byCharge(m, charge.id, true);
    if (!payment) {
      observationsIgnored.inc({ reason: 'not_ours' });
      return;
    }
    // Absolute total, newest observation wins; within the same second the larger (refunds only add up there,
    // a failed refund giving money back is a later second).
    if (
      source.created > payment.amountRefundedObservedAt ||
      (source.created === payment.amountRefundedObservedAt && charge.amount_refunded > payment.amountRefunded)
    ) {
      await this.repo.update(m, payment.id, {
        amount_refunded: charge.amount_refunded,
        amount_refunded_observed_at: source.created,
      });
    }
    if (charge.status === 'succeeded' && charge.captured && charge.paid) {
      if (!payment.chargeId) await this.repo.update(m, payment.id, { charge_id: charge.id });
      await this.repo.enqueueReconciliation(m, charge.id, 'charge', payment.id);
    }
    for (const refund of charge.refunds?.data ?? []) await this.applyRefund(m, refund, source);
  }

  /** A refund observed (our API answer or an event): at most one PaymentRefunded per refund id. */
  async applyRefund(m: EntityManager, refund: Stripe.Refund, source: ObservationSource): Promise<void> {
    const piId = idOf(refund.payment_intent);
    const chargeId = idOf(refund.charge);
    const payment = piId
      ? await this.repo.byIntent(m, piId, true)
      : chargeId
        ? await this.repo.byCharge(m, chargeId, true)
        : undefined;
    if (!payment) {
      observationsIgnored.inc({ reason: 'not_ours' });
      return;
    }
    const status = refund.status ?? 'pending';
    const requestId =
      refund.metadata?.platform === PLATFORM ? (refund.metadata.refundRequestId ?? null) : null;
    const [existing] = await m.query<{ status: string }[]>(
      'SELECT status FROM refunds WHERE refund_id = $1 FOR UPDATE',
      [refund.id],
    );
    if (!existing) {
      await m.query(
        `INSERT INTO refunds (refund_id, payment_id, refund_request_id, amount, status) VALUES ($1,$2,$3,$4,$5)`,
        [refund.id, payment.id, requestId, refund.amount, status],
      );
    } else if (refundStatusAdvances(existing.status, status)) {
      await m.query('UPDATE refunds SET status = $2, updated_at = now() WHERE refund_id = $1', [
        refund.id,
        status,
      ]);
    } else {
      return;
    }
    if (requestId) {
      await m.query(
        `UPDATE refund_requests SET refund_id = $2, status = $3, updated_at = now() WHERE id = $1 AND status <> 'failed'`,
        [requestId, refund.id, status === 'succeeded' || status === 'pending' ? status : 'failed'],
      );
    }
    if (status === 'failed' && existing?.status === 'succeeded')
      await this.repo.enqueueReconciliation(m, refund.id, 'refund', payment.id, true);
    if (status !== 'succeeded') return;
    await this.repo.enqueueReconciliation(m, refund.id, 'refund', payment.id);
    if (
      !(await this.repo.recordTransition(
        m,
        payment.id,
        `refunded:${refund.id}`,
        null,
        `${source.kind}:${source.id}`,
      ))
    )
      return;

    // Totals are absolute: Stripe's amount_refunded when we have seen it, at least the sum of refunds we know.
    const [{ known }] = await m.query<{ known: string }[]>(
      `SELECT COALESCE(SUM(amount),0)::int8 AS known FROM refunds WHERE payment_id = $1 AND status = 'succeeded'`,
      [payment.id],
    );
    const [fresh] = await m.query<{ amount_refunded: string; amount_received: string }[]>(
      'SELECT amount_refunded, amount_received FROM payments WHERE id = $1',
      [payment.id],
    );
    const captured = Number(fresh.amount_received) || payment.amount;
    const total = Math.min(captured, Math.max(Number(fresh.amount_refunded), Number(known)));
    if (total > Number(fresh.amount_refunded))
      await this.repo.update(m, payment.id, { amount_refunded: total });
    const [request] = requestId
      ? await m.query<
          {
            reason: string;
            returned_items: { sku: string; quantity: number }[];
            return_store_id: string | null;
          }[]
        >('SELECT reason, returned_items, return_store_id FROM refund_requests WHERE id = $1', [requestId])
      : [];
    await this.emit(m, PaymentRefunded, payment, `refunded:${refund.id}`, {
      ...paymentRef(payment),
      refundId: refund.id,
      amount: refund.amount,
      totalRefunded: total,
      amountCaptured: captured,
      currency: refund.currency,
      fullyRefunded: total >= captured,
      reason: request?.reason ?? refund.reason ?? null,
      returnedItems: request?.returned_items ?? [],
      returnStoreId: request?.return_store_id ?? null,
    });
  }

  async applyDispute(m: EntityManager, dispute: Stripe.Dispute, source: ObservationSource): Promise<void> {
    const piId = idOf(dispute.payment_intent);
    const chargeId = idOf(dispute.charge);
    const payment = piId
      ? await this.repo.byIntent(m, piId, true)
      : chargeId
        ? await this.repo.byCharge(m, chargeId, true)
        : undefined;
    if (!payment) {
      observationsIgnored.inc({ reason: 'not_ours' });
      return;
    }
    await this.repo.enqueueReconciliation(m, dispute.id, 'dispute', payment.id);
    if (
      !(await this.repo.recordTransition(
        m,
        payment.id,
        `disputed:${dispute.id}`,
        null,
        `${source.kind}:${source.id}`,
      ))
    )
      return;
    await this.repo.update(m, payment.id, { disputed: true });
    await this.emit(m, PaymentDisputed, payment, `disputed:${dispute.id}`, {
      ...paymentRef(payment),
      disputeId: dispute.id,
      amount: dispute.amount,
      currency: dispute.currency,
      reason: dispute.reason ?? null,
    });
  }

  /** The outbox id is derived from (payment, transition): publishing the same fact twice dedups downstream. */
  private async emit(
    m: EntityManager,
    def: MessageDefinition,
    p: Payment,
    key: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    await this.outbox.add(m, def, data as never, { id: deterministicUuid(`${p.id}:${key}`) });
  }
}
