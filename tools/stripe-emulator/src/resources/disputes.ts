import type { Emulator } from '../app';
import { invalidRequest } from '../http/errors';
import { f, EXPAND, LIST } from '../http/params';
import type { RequestContext } from '../http/router';
import { newId, nowSeconds } from '../ids';
import type { StripeObject } from '../store';
import { createBalanceTransaction } from './balance';
import { applyUpdates } from './common';

const DAY = 86_400;
const DISPUTE_FEE = 1500;
/** Test-mode evidence that decides the outcome, as in Stripe's test mode. */
const WINNING = 'winning_evidence';
const LOSING = 'losing_evidence';
const CLOSED = new Set(['won', 'lost', 'warning_closed', 'prevented']);

/** `pm_card_createDispute`: a fraudulent-use dispute opens shortly after the charge succeeds. */
export function scheduleDispute(emu: Emulator, chargeId: string): void {
  emu.later(emu.config.asyncCaptureDelayMs + 5, () => {
    const ch = emu.store.charges.get(chargeId);
    if (!ch || ch.disputed) return;
    const amount = ch.amount_captured || ch.amount;
    const id = newId('du');
    const txn = createBalanceTransaction(emu, {
      amount: -amount,
      currency: ch.currency,
      source: id,
      type: 'adjustment',
      reporting_category: 'dispute',
      description: `Chargeback withdrawal for ${ch.id}`,
      fee: { amount: DISPUTE_FEE, description: 'Dispute fee' },
    });
    const dispute: StripeObject = {
      id,
      object: 'dispute',
      amount,
      balance_transactions: [txn],
      charge: ch.id,
      created: nowSeconds(),
      currency: ch.currency,
      enhanced_eligibility_types: [],
      evidence: {},
      evidence_details: { due_by: nowSeconds() + 7 * DAY, has_evidence: false, past_due: false, submission_count: 0, enhanced_eligibility: {} },
      is_charge_refundable: false,
      livemode: false,
      metadata: {},
      payment_intent: ch.payment_intent,
      payment_method_details: { card: { brand: ch.payment_method_details?.card?.brand ?? 'visa', case_type: 'chargeback', network_reason_code: '10.4' }, type: 'card' },
      reason: 'fraudulent',
      status: 'needs_response',
    };
    emu.store.disputes.insert(dispute);
    ch.disputed = true;
    emu.emit('charge.dispute.created', dispute, null);
    emu.emit('charge.dispute.funds_withdrawn', dispute, null);
  });
}

/**
 * A dispute ends. Won: the disputed amount comes back to the balance (`dispute_reversal`; the fee stays, which is
 * Stripe's rule in most countries) and `charge.dispute.funds_reinstated` follows `charge.dispute.closed`.
 */
function close(emu: Emulator, dispute: StripeObject, status: 'won' | 'lost', ctx: RequestContext | null): void {
  const prev = { status: dispute.status };
  dispute.status = status;
  if (status === 'won') {
    const txn = createBalanceTransaction(emu, {
      amount: dispute.amount,
      currency: dispute.currency,
      source: dispute.id,
      type: 'adjustment',
      reporting_category: 'dispute_reversal',
      description: `Chargeback reversal for ${dispute.charge}`,
    });
    dispute.balance_transactions = [...(dispute.balance_transactions ?? []), txn];
  }
  emu.emit('charge.dispute.closed', dispute, ctx, prev);
  if (status === 'won') emu.emit('charge.dispute.funds_reinstated', dispute, ctx);
}

function openDispute(emu: Emulator, id: string): StripeObject {
  const dispute = emu.get(emu.store.disputes, 'dispute', id);
  if (CLOSED.has(dispute.status)) throw invalidRequest(`This dispute is already closed (${dispute.status}).`, { code: 'dispute_already_closed' });
  return dispute;
}

export function register(emu: Emulator): void {
  const { store } = emu;
  emu.route({ method: 'GET', path: '/v1/disputes/:id', spec: EXPAND, handler: (ctx) => emu.get(store.disputes, 'dispute', ctx.pathParams.id!) });
  emu.route({
    method: 'GET',
    path: '/v1/disputes',
    spec: { ...LIST, charge: f.str(), payment_intent: f.str() },
    handler: (ctx) => {
      const { charge, payment_intent } = ctx.params;
      return emu.list(store.disputes, '/v1/disputes', ctx.params, (d) => (!charge || d.charge === charge) && (!payment_intent || d.payment_intent === payment_intent));
    },
  });
  // Evidence, staged or submitted (`submit`, default true). In test mode `uncategorized_text` decides the outcome.
  emu.route({
    method: 'POST',
    path: '/v1/disputes/:id',
    spec: { ...EXPAND, evidence: f.any(), metadata: f.meta(), submit: f.bool(), intended_submission_method: f.str() },
    handler: (ctx) => {
      const dispute = openDispute(emu, ctx.pathParams.id!);
      const prev: Record<string, unknown> = {};
      applyUpdates(dispute, ctx.params, [], prev);
      const evidence = ctx.params.evidence as Record<string, unknown> | undefined;
      if (evidence) {
        prev.evidence = dispute.evidence;
        dispute.evidence = { ...dispute.evidence, ...evidence };
        dispute.evidence_details = { ...dispute.evidence_details, has_evidence: true };
      }
      // `submit` defaults to true and sends whatever evidence is staged, from this call or an earlier one.
      if (ctx.params.submit !== false && dispute.evidence_details?.has_evidence) {
        prev.status = dispute.status;
        dispute.status = 'under_review';
        dispute.evidence_details = { ...dispute.evidence_details, submission_count: (dispute.evidence_details?.submission_count ?? 0) + 1 };
      }
      if (Object.keys(prev).length) emu.emit('charge.dispute.updated', dispute, ctx, prev);
      const text = dispute.evidence?.uncategorized_text;
      if (dispute.status === 'under_review' && (text === WINNING || text === LOSING)) close(emu, dispute, text === WINNING ? 'won' : 'lost', ctx);
      return dispute;
    },
  });
  // The merchant accepts the dispute: it is lost.
  emu.route({
    method: 'POST',
    path: '/v1/disputes/:id/close',
    spec: EXPAND,
    handler: (ctx) => {
      const dispute = openDispute(emu, ctx.pathParams.id!);
      close(emu, dispute, 'lost', ctx);
      return dispute;
    },
  });
}
