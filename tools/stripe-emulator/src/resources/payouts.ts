/**
 * Payouts (`po_…`) to one fake bank account. Automatic payouts come from `runPayouts` (admin
 * `POST /_emulator/payouts`), the emulator's stand-in for Stripe's payout schedule; manual ones from
 * `POST /v1/payouts`. Which transactions a payout contains is kept in the store (`payoutOfTxn`), never on
 * the transaction objects, because Stripe exposes it only through `GET /v1/balance_transactions?payout=`.
 */
import { rangeFilter, type Emulator } from '../app';
import { invalidRequest, resourceMissing } from '../http/errors';
import { f, EXPAND, LIST } from '../http/params';
import type { RequestContext } from '../http/router';
import { newId, nowSeconds } from '../ids';
import type { StripeObject } from '../store';
import { createBalanceTransaction, makeAvailable } from './balance';
import { checkCurrency } from './common';

/** The account's only external account; payouts go there. */
export const PAYOUT_DESTINATION = 'ba_EmulatorBankAccount01';
/** What a failed payout says (Stripe's failure code for a closed account). */
const FAILURE = { code: 'account_closed', message: 'The bank account has been closed.' };
const DESCRIPTION = 'STRIPE PAYOUT';

export interface PayoutRunOptions {
  /** only this currency (lowercase); default: every currency */
  currency?: string;
  /** `failed`: the payouts are created, then fail at once (funds come back); default `paid` */
  status?: 'paid' | 'failed';
}

const fmt = (amount: number, currency: string) => `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;

function newPayout(o: {
  amount: number;
  currency: string;
  automatic: boolean;
  description: string | null;
  metadata: Record<string, string>;
  statement_descriptor: string | null;
}): StripeObject {
  const now = nowSeconds();
  return {
    id: newId('po'),
    object: 'payout',
    amount: o.amount,
    application_fee: null,
    application_fee_amount: null,
    arrival_date: now,
    automatic: o.automatic,
    balance_transaction: null,
    created: now,
    currency: o.currency,
    description: o.description,
    destination: PAYOUT_DESTINATION,
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    livemode: false,
    metadata: o.metadata,
    method: 'standard',
    original_payout: null,
    payout_method: null,
    // Stripe can attribute transactions to automatic payouts only.
    reconciliation_status: o.automatic ? 'in_progress' : 'not_applicable',
    reversed_by: null,
    source_type: 'card',
    statement_descriptor: o.statement_descriptor,
    status: 'pending',
    trace_id: null,
    type: 'bank_account',
  };
}

/** Apply `changes` to the payout and return the previous values (an event's `previous_attributes`). */
function change(po: StripeObject, changes: Record<string, unknown>): Record<string, unknown> {
  const prev: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(changes)) {
    if (po[k] === v) continue;
    prev[k] = po[k];
    po[k] = v;
  }
  return prev;
}

/** The payout's debit of the available balance, as its own balance transaction. */
function debit(emu: Emulator, po: StripeObject): StripeObject {
  const txn = createBalanceTransaction(emu, {
    amount: -po.amount,
    currency: po.currency,
    source: po.id,
    type: 'payout',
    reporting_category: 'payout',
    description: po.description ?? DESCRIPTION,
    status: 'available',
  });
  po.balance_transaction = txn.id;
  emu.store.payouts.insert(po);
  emu.store.addToPayout(po.id, txn);
  return txn;
}

/**
 * The bank sends the money back: a `payout_failure` transaction (source: the failed payout) returns it to the
 * available balance, where the next automatic payout takes it, listed among that payout's transactions.
 */
function failNow(
  emu: Emulator,
  po: StripeObject,
  extra: Record<string, unknown>,
  ctx: RequestContext | null,
): void {
  const txn = createBalanceTransaction(emu, {
    amount: po.amount,
    currency: po.currency,
    source: po.id,
    type: 'payout_failure',
    reporting_category: 'payout_reversal',
    description: 'STRIPE PAYOUT FAILURE',
    status: 'available',
  });
  const prev = change(po, {
    ...extra,
    status: 'failed',
    failure_balance_transaction: txn.id,
    failure_code: FAILURE.code,
    failure_message: FAILURE.message,
  });
  emu.emit('payout.failed', po, ctx, prev);
}

/**
 * Stripe's automatic payout schedule, run now. With no clock to advance, every transaction not yet in a payout
 * first becomes available; then each currency whose transactions sum to a positive net gets one payout of
 * exactly that net, containing them. A currency at zero or below is left for a later run (Stripe would carry
 * the negative balance or debit the bank account; not emulated).
 */
export function runPayouts(emu: Emulator, opts: PayoutRunOptions = {}): StripeObject[] {
  const { store } = emu;
  const unpaid = new Map<string, StripeObject[]>();
  for (const t of store.balanceTransactions.values()) {
    if (store.payoutOfTxn.has(t.id) || (opts.currency && t.currency !== opts.currency)) continue;
    makeAvailable(emu, t);
    const list = unpaid.get(t.currency) ?? [];
    list.push(t);
    unpaid.set(t.currency, list);
  }
  const created: StripeObject[] = [];
  for (const [currency, txns] of unpaid) {
    const amount = txns.reduce((sum, t) => sum + (t.net as number), 0);
    if (amount <= 0) continue;
    const po = newPayout({
      amount,
      currency,
      automatic: true,
      description: DESCRIPTION,
      metadata: {},
      statement_descriptor: null,
    });
    for (const t of txns) store.addToPayout(po.id, t);
    debit(emu, po);
    emu.emit('payout.created', po, null);
    if (opts.status === 'failed') {
      // the contents are settled even though the money came back, so they stay listable by this payout
      failNow(emu, po, { reconciliation_status: 'completed' }, null);
    } else {
      emu.emit('payout.paid', po, null, change(po, { status: 'paid' }));
      emu.emit(
        'payout.reconciliation_completed',
        po,
        null,
        change(po, { reconciliation_status: 'completed' }),
      );
    }
    created.push(po);
  }
  return created;
}

/** Admin: a paid payout fails afterwards (Stripe allows this for a few days after `paid`). */
export function failPayout(emu: Emulator, po: StripeObject): StripeObject {
  if (po.status !== 'paid') {
    throw invalidRequest(`Payout ${po.id} has status ${po.status}; only a paid payout can fail afterwards.`, {
      param: 'payout',
    });
  }
  failNow(emu, po, {}, null);
  return po;
}

/** `POST /v1/payouts`: a manual payout of available funds. It is paid shortly after creation. */
function createManualPayout(emu: Emulator, p: Record<string, any>, ctx: RequestContext): StripeObject {
  const currency = checkCurrency(p.currency);
  if (p.destination !== undefined && p.destination !== PAYOUT_DESTINATION)
    throw resourceMissing('external account', p.destination, 'destination');
  if (p.statement_descriptor !== undefined && p.statement_descriptor.length > 22) {
    throw invalidRequest('The statement descriptor must be at most 22 characters long.', {
      param: 'statement_descriptor',
    });
  }
  // Only card payments exist here, so other source types have nothing to draw on.
  const available =
    (p.source_type ?? 'card') === 'card' ? (emu.store.balance.available.get(currency) ?? 0) : 0;
  if (p.amount > available) {
    throw invalidRequest(
      `Insufficient funds in your Stripe balance for this payout: ${fmt(available, currency)} available, ${fmt(p.amount, currency)} requested.`,
      {
        param: 'amount',
        code: 'balance_insufficient',
      },
    );
  }
  const po = newPayout({
    amount: p.amount,
    currency,
    automatic: false,
    description: p.description ?? null,
    metadata: p.metadata ?? {},
    statement_descriptor: p.statement_descriptor ?? null,
  });
  po.source_type = p.source_type ?? 'card';
  // Its own debit counts as "in a payout", so the next automatic run does not pay out the same funds twice.
  debit(emu, po);
  emu.emit('payout.created', po, ctx);
  emu.later(emu.config.asyncCaptureDelayMs, () => {
    if (po.status === 'pending') emu.emit('payout.paid', po, null, change(po, { status: 'paid' }));
  });
  return po;
}

export function register(emu: Emulator): void {
  const { store } = emu;
  emu.route({
    method: 'GET',
    path: '/v1/payouts/:id',
    spec: EXPAND,
    handler: (ctx) => emu.get(store.payouts, 'payout', ctx.pathParams.id!),
  });
  emu.route({
    method: 'GET',
    path: '/v1/payouts',
    spec: { ...LIST, status: f.str(), destination: f.str(), arrival_date: f.any() },
    handler: (ctx) => {
      const { status, destination } = ctx.params;
      const arrival = rangeFilter('arrival_date', ctx.params.arrival_date);
      return emu.list(
        store.payouts,
        '/v1/payouts',
        ctx.params,
        status || destination || arrival
          ? (po) =>
              (!status || po.status === status) &&
              (!destination || po.destination === destination) &&
              (!arrival || arrival(po))
          : undefined,
      );
    },
  });
  emu.route({
    method: 'POST',
    path: '/v1/payouts',
    spec: {
      ...EXPAND,
      amount: f.int({ required: true, min: 1 }),
      currency: f.req(),
      description: f.str(),
      destination: f.str(),
      metadata: f.meta(),
      // instant payouts need a debit card destination, which the emulator does not have
      method: f.enum(['standard']),
      source_type: f.enum(['bank_account', 'card', 'fpx']),
      statement_descriptor: f.str(),
    },
    handler: (ctx) => createManualPayout(emu, ctx.params, ctx),
  });
}
