// The daily reconciliation audit (decision 0016) on a busy day: N balance transactions listed by Stripe (faked in
// process, with their sources expanded) against N reconciliation entries in PostgreSQL. Times the audit as the
// service runs it (copy the list into PostgreSQL in batches, compare in one statement) beside a baseline in the
// same run: the naive audit, every entry of the day read into a Map in Node and compared there.
//
//   node -r @swc-node/register bench/payments/reconciliation-audit.bench.ts [--transactions 100000] [--keep]
// (--keep leaves the schema, to look at the comparison's plan)
import { JsonLogger, createLogger } from '@omnipay/observability';
import type Stripe from 'stripe';
import type { PaymentsConfig } from '../../services/payments/src/config';
import { AuditRepository } from '../../services/payments/src/reconciliation/audit.repository';
import { AuditService } from '../../services/payments/src/reconciliation/audit.service';
import { arg, printTable } from '../lib';
import { postgresCpu, cpuDelta } from '../processes';
import { paymentsBenchSchema } from './schema';

const N = arg('transactions', 100_000);
const DAY = '2026-11-20';
const T0 = Date.parse(`${DAY}T00:00:00Z`) / 1000;

/** Stripe's side: one transaction per entry (1 % without an entry, 2 % with another fee) and 5 % payouts. */
function* stripeList(): Generator<Stripe.BalanceTransaction> {
  for (let i = N - 1; i >= 0; i--) {
    const fee = i % 50 === 0 ? 60 : 59;
    yield {
      id: `txn_${i}`,
      object: 'balance_transaction',
      type: 'charge',
      amount: 2000,
      fee,
      net: 2000 - fee,
      currency: 'usd',
      created: T0 + (i % 86_000),
      source: { id: `ch_${i}`, object: 'charge', payment_intent: `pi_${i}`, status: 'succeeded' },
    } as unknown as Stripe.BalanceTransaction;
    if (i % 20 === 0)
      yield { id: `txn_po_${i}`, type: 'payout', amount: -1, fee: 0, net: -1, currency: 'usd', created: T0 + 1, source: { id: `po_${i}`, object: 'payout' } } as unknown as Stripe.BalanceTransaction;
  }
}

const fakeStripe = {
  balanceTransactions: { list: () => ({ [Symbol.asyncIterator]: async function* () { yield* stripeList(); } }) },
} as unknown as Stripe;

async function main(): Promise<void> {
  const seeded = Date.now();
  const { ds, schema, drop } = await paymentsBenchSchema('bench_audit', N);
  try {
    await ds.query(
      `INSERT INTO reconciliation_entries (entry_id, kind, order_id, payment_id, payment_intent_id, charge_id, source_id, balance_transaction_id,
         channel, gross, fee, net, currency, occurred_at, available_on)
       SELECT 'txn_' || i, 'charge', 'ord_' || i, 'pay_' || i, 'pi_' || i, 'ch_' || i, 'ch_' || i, 'txn_' || i, 'web', 2000, 59, 1941, 'usd',
              to_timestamp($2 + i % 86000), to_timestamp($2 + 172800)
         FROM generate_series(0, $1 - 1) i WHERE i % 100 <> 7`,
      [N, T0],
    );
    await ds.query('ANALYZE');
    console.log(`audit bench: ${N} Stripe transactions (+${Math.ceil(N / 20)} payouts) against ${N - Math.ceil(N / 100)} entries; seeded in ${((Date.now() - seeded) / 1000).toFixed(1)} s (schema ${schema})`);

    const rows: Record<string, string | number>[] = [];
    for (let round = 1; round <= 2; round++) {
      // Baseline: the naive audit in Node.
      global.gc?.();
      const rss0 = process.memoryUsage().rss;
      let t = performance.now();
      let pg = postgresCpu();
      const cpu0 = process.cpuUsage();
      const entries = new Map<string, { gross: number; fee: number; net: number }>();
      const all = await ds.query<{ entry_id: string; gross: string; fee: string; net: string }[]>(
        `SELECT entry_id, gross, fee, net FROM reconciliation_entries WHERE occurred_at >= $1 AND occurred_at < $2`,
        [new Date(T0 * 1000).toISOString(), new Date((T0 + 86_400) * 1000).toISOString()],
      );
      for (const e of all) entries.set(e.entry_id, { gross: Number(e.gross), fee: Number(e.fee), net: Number(e.net) });
      let missing = 0;
      let differs = 0;
      for await (const txn of fakeStripe.balanceTransactions.list() as unknown as AsyncIterable<Stripe.BalanceTransaction>) {
        if (txn.type === 'payout') continue;
        const e = entries.get(txn.id);
        if (!e) missing++;
        else if (e.fee !== txn.fee || e.gross !== txn.amount || e.net !== txn.net) differs++;
      }
      const baseCpu = process.cpuUsage(cpu0);
      rows.push({
        round,
        audit: 'baseline: entries into a Map in Node',
        seconds: (performance.now() - t) / 1000,
        'node CPU s': (baseCpu.user + baseCpu.system) / 1e6,
        'PostgreSQL CPU s': cpuDelta(pg, postgresCpu()),
        'RSS growth MB': (process.memoryUsage().rss - rss0) / 1e6,
        found: `missing ${missing}, differs ${differs}`,
      });
      entries.clear();

      // The service's audit.
      const repo = new AuditRepository(ds);
      const service = new AuditService(repo, new JsonLogger(createLogger('payments', 'silent')), fakeStripe, {
        RECONCILIATION_AUDIT_DAILY: false,
        RECONCILIATION_AUDIT_POLL_MS: 60_000,
        RECONCILIATION_AUDIT_LEASE_MS: 300_000,
      } as PaymentsConfig);
      await repo.request(DAY, 'bench');
      global.gc?.();
      const rss1 = process.memoryUsage().rss;
      let compareMs = 0;
      const compare = repo.compare.bind(repo);
      repo.compare = async (...a: Parameters<AuditRepository['compare']>) => {
        const c0 = performance.now();
        try {
          return await compare(...a);
        } finally {
          compareMs = performance.now() - c0;
        }
      };
      t = performance.now();
      pg = postgresCpu();
      const cpu1 = process.cpuUsage();
      await service.runOnce();
      const ownCpu = process.cpuUsage(cpu1);
      const seconds = (performance.now() - t) / 1000;
      const audit = (await repo.get(DAY))!;
      rows.push({
        round,
        audit: `the service's: copy, then one statement (compare ${(compareMs / 1000).toFixed(1)} s)`,
        seconds,
        'node CPU s': (ownCpu.user + ownCpu.system) / 1e6,
        'PostgreSQL CPU s': cpuDelta(pg, postgresCpu()),
        'RSS growth MB': (process.memoryUsage().rss - rss1) / 1e6,
        found: `missing ${audit.result?.problems.missing}, differs ${audit.result?.problems.differs}, others ${JSON.stringify(audit.result?.otherStripeTransactions)}`,
      });
    }
    printTable(`Reconciliation audit of one day, ${N} transactions`, rows);
  } finally {
    await drop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
