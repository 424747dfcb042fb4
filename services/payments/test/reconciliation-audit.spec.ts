/**
 * The daily audit's SQL on the real PostgreSQL (decision 0016), Stripe's list faked in process so that each kind of
 * line can be set up: what counts as the platform's, what is missing, pending, unexpected or different, orders
 * paid twice (and an authorisation cancelled before capture, which is not), totals per currency, and the life of
 * an audit row: a snapshot run again by the schedule, a request during a run, a lease taken over, a pending day
 * requeued.
 */
import { JsonLogger, createLogger } from '@omnipay/observability';
import { TestDatabase, engines, uniqueName } from '@omnipay/testing';
import type Stripe from 'stripe';
import type { DataSource } from 'typeorm';
import type { PaymentsConfig } from '../src/config';
import { AuditRepository } from '../src/reconciliation/audit.repository';
import { AuditService } from '../src/reconciliation/audit.service';
import { paymentsSchema } from './harness';

const DAY = '2026-11-20';
const AT = Date.parse(`${DAY}T12:00:00Z`) / 1000;

type Source = { id: string; object: string; payment_intent?: string | null; status?: string };

function txn(id: string, type: string, amount: number, fee: number, source: Source | string, currency = 'usd') {
  return { id, object: 'balance_transaction', type, amount, fee, net: amount - fee, currency, created: AT, source };
}

function listing(txns: ReturnType<typeof txn>[]): Stripe {
  return {
    balanceTransactions: {
      list: (params: { created: { gte: number; lt: number }; expand: string[] }) => {
        expect(params.expand).toEqual(['data.source']);
        return {
          async *[Symbol.asyncIterator]() {
            yield* txns.filter((t) => t.created >= params.created.gte && t.created < params.created.lt);
          },
        };
      },
    },
  } as unknown as Stripe;
}

const config = {
  RECONCILIATION_AUDIT_DAILY: false,
  RECONCILIATION_AUDIT_AFTER_MINUTES: 60,
  RECONCILIATION_AUDIT_POLL_MS: 60_000,
  RECONCILIATION_AUDIT_LEASE_MS: 60_000,
} as PaymentsConfig;

describe('Reconciliation audit on PostgreSQL', () => {
  const db = new TestDatabase(engines().databaseUrl);
  const schema = uniqueName('pay_audit');
  let ds: DataSource;
  let repo: AuditRepository;
  const q = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    db.query<T>(sql.replaceAll('§', `"${schema}"`), params);
  const logger = new JsonLogger(createLogger('payments', 'silent'));

  beforeAll(async () => {
    ds = await paymentsSchema(schema);
    repo = new AuditRepository(ds);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db.dropSchema(schema);
    await db.close();
  });

  const entry = (id: string, kind: string, order: string, payment: string, source: string, gross: number, fee: number, currency = 'usd', charge: string | null = null) =>
    q(
      `INSERT INTO §.reconciliation_entries (entry_id, kind, order_id, payment_id, payment_intent_id, charge_id, source_id,
         balance_transaction_id, channel, gross, fee, net, currency, occurred_at, available_on)
       VALUES ($1,$2,$3,$4,'pi',$9,$5,$1,'web',$6,$7,$6::bigint - $7::bigint,$8,to_timestamp(${AT}),to_timestamp(${AT}))`,
      [id, kind, order, payment, source, gross, fee, currency, charge],
    );

  it('names each missing, pending, unexpected and different line and each order paid twice, and passes over what is not the platform’s', async () => {
    await q(
      `INSERT INTO §.payments (id, order_id, attempt, channel, amount, currency, capture_method, payment_intent_id, charge_id, status) VALUES
         ('pay_ok','ord_ok',1,'web',1000,'usd','automatic','pi_ok','ch_ok','succeeded'),
         ('pay_lost','ord_lost',1,'web',2000,'usd','automatic','pi_lost',NULL,'requires_payment_method'),
         ('pay_eur','ord_eur',1,'web',3000,'eur','automatic','pi_eur','ch_eur','succeeded'),
         ('pay_2a','ord_2',1,'web',500,'usd','automatic','pi_2a','ch_2a','succeeded'),
         ('pay_2b','ord_2',2,'web',500,'usd','automatic','pi_2b','ch_2b','succeeded'),
         ('pay_pos1','ord_pos',1,'pos',700,'usd','manual','pi_pos1','ch_pos1','canceled'),
         ('pay_3a','ord_3',1,'web',600,'usd','automatic','pi_3a','ch_3a','succeeded'),
         ('pay_3b','ord_3',2,'web',600,'usd','automatic','pi_3b','ch_3b','succeeded'),
         ('pay_pos2','ord_pos',2,'pos',700,'usd','manual','pi_pos2','ch_pos2','succeeded')`,
    );
    await q(`INSERT INTO §.refunds (refund_id, payment_id, amount, status) VALUES ('re_ok','pay_ok',400,'succeeded')`);
    await q(
      `INSERT INTO §.reconciliation_sources (source_id, kind, payment_id, done_at) VALUES
         ('ch_ok','charge','pay_ok',now()), ('re_queued','refund','pay_ok',NULL)`,
    );
    await entry('txn_ok', 'charge', 'ord_ok', 'pay_ok', 'ch_ok', 1000, 59);
    await entry('txn_re_ok', 'refund', 'ord_ok', 'pay_ok', 're_ok', -400, 0);
    await entry('txn_eur', 'charge', 'ord_eur', 'pay_eur', 'ch_eur', 3000, 112, 'eur');
    await entry('txn_2a', 'charge', 'ord_2', 'pay_2a', 'ch_2a', 500, 45);
    await entry('txn_2b', 'charge', 'ord_2', 'pay_2b', 'ch_2b', 500, 46); // Stripe says 45: differs
    await entry('txn_pos2', 'charge', 'ord_pos', 'pay_pos2', 'ch_pos2', 700, 50);
    await entry('txn_ghost', 'charge', 'ord_ghost', 'pay_ok', 'ch_ghost', 900, 56); // not at Stripe: unexpected
    // Paid twice, and the second payment refunded in full (decision 0018): not an order paid twice any more.
    await entry('txn_3a', 'charge', 'ord_3', 'pay_3a', 'ch_3a', 600, 47);
    await entry('txn_3b', 'charge', 'ord_3', 'pay_3b', 'ch_3b', 600, 47);
    await entry('txn_re_3b', 'refund', 'ord_3', 'pay_3b', 're_3b', -600, 0, 'usd', 'ch_3b');

    const stripe = listing([
      txn('txn_ok', 'charge', 1000, 59, { id: 'ch_ok', object: 'charge', payment_intent: 'pi_ok', status: 'succeeded' }),
      txn('txn_re_ok', 'refund', -400, 0, { id: 're_ok', object: 'refund', payment_intent: 'pi_ok', status: 'succeeded' }),
      txn('txn_eur', 'charge', 3000, 112, { id: 'ch_eur', object: 'charge', payment_intent: 'pi_eur' }, 'eur'),
      txn('txn_2a', 'charge', 500, 45, { id: 'ch_2a', object: 'charge', payment_intent: 'pi_2a' }),
      txn('txn_2b', 'charge', 500, 45, { id: 'ch_2b', object: 'charge', payment_intent: 'pi_2b' }),
      txn('txn_pos2', 'charge', 700, 50, { id: 'ch_pos2', object: 'charge', payment_intent: 'pi_pos2' }),
      txn('txn_3a', 'charge', 600, 47, { id: 'ch_3a', object: 'charge', payment_intent: 'pi_3a' }),
      txn('txn_3b', 'charge', 600, 47, { id: 'ch_3b', object: 'charge', payment_intent: 'pi_3b' }),
      txn('txn_re_3b', 'refund', -600, 0, { id: 're_3b', object: 'refund', payment_intent: 'pi_3b', status: 'succeeded' }),
      // A charge of a PaymentIntent payments created and never heard of again (every event lost): missing.
      txn('txn_lost', 'charge', 2000, 88, { id: 'ch_lost', object: 'charge', payment_intent: 'pi_lost' }),
      // A refund Stripe has not finished, and one the reconciliation worker still has queued: pending.
      txn('txn_re_slow', 'refund', -100, 0, { id: 're_slow', object: 'refund', payment_intent: 'pi_ok', status: 'pending' }),
      txn('txn_re_queued', 'refund', -200, 0, { id: 're_queued', object: 'refund', payment_intent: null, status: 'succeeded' }),
      // Not the platform's: a payout, another integration's charge.
      txn('txn_po', 'payout', -5000, 0, { id: 'po_1', object: 'payout' }),
      txn('txn_other', 'charge', 9900, 317, { id: 'ch_other', object: 'charge', payment_intent: 'pi_someone_else' }),
      // Another day: not listed for this one.
      { ...txn('txn_tomorrow', 'charge', 1, 0, 'ch_x'), created: AT + 86_400 },
    ]);
    const service = new AuditService(repo, logger, stripe, config);
    await repo.request(DAY, 'test');
    expect(await service.runOnce()).toBe(true);
    const audit = (await repo.get(DAY))!;
    expect(audit).toMatchObject({ status: 'done', outcome: 'mismatches', runs: 1 });
    const result = audit.result!;
    expect(result.problems).toEqual({ missing: 1, pending: 2, unexpected: 1, differs: 1, order_paid_twice: 1 });
    expect(result.details.map((d) => `${d.problem}:${d.balanceTransactionId}`)).toEqual([
      'missing:txn_lost',
      'unexpected:txn_ghost',
      'differs:txn_2b',
      'pending:txn_re_queued',
      'pending:txn_re_slow',
    ]);
    // Not ord_pos (its first authorisation took nothing) nor ord_3 (its second charge was refunded in full).
    expect(result.ordersPaidTwice).toEqual([{ orderId: 'ord_2', charges: 2 }]);
    expect(result.otherStripeTransactions).toEqual({ charge: 1, payout: 1 });
    expect(result.stripeTransactions).toBe(14);
    expect(result.dayComplete).toBe(true);
    const byCurrency = Object.fromEntries(result.currencies.map((c) => [c.currency, c]));
    expect(byCurrency.eur).toEqual({
      currency: 'eur',
      stripe: { count: 1, gross: 3000, fee: 112, net: 2888 },
      entries: { count: 1, gross: 3000, fee: 112, net: 2888 },
      difference: { count: 0, gross: 0, fee: 0, net: 0 },
    });
    // usd: entries lack txn_lost (2000/88), re_slow (-100) and re_queued (-200), have txn_ghost (900/56), and
    // txn_2b's fee is one more.
    expect(byCurrency.usd.difference).toEqual({ count: -2, gross: 900 - 2000 + 100 + 200, fee: 56 - 88 + 1, net: 844 - 1912 + 300 - 1 });
    expect(await q(`SELECT * FROM §.reconciliation_audit_stripe_txns`)).toEqual([]); // the copy is gone with the run
  });

  it('runs a snapshot again once the day is due, runs once more after a request made during a run, and lets a lease that ran out be taken over', async () => {
    const day = '2026-11-10';
    const dueAt = new Date('2026-11-11T01:00:00Z');
    // A snapshot taken during the day (its run started before the day was due): the schedule asks again.
    await q(
      `INSERT INTO §.reconciliation_audits (day, status, requested_by, runs, started_at, finished_at, outcome)
       VALUES ($1, 'done', 'finance:f1', 1, '2026-11-10T15:00:00Z', '2026-11-10T15:00:01Z', 'clean')`,
      [day],
    );
    await repo.schedule(day, dueAt);
    expect((await repo.get(day))!).toMatchObject({ status: 'requested', requested_by: 'schedule' });

    const first = (await repo.claim(60_000))!;
    expect(first.day).toBe(day);
    // Asked for during the run: the run goes on, and the day is asked for again when it ends.
    expect(await repo.request(day, 'finance:f1')).toMatchObject({ status: 'running', rerun_requested: true });
    expect(await repo.finish(day, first.runId, { outcome: 'clean' } as never)).toBe(true);
    expect((await repo.get(day))!).toMatchObject({ status: 'requested', rerun_requested: false, runs: 2 });

    // A run whose lease ran out is taken over; it can neither renew nor finish any more.
    const slow = (await repo.claim(1))!;
    await new Promise((r) => setTimeout(r, 20));
    const takeover = (await repo.claim(60_000))!;
    expect(takeover).toMatchObject({ day });
    expect(takeover.runId).not.toBe(slow.runId);
    expect(await repo.renew(day, slow.runId, 60_000)).toBe(false);
    expect(await repo.finish(day, slow.runId, { outcome: 'clean' } as never)).toBe(false);
    expect(await repo.finish(day, takeover.runId, { outcome: 'clean' } as never)).toBe(true);

    // The day's run started after it was due: the schedule leaves it alone.
    await q(`UPDATE §.reconciliation_audits SET started_at = $2 WHERE day = $1`, [day, '2026-11-11T01:00:05Z']);
    await repo.schedule(day, dueAt);
    expect((await repo.get(day))!.status).toBe('done');
  });

  it('asks again, an hour after it finished, for a recent day whose audit found only pending lines', async () => {
    const recent = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    const old = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
    for (const day of [recent, old])
      await q(
        `INSERT INTO §.reconciliation_audits (day, status, requested_by, runs, started_at, finished_at, outcome)
         VALUES ($1, 'done', 'schedule', 1, now() - interval '2 hours', now() - interval '2 hours', 'pending')`,
        [day],
      );
    await repo.requeuePending(7);
    expect((await repo.get(recent))!.status).toBe('requested');
    expect((await repo.get(old))!.status).toBe('done');
  });
});
