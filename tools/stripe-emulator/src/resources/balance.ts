import type { Emulator } from '../app';
import { invalidRequest } from '../http/errors';
import { f, EXPAND, LIST } from '../http/params';
import { newId, nowSeconds } from '../ids';
import { Collection, StripeObject } from '../store';
import { stripeFee } from './cards';

const DAY = 86_400;
/** Funds become available this many days after the transaction (Stripe's US standard is 2 business days). */
export const AVAILABLE_AFTER_DAYS = 2;

export function createBalanceTransaction(
  emu: Emulator,
  o: {
    amount: number;
    currency: string;
    source: string;
    type: 'charge' | 'refund' | 'adjustment' | 'payment_failure_refund' | 'refund_failure' | 'payout' | 'payout_failure';
    reporting_category: string;
    description?: string | null;
    fee?: { amount: number; description: string };
    /** payouts and their failures move the available balance at once; everything else starts pending */
    status?: 'pending' | 'available';
  },
): StripeObject {
  const created = nowSeconds();
  const fee = o.fee?.amount ?? 0;
  const status = o.status ?? 'pending';
  const txn: StripeObject = {
    id: newId('txn'),
    object: 'balance_transaction',
    amount: o.amount,
    available_on: status === 'available' ? created : created + AVAILABLE_AFTER_DAYS * DAY,
    balance_type: 'payments',
    created,
    currency: o.currency,
    description: o.description ?? null,
    exchange_rate: null,
    fee,
    fee_details: o.fee ? [{ amount: fee, application: null, currency: o.currency, description: o.fee.description, type: 'stripe_fee' }] : [],
    net: o.amount - fee,
    reporting_category: o.reporting_category,
    source: o.source,
    status,
    type: o.type,
  };
  emu.store.balanceTransactions.insert(txn);
  emu.store.addBalance(o.currency, txn.net, status);
  return txn;
}

/**
 * The pending funds of `txn` become available now (the emulator has no clock to wait `available_on` out), so
 * `available_on` is brought forward to now as well: a payout never contains funds dated after it.
 */
export function makeAvailable(emu: Emulator, txn: StripeObject): void {
  if (txn.status !== 'pending') return;
  txn.status = 'available';
  txn.available_on = Math.min(txn.available_on, nowSeconds());
  emu.store.addBalance(txn.currency, -txn.net, 'pending');
  emu.store.addBalance(txn.currency, txn.net, 'available');
}

/** The balance transaction of a (captured) charge, with the channel's fee. */
export function chargeBalanceTransaction(emu: Emulator, charge: StripeObject, amount: number): StripeObject {
  const channel = charge.payment_method_details?.type === 'card_present' ? 'card_present' : 'online';
  return createBalanceTransaction(emu, {
    amount,
    currency: charge.currency,
    source: charge.id,
    type: 'charge',
    reporting_category: 'charge',
    description: charge.description,
    fee: { amount: stripeFee(amount, channel), description: 'Stripe processing fees' },
  });
}

/** Stripe attributes transactions to automatic payouts only; a manual payout draws on the balance as a whole. */
function transactionsOfPayout(emu: Emulator, payoutId: string): Collection<StripeObject> {
  const po = emu.get(emu.store.payouts, 'payout', payoutId, 'payout');
  if (!po.automatic) {
    // The wording is the emulator's own; Stripe refuses this too, in words not checked here.
    throw invalidRequest(`Balance transactions can be listed by payout for automatic payouts only; ${po.id} is a manual payout.`, { param: 'payout' });
  }
  return emu.store.txnsOfPayout.get(po.id) ?? new Collection<StripeObject>();
}

export function register(emu: Emulator): void {
  const { store } = emu;
  emu.route({
    method: 'GET',
    path: '/v1/balance_transactions/:id',
    spec: EXPAND,
    handler: (ctx) => emu.get(store.balanceTransactions, 'balance transaction', ctx.pathParams.id!),
  });
  emu.route({
    method: 'GET',
    path: '/v1/balance_transactions',
    spec: { ...LIST, type: f.str(), source: f.str(), currency: f.str(), payout: f.str() },
    handler: (ctx) => {
      const { type, source, currency, payout } = ctx.params;
      // By payout: only that payout's transactions (what it paid out, its own `payout` transaction and any failure).
      const coll = payout ? transactionsOfPayout(emu, payout) : store.balanceTransactions;
      return emu.list(
        coll,
        '/v1/balance_transactions',
        ctx.params,
        type || source || currency
          ? (t) => (!type || t.type === type) && (!source || t.source === source) && (!currency || t.currency === currency)
          : undefined,
      );
    },
  });
  emu.route({
    method: 'GET',
    path: '/v1/balance',
    spec: EXPAND,
    handler: () => {
      const currencies = new Set([...store.balance.available.keys(), ...store.balance.pending.keys()]);
      const row = (m: Map<string, number>, c: string) => ({ amount: m.get(c) ?? 0, currency: c, source_types: { card: m.get(c) ?? 0 } });
      return {
        object: 'balance',
        available: [...currencies].map((c) => row(store.balance.available, c)),
        pending: [...currencies].map((c) => row(store.balance.pending, c)),
        livemode: false,
      };
    },
  });
}
