/**
 * The reconciliation worker takes a pass's sources together: one claim, one payments read, the Stripe reads side
 * by side, one transaction. This suite checks on the real PostgreSQL (Stripe faked in process, so each source's
 * answer is chosen) that a pass with charges, a refund that failed after succeeding, a dispute, a balance
 * transaction not there yet and a Stripe error writes exactly one entry and one message per balance transaction,
 * puts the others back with their backoff, and that a source that breaks the batch is retried on its own
 * while the rest of its pass is reconciled.
 */
import { Topics } from '@omnipay/contracts';
import { OutboxService, UnitOfWork, type MessagingSettings } from '@omnipay/messaging';
import { JsonLogger, createLogger, metricsRegistry } from '@omnipay/observability';
import { TestDatabase, engines, uniqueName } from '@omnipay/testing';
import type Stripe from 'stripe';
import type { DataSource } from 'typeorm';
import { deterministicUuid } from '../src/common/ids';
import { paymentsSchema } from './harness';
import type { PaymentsConfig } from '../src/config';
import { ReconciliationWorker } from '../src/reconciliation/reconciliation.worker';

const T = 1_800_000_000;

function txn(id: string, amount: number, fee: number): Stripe.BalanceTransaction {
  return {
    id,
    object: 'balance_transaction',
    amount,
    fee,
    net: amount - fee,
    currency: 'usd',
    created: T,
    available_on: T + 86_400,
  } as Stripe.BalanceTransaction;
}

/** Stripe as the worker reads it; each source's answer is set by the test. */
class FakeStripe {
  charges = new Map<string, Stripe.BalanceTransaction | null | Error>();
  /** Charges never captured (an authorisation released by a cancel). */
  uncaptured = new Set<string>();
  refunds = new Map<string, { txn: Stripe.BalanceTransaction | null; charge: string; failure?: string; status?: string }>();
  disputes = new Map<string, { charge: string; txns: Stripe.BalanceTransaction[]; status?: string }>();
  byId = new Map<string, Stripe.BalanceTransaction>();

  api(): Stripe {
    return {
      charges: {
        retrieve: async (id: string) => {
          const bt = this.charges.get(id);
          if (bt instanceof Error) throw bt;
          if (bt === undefined) throw new Error(`No such charge: ${id}`);
          return { id, object: 'charge', balance_transaction: bt, captured: !this.uncaptured.has(id) };
        },
      },
      refunds: {
        retrieve: async (id: string) => {
          const re = this.refunds.get(id);
          if (!re) throw new Error(`No such refund: ${id}`);
          return {
            id,
            object: 'refund',
            charge: re.charge,
            balance_transaction: re.txn,
            failure_balance_transaction: re.failure ?? null,
            status: re.status ?? 'succeeded',
          };
        },
      },
      disputes: {
        retrieve: async (id: string) => {
          const dp = this.disputes.get(id);
          if (!dp) throw new Error(`No such dispute: ${id}`);
          return { id, object: 'dispute', charge: dp.charge, balance_transactions: dp.txns, status: dp.status ?? 'needs_response' };
        },
      },
      balanceTransactions: {
        retrieve: async (id: string) => {
          const bt = this.byId.get(id);
          if (!bt) throw new Error(`No such balance transaction: ${id}`);
          return bt;
        },
      },
    } as unknown as Stripe;
  }
}

async function entriesWritten(): Promise<Record<string, number>> {
  const metric = metricsRegistry.getSingleMetric('payments_reconciliation_entries_total');
  const { values } = await (
    metric as unknown as { get(): Promise<{ values: { labels: { kind?: string }; value: number }[] }> }
  ).get();
  return Object.fromEntries(values.map((v) => [String(v.labels.kind), v.value]));
}

describe('Reconciliation worker, a pass at a time', () => {
  const db = new TestDatabase(engines().databaseUrl);
  const schema = uniqueName('pay_recon');
  let ds: DataSource;
  const q = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    db.query<T>(sql.replaceAll('§', `"${schema}"`), params);

  beforeAll(async () => {
    ds = await paymentsSchema(schema);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db.dropSchema(schema);
    await db.close();
  });

  it('writes one entry and one message per balance transaction for a whole pass, retries what is not ready, and isolates a source that breaks the batch', async () => {
    const settings = { service: 'payments' } as MessagingSettings;
    const outbox = new OutboxService(settings);
    const logger = new JsonLogger(createLogger('payments', 'silent'));
    const warn = jest.spyOn(logger.pino, 'warn');
    const warned = () => warn.mock.calls as unknown[][];
    const stripe = new FakeStripe();
    const config = { RECONCILIATION_POLL_MS: 500, RECONCILIATION_LEASE_MS: 60_000 } as PaymentsConfig;
    const worker = new ReconciliationWorker(
      ds,
      new UnitOfWork(ds, outbox),
      outbox,
      logger,
      stripe.api(),
      config,
    );

    await q(
      `INSERT INTO §.payments (id, order_id, attempt, channel, store_id, amount, currency, capture_method, payment_intent_id, status, status_observed_at)
       VALUES ('pay_a','ord_a',1,'web',NULL,2000,'usd','automatic','pi_a','succeeded',${T}),
              ('pay_b','ord_b',1,'pos','store_1',3000,'usd','manual','pi_b','succeeded',${T}),
              ('pay_c','ord_c',1,'web',NULL,1000,'usd','automatic',NULL,'succeeded',${T})`,
    );
    // ch_c is not due yet: it joins the second pass. ch_late has waited eight times already.
    await q(
      `INSERT INTO §.reconciliation_sources (source_id, kind, payment_id, attempts, next_attempt_at)
       VALUES ('ch_a','charge','pay_a',0,now()), ('ch_b','charge','pay_b',0,now()), ('re_a','refund','pay_a',0,now()),
              ('dp_b','dispute','pay_b',0,now()), ('ch_late','charge','pay_a',8,now()), ('ch_err','charge','pay_b',0,now()),
              ('ch_c','charge','pay_c',0,now() + interval '1 day')`,
    );
    stripe.charges.set('ch_a', txn('txn_ch_a', 2000, 88));
    stripe.charges.set('ch_b', txn('txn_ch_b', 3000, 117));
    stripe.charges.set('ch_late', null);
    stripe.charges.set('ch_err', new Error('stripe down'));
    stripe.charges.set('ch_c', txn('txn_ch_c', 1000, 59));
    stripe.byId.set('txn_re_a_fail', txn('txn_re_a_fail', 500, 0));
    stripe.refunds.set('re_a', { txn: txn('txn_re_a', -500, 0), charge: 'ch_a', failure: 'txn_re_a_fail' });
    stripe.disputes.set('dp_b', {
      charge: 'ch_b',
      txns: [txn('txn_dp_b1', -3000, 1500), txn('txn_dp_b2', 0, -1500)],
    });

    const before = await entriesWritten();
    const state = async () => ({
      entries: await q(
        `SELECT entry_id, kind, order_id, payment_id, payment_intent_id, charge_id, source_id, balance_transaction_id,
                channel, store_id, gross::int, fee::int, net::int, currency FROM §.reconciliation_entries ORDER BY entry_id`,
      ),
      outbox: await q<{ id: string; key: string; data: Record<string, unknown> }>(
        `SELECT id::text, key, payload::jsonb->'data' AS data FROM §.outbox WHERE topic = $1 ORDER BY seq`,
        [Topics.financeReconciliation],
      ),
      sources: Object.fromEntries(
        (
          await q<{
            source_id: string;
            done: boolean;
            attempts: number;
            last_error: string | null;
            wait_s: number;
          }>(
            `SELECT source_id, done_at IS NOT NULL AS done, attempts, last_error,
                    extract(epoch FROM next_attempt_at - now())::float AS wait_s FROM §.reconciliation_sources`,
          )
        ).map((r) => [r.source_id, r]),
      ),
    });

    // Pass 1: everything due is claimed together.
    expect(await worker.runOnce()).toBe(6);
    let s = await state();
    expect(s.entries.map((e) => `${String(e.source_id)}:${String(e.entry_id)}`)).toEqual([
      'ch_a:txn_ch_a',
      'ch_b:txn_ch_b',
      'dp_b:txn_dp_b1',
      'dp_b:txn_dp_b2',
      're_a:txn_re_a',
      're_a:txn_re_a_fail',
    ]);
    expect(s.entries.find((e) => e.entry_id === 'txn_re_a_fail')).toEqual({
      entry_id: 'txn_re_a_fail',
      kind: 'refund',
      order_id: 'ord_a',
      payment_id: 'pay_a',
      payment_intent_id: 'pi_a',
      charge_id: 'ch_a',
      source_id: 're_a',
      balance_transaction_id: 'txn_re_a_fail',
      channel: 'web',
      store_id: null,
      gross: 500,
      fee: 0,
      net: 500,
      currency: 'usd',
    });
    expect(s.outbox.map((o) => o.id).sort()).toEqual(
      s.entries.map((e) => deterministicUuid(`recon:${String(e.entry_id)}`)).sort(),
    );
    expect(s.outbox.find((o) => o.key === 'txn_dp_b2')?.data).toEqual({
      entryId: 'txn_dp_b2',
      kind: 'dispute',
      orderId: 'ord_b',
      paymentIntentId: 'pi_b',
      chargeId: 'ch_b',
      sourceId: 'dp_b',
      balanceTransactionId: 'txn_dp_b2',
      channel: 'pos',
      storeId: 'store_1',
      gross: 0,
      fee: -1500,
      net: 1500,
      currency: 'usd',
      occurredAt: new Date(T * 1000).toISOString(),
      availableOn: new Date((T + 86_400) * 1000).toISOString(),
    });
    for (const id of ['ch_a', 'ch_b', 're_a', 'dp_b'])
      expect(s.sources[id]).toMatchObject({ done: true, attempts: 0, last_error: null });
    // Not ready: put back with its own backoff (100 ms · 2^8) and logged on the cadence; a Stripe error likewise.
    expect(s.sources.ch_late).toMatchObject({
      done: false,
      attempts: 9,
      last_error: 'balance transaction not available yet',
    });
    expect(s.sources.ch_late.wait_s).toBeGreaterThan(20);
    expect(s.sources.ch_late.wait_s).toBeLessThanOrEqual(25.6);
    expect(s.sources.ch_err).toMatchObject({ done: false, attempts: 1, last_error: 'stripe down' });
    expect(s.sources.ch_err.wait_s).toBeLessThanOrEqual(0.1);
    expect(warned().filter(([, msg]) => msg === 'reconciliation source still pending')).toEqual([
      [
        expect.objectContaining({ sourceId: 'ch_late', kind: 'charge', attempts: 9 }),
        'reconciliation source still pending',
      ],
    ]);
    expect(await entriesWritten()).toEqual({
      charge: (before.charge ?? 0) + 2,
      refund: (before.refund ?? 0) + 2,
      dispute: (before.dispute ?? 0) + 2,
    });

    // Pass 2: the late charge is ready, the dispute is reopened with one more balance transaction, ch_err still
    // fails, and ch_c (a payment without its PaymentIntent id) cannot be written, which fails the batch.
    warn.mockClear();
    stripe.charges.set('ch_late', txn('txn_ch_late', 2000, 88));
    stripe.disputes.set('dp_b', {
      charge: 'ch_b',
      txns: [...(stripe.disputes.get('dp_b')?.txns ?? []), txn('txn_dp_b3', 3000, 0)],
    });
    await q(
      `UPDATE §.reconciliation_sources SET next_attempt_at = now(), done_at = CASE WHEN source_id = 'dp_b' THEN NULL ELSE done_at END
        WHERE source_id IN ('ch_late','ch_err','ch_c','dp_b')`,
    );
    expect(await worker.runOnce()).toBe(4);
    s = await state();
    expect(s.entries.map((e) => String(e.entry_id))).toEqual([
      'txn_ch_a',
      'txn_ch_b',
      'txn_ch_late',
      'txn_dp_b1',
      'txn_dp_b2',
      'txn_dp_b3',
      'txn_re_a',
      'txn_re_a_fail',
    ]);
    expect(s.outbox.map((o) => o.key).sort()).toEqual(s.entries.map((e) => String(e.entry_id)));
    expect(s.sources.ch_late).toMatchObject({ done: true, attempts: 9, last_error: null });
    expect(s.sources.dp_b).toMatchObject({ done: true, last_error: null });
    expect(s.sources.ch_err).toMatchObject({ done: false, attempts: 2, last_error: 'stripe down' });
    expect(s.sources.ch_c).toMatchObject({ done: false, attempts: 1 });
    expect(s.sources.ch_c.last_error).toMatch(/payment_intent_id/);
    expect(warned().map(([, msg]) => msg)).toEqual([
      'reconciliation batch failed; applying its sources one by one',
    ]);
    expect(await entriesWritten()).toEqual({
      charge: (before.charge ?? 0) + 3,
      refund: (before.refund ?? 0) + 2,
      dispute: (before.dispute ?? 0) + 3,
    });

    // Nothing due: a pass claims nothing and writes nothing.
    await q(
      `UPDATE §.reconciliation_sources SET next_attempt_at = now() + interval '1 day' WHERE done_at IS NULL`,
    );
    expect(await worker.runOnce()).toBe(0);
    expect((await state()).outbox).toHaveLength(8);

    // Entries finance has been sent are never edited or deleted, whoever asks: a correction is a new entry.
    const entries = await q<{ n: number }>('SELECT count(*)::int AS n FROM §.reconciliation_entries');
    await expect(q(`UPDATE §.reconciliation_entries SET gross = 0`)).rejects.toThrow(
      /reconciliation_entries is append-only: UPDATE refused/,
    );
    await expect(q(`DELETE FROM §.reconciliation_entries`)).rejects.toThrow(/reconciliation_entries is append-only: DELETE refused/);
    expect(await q<{ n: number }>('SELECT count(*)::int AS n FROM §.reconciliation_entries')).toEqual(entries);
  });

  it('marks done, with no entry, an inquiry, a closed or prevented dispute that moved no funds, a refund that ended without moving money and the release of an authorisation; waits for an open dispute', async () => {
    const stripe = new FakeStripe();
    const outbox = new OutboxService({ service: 'payments' } as MessagingSettings);
    const worker = new ReconciliationWorker(
      ds,
      new UnitOfWork(ds, outbox),
      outbox,
      new JsonLogger(createLogger('payments', 'silent')),
      stripe.api(),
      { RECONCILIATION_POLL_MS: 500, RECONCILIATION_LEASE_MS: 60_000 } as PaymentsConfig,
    );
    await q(
      `INSERT INTO §.reconciliation_sources (source_id, kind, payment_id, attempts, next_attempt_at)
       VALUES ('dp_inquiry','dispute','pay_a',0,now()), ('dp_closed','dispute','pay_a',0,now()), ('dp_open','dispute','pay_b',0,now()),
              ('dp_prevented','dispute','pay_a',0,now()),
              ('re_canceled','refund','pay_a',0,now()), ('re_failed_early','refund','pay_a',0,now()), ('re_pending','refund','pay_b',0,now()),
              ('re_released','refund','pay_c',0,now())`,
    );
    stripe.disputes.set('dp_inquiry', { charge: 'ch_a', txns: [], status: 'warning_closed' });
    stripe.disputes.set('dp_closed', { charge: 'ch_a', txns: [], status: 'won' });
    stripe.disputes.set('dp_open', { charge: 'ch_b', txns: [], status: 'needs_response' });
    stripe.disputes.set('dp_prevented', { charge: 'ch_a', txns: [], status: 'prevented' });
    stripe.refunds.set('re_canceled', { txn: null, charge: 'ch_a', status: 'canceled' });
    stripe.refunds.set('re_failed_early', { txn: null, charge: 'ch_a', status: 'failed' });
    stripe.refunds.set('re_pending', { txn: null, charge: 'ch_b', status: 'pending' });
    stripe.charges.set('ch_b', null);
    // An authorisation released by a cancel, made a refund on API versions before 2025-03-31.basil: no money moved.
    stripe.refunds.set('re_released', { txn: null, charge: 'ch_c', status: 'succeeded' });
    stripe.charges.set('ch_c', null);
    stripe.uncaptured.add('ch_c');
    const entriesBefore = await q<{ n: number }>('SELECT count(*)::int AS n FROM §.reconciliation_entries');

    expect(await worker.runOnce()).toBe(8);
    const sources = await q<{ source_id: string; done: boolean }>(
      `SELECT source_id, done_at IS NOT NULL AS done FROM §.reconciliation_sources
        WHERE source_id IN ('dp_inquiry','dp_closed','dp_open','dp_prevented','re_canceled','re_failed_early','re_pending','re_released') ORDER BY 1`,
    );
    expect(Object.fromEntries(sources.map((r) => [r.source_id, r.done]))).toEqual({
      dp_closed: true,
      dp_inquiry: true,
      dp_open: false,
      dp_prevented: true,
      re_canceled: true,
      re_failed_early: true,
      re_pending: false,
      re_released: true,
    });
    expect(await q<{ n: number }>('SELECT count(*)::int AS n FROM §.reconciliation_entries')).toEqual(entriesBefore);
  });
});
