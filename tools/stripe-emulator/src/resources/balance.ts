import type { Emulator } from '../app';
import { f, EXPAND, LIST } from '../http/params';
import { newId, nowSeconds } from '../ids';
import type { StripeObject } from '../store';
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
    type: 'charge' | 'refund' | 'adjustment' | 'payment_failure_refund' | 'refund_failure';
    reporting_category: string;
    description?: string | null;
    fee?: { amount: number; description: string };
  },
): StripeObject {
  const created = nowSeconds();
  const fee = o.fee?.amount ?? 0;
  const txn: StripeObject = {
    id: newId('txn'),
    object: 'balance_transaction',
    amount: o.amount,
    available_on: created + AVAILABLE_AFTER_DAYS * DAY,
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
    status: 'pending',
    type: o.type,
  };
  emu.store.balanceTransactions.insert(txn);
  emu.store.addBalance(o.currency, txn.net, 'pending');
  return txn;
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
      return emu.list(
        store.balanceTransactions,
        '/v1/balance_transactions',
        ctx.params,
        type || source || currency || payout
          ? (t) => (!type || t.type === type) && (!source || t.source === source) && (!currency || t.currency === currency) && !payout
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
