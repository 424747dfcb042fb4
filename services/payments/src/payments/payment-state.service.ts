import { Injectable } from '@nestjs/common';
import {
  PaymentAuthorized,
  PaymentCanceled,
  PaymentCreated,
  PaymentDisputeClosed,
  PaymentDisputed,
  PaymentFailed,
  PaymentRefunded,
  PaymentRefundFailed,
  PaymentRequiresAction,
  PaymentSucceeded,
  type MessageDefinition,
} from '@omnipay/contracts';
import { OutboxService } from '@omnipay/messaging';
import { idOf } from '@omnipay/stripe';
import { JsonLogger, metricsRegistry } from '@omnipay/observability';
import { Counter } from 'prom-client';
import type Stripe from 'stripe';
import type { EntityManager } from 'typeorm';
import { deterministicUuid } from '../common/ids';
import { FINAL_STATUSES, decide, isFinal, refundStatusAdvances, statusOfIntent, type PaymentStatus } from './payment-state';
import { paymentRef, type Payment } from './payment.model';
import { SqlPaymentStore, type PaymentStore } from './payment-store';
import { PaymentsRepository } from './payments.repository';

/** Where an observation comes from: a Stripe event (its id and `created`), an API answer or the janitor. */
export interface ObservationSource {
  kind: 'event' | 'api' | 'janitor';
  id: string;
  /** unix seconds */
  created: number;
}

export const PLATFORM = 'omnipay';

/** Stripe's closed dispute statuses (`payment.dispute_closed` outcomes). */
const DISPUTE_OUTCOMES = ['won', 'lost', 'warning_closed', 'prevented'] as const;

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

/** Facts that only make sense once the payment has succeeded: held back until a final status is announced. */
const HELD_UNTIL_FINAL: readonly MessageDefinition[] = [PaymentRefunded, PaymentRefundFailed, PaymentDisputed, PaymentDisputeClosed];

const factsHeld = new Counter({
  name: 'payments_facts_held_total',
  help: "Refund and dispute facts held back because they overtook the payment's final status, by message type",
  labelNames: ['type'],
  registers: [metricsRegistry],
});

/** A transaction (each read and write a statement) or a chunk's working copy (`BatchPaymentStore`). */
export type StateTarget = EntityManager | PaymentStore;

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

  private store(target: StateTarget): PaymentStore {
    return 'recordTransition' in target ? target : new SqlPaymentStore(target, this.repo, this.outbox);
  }

  /**
   * Held facts of payments already in a final status, which the transition to it should have released (a chunk
   * that decided them while another was releasing, had it read them stale): moved into the outbox behind the final
   * status's fact, which is there already. Returns how many; the janitor runs it, and anything above 0 is a bug.
   */
  async releaseStrandedFacts(m: EntityManager): Promise<number> {
    // Found through held_facts itself (few rows), not the count, which a bug could have left wrong; a payment a chunk
    // or a request has locked is left to the next pass.
    const stranded = await m.query<{ id: string; amount_received: string }[]>(
      `SELECT id, amount_received FROM payments WHERE id IN (SELECT payment_id FROM held_facts) AND status = ANY($1::text[])
        ORDER BY id FOR UPDATE SKIP LOCKED`,
      [FINAL_STATUSES],
    );
    const store = this.store(m);
    let moved = 0;
    for (const p of stranded) moved += await store.releaseHeld(p.id, Number(p.amount_received));
    return moved;
  }

  /** The payment a PaymentIntent belongs to, or undefined when the platform did not create it. */
  async findForIntent(target: StateTarget, pi: Stripe.PaymentIntent): Promise<Payment | undefined> {
    if (pi.metadata?.platform !== PLATFORM || !pi.metadata.paymentId) return undefined;
    return (await this.store(target).byId(pi.metadata.paymentId)) ?? undefined;
  }

  async applyPaymentIntent(
    target: StateTarget,
    pi: Stripe.PaymentIntent,
    source: ObservationSource,
  ): Promise<Payment | undefined> {
    const m = this.store(target);
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
    // A late `requires_capture` snapshot must not make a captured or cancelled payment capturable again.
    if (pi.status === 'requires_capture' && pi.amount_capturable !== payment.amountCapturable && !isFinal(payment.status))
      facts.amount_capturable = pi.amount_capturable;
    if (pi.status === 'succeeded' && payment.amountCapturable !== 0) facts.amount_capturable = 0;
    await m.update(payment.id, facts);
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
      !(await m.recordTransition(payment.id, d.transitionKey, d.to, `${source.kind}:${source.id}`))
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
    await m.update(payment.id, update);
    const next: Payment = { ...payment, status: d.to, cycle: d.cycle, statusObservedAt: source.created };
    await this.announce(m, next, d.to, d.transitionKey, pi);
    if (isFinal(d.to)) await m.releaseHeld(next.id, next.amountReceived);
    transitionsApplied.inc({ status: d.to, source: source.kind });
    if (d.to === 'succeeded' && next.chargeId)
      await m.enqueueReconciliation(next.chargeId, 'charge', next.id);
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
    m: PaymentStore,
    payment: Payment,
    pi: Stripe.PaymentIntent,
    source: ObservationSource,
  ): Promise<Payment> {
    if (payment.paymentIntentId) return payment;
    await m.update(payment.id, { payment_intent_id: pi.id });
    const p = { ...payment, paymentIntentId: pi.id };
    if (await m.recordTransition(p.id, 'created', null, `${source.kind}:${source.id}`)) {
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
    m: PaymentStore,
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
  async applyCharge(target: StateTarget, charge: Stripe.Charge, source: ObservationSource): Promise<void> {
    const m = this.store(target);
    const piId = idOf(charge.payment_intent);
    const payment = piId ? await m.byIntent(piId) : await m.byCharge(charge.id);
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
      await m.update(payment.id, {
        amount_refunded: charge.amount_refunded,
        amount_refunded_observed_at: source.created,
      });
    }
    if (charge.status === 'succeeded' && charge.captured && charge.paid) {
      if (!payment.chargeId) await m.update(payment.id, { charge_id: charge.id });
      await m.enqueueReconciliation(charge.id, 'charge', payment.id);
    }
    for (const refund of charge.refunds?.data ?? []) await this.applyRefund(m, refund, source);
  }

  /** A refund observed (our API answer or an event): at most one PaymentRefunded per refund id. */
  async applyRefund(target: StateTarget, refund: Stripe.Refund, source: ObservationSource): Promise<void> {
    const m = this.store(target);
    const piId = idOf(refund.payment_intent);
    const chargeId = idOf(refund.charge);
    const payment = piId ? await m.byIntent(piId) : chargeId ? await m.byCharge(chargeId) : undefined;
    if (!payment) {
      observationsIgnored.inc({ reason: 'not_ours' });
      return;
    }
    const status = refund.status ?? 'pending';
    const requestId =
      refund.metadata?.platform === PLATFORM ? (refund.metadata.refundRequestId ?? null) : null;
    const existing = await m.refundStatus(refund.id);
    if (existing === undefined) {
      await m.insertRefund({ refundId: refund.id, paymentId: payment.id, requestId, amount: refund.amount, status });
    } else if (refundStatusAdvances(existing, status)) {
      await m.setRefundStatus(refund.id, status);
    } else {
      return;
    }
    if (requestId) {
      // `requires_action` is still under way at Stripe (the customer has to act): the request's amount stays held.
      await m.markRefundRequest(
        requestId,
        refund.id,
        status === 'succeeded' ? 'succeeded' : status === 'pending' || status === 'requires_action' ? 'pending' : 'failed',
      );
    }
    if (status === 'failed' || status === 'canceled') {
      // Its balance transactions (the refund's, and the failure's that gives the money back) are finance's, whether
      // or not we saw it succeed first: a refund seen pending, or whose failure was delivered first, has them too.
      await m.enqueueReconciliation(refund.id, 'refund', payment.id, true);
      if (status === 'failed' && existing === 'succeeded' && payment.status !== 'canceled')
        await this.announceRefundFailure(m, payment, refund, source);
    }
    if (status !== 'succeeded') return;
    await m.enqueueReconciliation(refund.id, 'refund', payment.id);
    if (!(await m.recordTransition(payment.id, `refunded:${refund.id}`, null, `${source.kind}:${source.id}`)))
      return;

    // Totals are absolute: Stripe's amount_refunded when we have seen it, at least the sum of refunds we know.
    const known = await m.succeededRefundTotal(payment.id);
    const fresh = await m.amounts(payment.id);
    const captured = fresh.amountReceived || payment.amount;
    const total = Math.min(captured, Math.max(fresh.amountRefunded, known));
    if (payment.status === 'canceled') {
      // Stripe "refunds" an authorisation released by a cancel: no money was captured, so it is no refund to the
      // order, its stock or its points (held-facts.ts drops those decided before the cancel). Its reconciliation source
      // settles with no entry: no balance transaction ever comes for it.
      if (total > fresh.amountRefunded) await m.update(payment.id, { amount_refunded: total });
      this.logger.pino.info({ paymentId: payment.id, orderId: payment.orderId, refundId: refund.id }, 'released authorisation of a cancelled payment; not announced as a refund');
      return;
    }
    const refundSeq = fresh.refundSeq + 1;
    await m.update(payment.id, { ...(total > fresh.amountRefunded ? { amount_refunded: total } : {}), refund_seq: refundSeq });
    const request = requestId ? await m.refundRequest(requestId) : undefined;
    await this.emit(m, PaymentRefunded, payment, `refunded:${refund.id}`, {
      ...paymentRef(payment),
      refundId: refund.id,
      amount: refund.amount,
      totalRefunded: total,
      refundSeq,
      amountCaptured: captured,
      currency: refund.currency,
      fullyRefunded: total >= captured,
      reason: request?.reason ?? refund.reason ?? null,
      returnedItems: request?.returned_items ?? [],
      returnStoreId: request?.return_store_id ?? null,
    });
  }

  /**
   * A refund we announced as succeeded failed: the money is back with the merchant, so the payment's refunded total
   * goes down (the one case it does) and consumers hear `payment.refund_failed` with the new absolute total. A
   * refund first seen as failed was never announced and needs nothing.
   */
  private async announceRefundFailure(
    m: PaymentStore,
    payment: Payment,
    refund: Stripe.Refund,
    source: ObservationSource,
  ): Promise<void> {
    if (!(await m.recordTransition(payment.id, `refund_failed:${refund.id}`, null, `${source.kind}:${source.id}`)))
      return;
    const fresh = await m.amounts(payment.id);
    const captured = fresh.amountReceived || payment.amount;
    // The stored total counted this refund when it was announced. A charge snapshot that already left it out may
    // have lowered it since: the refunds still succeeded, which every refund event adds to, are the floor.
    const known = await m.succeededRefundTotal(payment.id);
    const total = Math.min(captured, Math.max(0, known, fresh.amountRefunded - refund.amount));
    // Observed a second after the failure: a charge snapshot of the failure's own second may predate it, and the
    // same-second rule of applyCharge (the larger wins) would count the failed refund again.
    const refundSeq = fresh.refundSeq + 1;
    await m.update(payment.id, {
      amount_refunded: total,
      amount_refunded_observed_at: Math.max(fresh.amountRefundedObservedAt, source.created + 1),
      refund_seq: refundSeq,
    });
    await this.emit(m, PaymentRefundFailed, payment, `refund_failed:${refund.id}`, {
      ...paymentRef(payment),
      refundId: refund.id,
      amount: refund.amount,
      totalRefunded: total,
      refundSeq,
      amountCaptured: captured,
      currency: refund.currency,
      failureReason: refund.failure_reason ?? null,
    });
  }

  async applyDispute(target: StateTarget, dispute: Stripe.Dispute, source: ObservationSource): Promise<void> {
    const m = this.store(target);
    const piId = idOf(dispute.payment_intent);
    const chargeId = idOf(dispute.charge);
    const payment = piId ? await m.byIntent(piId) : chargeId ? await m.byCharge(chargeId) : undefined;
    if (!payment) {
      observationsIgnored.inc({ reason: 'not_ours' });
      return;
    }
    await m.enqueueReconciliation(dispute.id, 'dispute', payment.id);
    const from = `${source.kind}:${source.id}`;
    // Opened, then (maybe in the same observation, when the first event seen is a late one) closed: in that order.
    if (await m.recordTransition(payment.id, `disputed:${dispute.id}`, null, from)) {
      await m.update(payment.id, { disputed: true });
      await this.emit(m, PaymentDisputed, payment, `disputed:${dispute.id}`, {
        ...paymentRef(payment),
        disputeId: dispute.id,
        amount: dispute.amount,
        currency: dispute.currency,
        reason: dispute.reason ?? null,
      });
    }
    const outcome = DISPUTE_OUTCOMES.find((o) => o === dispute.status);
    if (outcome && (await m.recordTransition(payment.id, `dispute_closed:${dispute.id}`, null, from))) {
      await this.emit(m, PaymentDisputeClosed, payment, `dispute_closed:${dispute.id}`, {
        ...paymentRef(payment),
        disputeId: dispute.id,
        outcome,
        amount: dispute.amount,
        currency: dispute.currency,
      });
    }
  }

  /**
   * The outbox id is derived from (payment, transition): publishing the same fact twice dedups downstream. A refund
   * or dispute fact of a payment not yet in a final status (Stripe's events overtake each other) is held back and
   * follows `payment.succeeded` (or `payment.canceled`: a cancelled authorisation's release can come as a refund)
   * when that is written, so every consumer hears of a payment's success before its refunds and disputes, whatever
   * order Stripe delivered them in (decision 0025).
   */
  private async emit(
    m: PaymentStore,
    def: MessageDefinition,
    p: Payment,
    key: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    const opts = { id: deterministicUuid(`${p.id}:${key}`) };
    if (!HELD_UNTIL_FINAL.includes(def) || isFinal(p.status)) return m.emit(def, data, opts);
    await m.hold(p.id, def, data, opts);
    factsHeld.inc({ type: def.type });
    this.logger.pino.info({ paymentId: p.id, orderId: p.orderId, type: def.type }, 'fact held until the payment succeeds or is cancelled');
  }
}
