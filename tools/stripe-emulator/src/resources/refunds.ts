/**
 * Refunds: full and partial, several per charge, never more than was captured. Each refund gets its own
 * (negative) balance transaction; `charge.amount_refunded` is the running total.
 */
import type { Emulator } from '../app';
import { invalidRequest } from '../http/errors';
import { f, EXPAND, LIST } from '../http/params';
import type { RequestContext } from '../http/router';
import { newId, nowSeconds, randomToken } from '../ids';
import type { StripeObject } from '../store';
import { createBalanceTransaction } from './balance';
import { mergeMetadata } from './common';

type RefundStatus = 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';
/** Refund status machine: which statuses each transition starts from. */
export const REFUND_TRANSITIONS: Record<'succeed' | 'fail' | 'cancel', readonly RefundStatus[]> = {
  succeed: ['pending'],
  fail: ['pending', 'succeeded'],
  // Stripe cancels only refunds waiting for the customer (requires_action): a pending one has moved money already.
  cancel: ['requires_action'],
};

const fmt = (amount: number, currency: string) => `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;

export function createRefund(emu: Emulator, p: Record<string, any>, ctx: RequestContext | null): StripeObject {
  const { store } = emu;
  if (!p.charge && !p.payment_intent) throw invalidRequest('One of the following params should be provided for this request: payment_intent or charge.', { param: 'charge', code: 'parameter_missing' });
  if (p.charge && p.payment_intent) {
    throw invalidRequest('You may only specify one of these parameters: charge, payment_intent.', { param: 'payment_intent', code: 'parameters_exclusive' });
  }
  let ch: StripeObject;
  if (p.payment_intent) {
    const pi = emu.get(store.paymentIntents, 'payment_intent', p.payment_intent, 'payment_intent');
    if (!pi.latest_charge || pi.status !== 'succeeded') {
      throw invalidRequest(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, { param: 'payment_intent', code: 'charge_not_refundable' });
    }
    ch = emu.get(store.charges, 'charge', pi.latest_charge, 'charge');
  } else {
    ch = emu.get(store.charges, 'charge', p.charge, 'charge');
  }
  if (ch.status !== 'succeeded' || !ch.captured) {
    throw invalidRequest(`Charge ${ch.id} has not been captured and cannot be refunded; cancel the PaymentIntent instead.`, { param: 'charge', code: 'charge_not_refundable' });
  }
  if (ch.disputed) throw invalidRequest(`Charge ${ch.id} has been charged back; cannot issue a refund.`, { param: 'charge', code: 'charge_disputed' });
  const remaining = ch.amount_captured - ch.amount_refunded;
  if (remaining <= 0) throw invalidRequest(`Charge ${ch.id} has already been refunded.`, { param: 'charge', code: 'charge_already_refunded' });
  const amount = p.amount ?? remaining;
  if (amount < 1) throw invalidRequest('Refund amount must be at least 1.', { param: 'amount', code: 'parameter_invalid_integer' });
  if (amount > remaining) {
    throw invalidRequest(
      `Refund amount (${fmt(amount, ch.currency)}) is greater than unrefunded amount on charge (${fmt(remaining, ch.currency)})`,
      { param: 'amount', code: 'amount_too_large' },
    );
  }
  if (p.currency && p.currency.toLowerCase() !== ch.currency) throw invalidRequest(`Currency must match the charge's currency (${ch.currency}).`, { param: 'currency' });
  const id = newId('re');
  const txn = createBalanceTransaction(emu, {
    amount: -amount,
    currency: ch.currency,
    source: id,
    type: 'refund',
    reporting_category: 'refund',
    description: 'REFUND FOR CHARGE',
  });
  const refund: StripeObject = {
    id,
    object: 'refund',
    amount,
    balance_transaction: txn.id,
    charge: ch.id,
    created: nowSeconds(),
    currency: ch.currency,
    customer: ch.customer ?? null,
    customer_account: null,
    description: null,
    destination_details: {
      type: ch.payment_method_details?.type === 'card_present' ? 'card_present' : 'card',
      [ch.payment_method_details?.type === 'card_present' ? 'card_present' : 'card']: { reference: randomToken(12), reference_status: 'available', reference_type: 'acquirer_reference_number', type: 'refund' },
    },
    metadata: p.metadata ?? {},
    payment_intent: ch.payment_intent,
    payment_method: ch.payment_method,
    reason: p.reason ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
  store.refunds.insert(refund);
  const list = store.refundsByCharge.get(ch.id) ?? [];
  list.push(refund.id);
  store.refundsByCharge.set(ch.id, list);
  const prev = { amount_refunded: ch.amount_refunded, refunded: ch.refunded };
  ch.amount_refunded += amount;
  ch.refunded = ch.amount_refunded >= ch.amount_captured;
  emu.emit('refund.created', refund, ctx);
  emu.emit('charge.refunded', ch, ctx, prev);
  return refund;
}

function setRefundStatus(emu: Emulator, refund: StripeObject, to: RefundStatus, action: keyof typeof REFUND_TRANSITIONS, ctx: RequestContext | null): StripeObject {
  if (!REFUND_TRANSITIONS[action].includes(refund.status)) {
    throw invalidRequest(`Refund ${refund.id} has status ${refund.status} and cannot be moved to ${to}.`, { param: 'refund' });
  }
  const prev = { status: refund.status };
  refund.status = to;
  if (to === 'failed' || to === 'canceled') {
    const ch = emu.store.charges.get(refund.charge);
    if (ch) {
      const chPrev = { amount_refunded: ch.amount_refunded, refunded: ch.refunded };
      ch.amount_refunded -= refund.amount;
      ch.refunded = false;
      if (to === 'failed') {
        refund.failure_reason = 'declined';
        refund.failure_balance_transaction = createBalanceTransaction(emu, {
          amount: refund.amount,
          currency: refund.currency,
          source: refund.id,
          type: 'refund_failure',
          reporting_category: 'refund_failure',
          description: 'REFUND FAILURE',
        }).id;
      }
      emu.emit('charge.updated', ch, ctx, chPrev);
    }
  }
  if (to === 'failed') emu.emit('refund.failed', refund, ctx, prev);
  emu.emit('refund.updated', refund, ctx, prev);
  emu.emit('charge.refund.updated', refund, ctx, prev);
  return refund;
}

/** Admin: a refund fails after the fact (the money comes back, `refund.failed` + `refund.updated`). */
export function failRefund(emu: Emulator, refund: StripeObject): StripeObject {
  return setRefundStatus(emu, refund, 'failed', 'fail', null);
}

export function register(emu: Emulator): void {
  const { store } = emu;
  emu.route({
    method: 'POST',
    path: '/v1/refunds',
    spec: {
      ...EXPAND,
      amount: f.int(),
      charge: f.str(),
      payment_intent: f.str(),
      currency: f.str(),
      customer: f.str(),
      instructions_email: f.str(),
      metadata: f.meta(),
      origin: f.enum(['customer_balance']),
      reason: f.enum(['duplicate', 'fraudulent', 'requested_by_customer']),
      refund_application_fee: f.bool(),
      reverse_transfer: f.bool(),
    },
    handler: (ctx) => createRefund(emu, ctx.params, ctx),
  });
  emu.route({ method: 'GET', path: '/v1/refunds/:id', spec: EXPAND, handler: (ctx) => emu.get(store.refunds, 'refund', ctx.pathParams.id!) });
  emu.route({
    method: 'POST',
    path: '/v1/refunds/:id',
    spec: { ...EXPAND, metadata: f.meta() },
    handler: (ctx) => {
      const r = emu.get(store.refunds, 'refund', ctx.pathParams.id!);
      if (ctx.params.metadata) {
        const prev = { metadata: r.metadata };
        r.metadata = mergeMetadata(r.metadata, ctx.params.metadata);
        emu.emit('refund.updated', r, ctx, prev);
        emu.emit('charge.refund.updated', r, ctx, prev);
      }
      return r;
    },
  });
  emu.route({
    method: 'POST',
    path: '/v1/refunds/:id/cancel',
    spec: EXPAND,
    handler: (ctx) => setRefundStatus(emu, emu.get(store.refunds, 'refund', ctx.pathParams.id!), 'canceled', 'cancel', ctx),
  });
  emu.route({
    method: 'GET',
    path: '/v1/refunds',
    spec: { ...LIST, charge: f.str(), payment_intent: f.str() },
    handler: (ctx) => {
      const { charge, payment_intent } = ctx.params;
      return emu.list(store.refunds, '/v1/refunds', ctx.params, charge || payment_intent ? (r) => (!charge || r.charge === charge) && (!payment_intent || r.payment_intent === payment_intent) : undefined);
    },
  });
}
