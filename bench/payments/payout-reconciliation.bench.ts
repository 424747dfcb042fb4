// Reconciliation of one payout (decision 0019) of N balance transactions listed by Stripe (faked in process) against
// the reconciliation entries in PostgreSQL. Times the reconciliation as the service runs it (copy the list into
// PostgreSQL in batches, compare in one statement, record the result and its message) beside a baseline in the
// same run: the naive reconciliation, the payout's entries read into a Map in Node and compared there.
//
//   node --expose-gc -r @swc-node/register bench/payments/payout-reconciliation.bench.ts [--lines 100000] [--keep]
import { OutboxService, UnitOfWork, type MessagingSettings } from '@omnipay/messaging';
import { JsonLogger, createLogger } from '@omnipay/observability';
import type Stripe from 'stripe';
import type { PaymentsConfig } from '../../services/payments/src/config';
import { PayoutsRepository } from '../../services/payments/src/payouts/payouts.repository';
import { PayoutsService } from '../../services/payments/src/payouts/payouts.service';
import { arg, printTable } from '../lib';
import { cpuDelta, postgresCpu } from '../processes';
import { paymentsBenchSchema } from './schema';

const N = arg('lines', 100_000);
const T0 = Date.parse('2026-11-20T00:00:00Z') / 1000;
/** 1 % of the charges have no entry, 2 % another fee than the entry's; one refund per 10 charges. */
const feeOf = (i: number) => (i % 50 === 0 ? 60 : 59);

function* lines(payoutId: string): Generator<Stripe.BalanceTransaction> {
  for (let i = 0; i < N; i++) {
    const refund = i % 10 === 9;
    const fee = refund ? 0 : feeOf(i);
    const amount = refund ? -500 : 2000;
    yield {
      id: `txn_${i}`,
      object: 'balance_transaction',
      type: refund ? 'refund' : 'charge',
      reporting_category: refund ? 'refund' : 'charge',
      amount,
      fee,
      net: amount - fee,
      currency: 'usd',
      created: T0 + (i % 86_000),
      source: refund ? `re_${i}` : `ch_${i}`,
    } as unknown as Stripe.BalanceTransaction;
  }
  yield { id: 'txn_payout', type: 'payout', amount: -1, fee: 0, net: -1, currency: 'usd', created: T0, source: payoutId } as unknown as Stripe.BalanceTransaction;
}

function fakeStripe(payout: Stripe.Payout): Stripe {
  return {
    payouts: { retrieve: async () => payout },
    balanceTransactions: { list: () => ({ [Symbol.asyncIterator]: async function* () { yield* lines(payout.id); } }) },
  } as unknown as Stripe;
}

async function main(): Promise<void> {
  const seeded = Date.now();
  const { ds, schema, drop } = await paymentsBenchSchema('bench_payout', N);
  try {
    await ds.query(
      `INSERT INTO reconciliation_entries (entry_id, kind, order_id, payment_id, payment_intent_id, charge_id, source_id, balance_transaction_id,
         channel, gross, fee, net, currency, occurred_at, available_on)
       SELECT 'txn_' || i, CASE WHEN i % 10 = 9 THEN 'refund' ELSE 'charge' END, 'ord_' || i, 'pay_' || i, 'pi_' || i, 'ch_' || i,
              CASE WHEN i % 10 = 9 THEN 're_' || i ELSE 'ch_' || i END, 'txn_' || i, 'web',
              CASE WHEN i % 10 = 9 THEN -500 ELSE 2000 END, CASE WHEN i % 10 = 9 THEN 0 ELSE 59 END,
              CASE WHEN i % 10 = 9 THEN -500 ELSE 1941 END, 'usd', to_timestamp($2 + i % 86000), to_timestamp($2 + 172800)
         FROM generate_series(0, $1 - 1) i WHERE i % 100 <> 7`,
      [N, T0],
    );
    await ds.query('ANALYZE');
    let total = 0;
    for (const t of lines('po_x')) if (t.type !== 'payout') total += t.net;
    console.log(`payout bench: a payout of ${N} balance transactions against ${N - Math.ceil(N / 100)} entries; seeded in ${((Date.now() - seeded) / 1000).toFixed(1)} s (schema ${schema})`);

    const rows: Record<string, string | number>[] = [];
    const outbox = new OutboxService({ service: 'payments' } as MessagingSettings);
    for (let round = 1; round <= 2; round++) {
      const id = `po_bench_${round}`;
      const payout = { id, object: 'payout', amount: total, currency: 'usd', arrival_date: T0 + 172_800, automatic: true, status: 'paid', reconciliation_status: 'completed', balance_transaction: 'txn_payout', failure_code: null, failure_message: null, failure_balance_transaction: null } as unknown as Stripe.Payout;
      const stripe = fakeStripe(payout);

      // Baseline: the naive reconciliation in Node (what a script against Stripe's list would do).
      global.gc?.();
      const rss0 = process.memoryUsage().rss;
      let t = performance.now();
      let pg = postgresCpu();
      const cpu0 = process.cpuUsage();
      const listed: Stripe.BalanceTransaction[] = [];
      for await (const txn of stripe.balanceTransactions.list({ payout: id }) as unknown as AsyncIterable<Stripe.BalanceTransaction>)
        if (txn.source !== id) listed.push(txn);
      const entries = new Map<string, { gross: number; fee: number; net: number }>();
      for (const e of await ds.query<{ entry_id: string; gross: string; fee: string; net: string }[]>(
        `SELECT entry_id, gross, fee, net FROM reconciliation_entries WHERE entry_id = ANY($1)`,
        [listed.map((l) => l.id)],
      ))
        entries.set(e.entry_id, { gross: Number(e.gross), fee: Number(e.fee), net: Number(e.net) });
      let missing = 0;
      let differs = 0;
      let net = 0;
      for (const txn of listed) {
        net += txn.net;
        const e = entries.get(txn.id);
        if (!e) missing++;
        else if (e.fee !== txn.fee || e.gross !== txn.amount || e.net !== txn.net) differs++;
      }
      const baseCpu = process.cpuUsage(cpu0);
      rows.push({
        round,
        reconciliation: 'baseline: entries into a Map in Node',
        seconds: (performance.now() - t) / 1000,
        'node CPU s': (baseCpu.user + baseCpu.system) / 1e6,
        'PostgreSQL CPU s': cpuDelta(pg, postgresCpu()),
        'RSS growth MB': (process.memoryUsage().rss - rss0) / 1e6,
        found: `missing ${missing}, differs ${differs}, difference ${total - net}`,
      });
      listed.length = 0;
      entries.clear();

      // The service's.
      const service = new PayoutsService(new PayoutsRepository(ds), new UnitOfWork(ds, outbox), outbox, new JsonLogger(createLogger('payments', 'silent')), stripe, {
        PAYOUTS_POLL_MS: 60_000,
        PAYOUTS_LEASE_MS: 300_000,
        PAYOUTS_RETRY_MS: 5_000,
      } as PaymentsConfig);
      await ds.transaction((m) => service.record(m, payout, new Date()));
      global.gc?.();
      const rss1 = process.memoryUsage().rss;
      t = performance.now();
      pg = postgresCpu();
      const cpu1 = process.cpuUsage();
      await service.runOnce();
      const ownCpu = process.cpuUsage(cpu1);
      const seconds = (performance.now() - t) / 1000;
      const row = await service.get(id);
      rows.push({
        round,
        reconciliation: "the service's: copy, then one statement",
        seconds,
        'node CPU s': (ownCpu.user + ownCpu.system) / 1e6,
        'PostgreSQL CPU s': cpuDelta(pg, postgresCpu()),
        'RSS growth MB': (process.memoryUsage().rss - rss1) / 1e6,
        found: `${row.outcome}: missing ${row.result?.problems.missing_entry}, differs ${row.result?.problems.differs}, difference ${row.result?.difference}`,
      });
    }
    printTable(`Reconciliation of one payout of ${N} balance transactions`, rows);
  } finally {
    await drop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
