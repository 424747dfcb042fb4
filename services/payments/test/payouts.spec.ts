/**
 * Payouts on the real PostgreSQL (decision 0019), Stripe faked in process so that each case can be set up: a paid
 * payout matched with its lines and the entries, once; waiting for Stripe's attribution and for entries still being
 * written; mismatches; a payout failing after it was reconciled; a manual payout; a payout of thousands of lines.
 */
import { OutboxService, UnitOfWork, type MessagingSettings } from '@omnipay/messaging';
import { JsonLogger, createLogger } from '@omnipay/observability';
import { TestDatabase, engines, uniqueName } from '@omnipay/testing';
import type Stripe from 'stripe';
import type { DataSource } from 'typeorm';
import type { PaymentsConfig } from '../src/config';
import { ApiError } from '../src/common/http-errors';
import { PayoutsController } from '../src/payouts/payouts.controller';
import { PayoutsRepository } from '../src/payouts/payouts.repository';
import { PayoutsService } from '../src/payouts/payouts.service';
import { paymentsSchema } from './harness';

const AT = Date.parse('2026-11-20T12:00:00Z') / 1000;

type Txn = { id: string; type: string; amount: number; fee: number; net: number; currency: string; created: number; source: string; reporting_category: string };
const txn = (id: string, type: string, amount: number, fee: number, source: string, currency = 'usd'): Txn => ({
  id,
  type,
  amount,
  fee,
  net: amount - fee,
  currency,
  created: AT,
  source,
  reporting_category: type,
});

function payout(id: string, amount: number, over: Partial<Stripe.Payout> = {}): Stripe.Payout {
  return {
    id,
    object: 'payout',
    amount,
    currency: 'usd',
    arrival_date: AT + 86_400,
    automatic: true,
    balance_transaction: `txn_${id}`,
    created: AT,
    status: 'paid',
    reconciliation_status: 'completed',
    failure_code: null,
    failure_message: null,
    failure_balance_transaction: null,
    ...over,
  } as Stripe.Payout;
}

/** Stripe as the worker reads it: a payout by id, and the balance transactions listed by payout. */
class FakeStripe {
  readonly payouts = new Map<string, Stripe.Payout>();
  readonly lines = new Map<string, Txn[]>();
  listings = 0;
  readonly client = {
    payouts: { retrieve: async (id: string) => structuredClone(this.payouts.get(id)!) },
    balanceTransactions: {
      list: (params: { payout: string; limit: number }) => {
        this.listings++;
        const lines = this.lines.get(params.payout) ?? [];
        return {
          async *[Symbol.asyncIterator]() {
            yield* lines;
          },
        };
      },
    },
  } as unknown as Stripe;
}

const config = { PAYOUTS_POLL_MS: 60_000, PAYOUTS_LEASE_MS: 60_000, PAYOUTS_RETRY_MS: 10, PAYOUT_LINES_RETENTION_DAYS: 400 } as PaymentsConfig;

describe('Payout reconciliation on PostgreSQL', () => {
  const db = new TestDatabase(engines().databaseUrl);
  const schema = uniqueName('pay_payouts');
  const logger = new JsonLogger(createLogger('payments', 'silent'));
  const outbox = new OutboxService({ service: 'payments' } as MessagingSettings);
  const q = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    db.query<T>(sql.replaceAll('§', `"${schema}"`), params);
  let ds: DataSource;
  let stripe: FakeStripe;
  let service: PayoutsService;

  beforeAll(async () => {
    ds = await paymentsSchema(schema);
  });
  beforeEach(() => {
    stripe = new FakeStripe();
    service = new PayoutsService(new PayoutsRepository(ds), new UnitOfWork(ds, outbox), outbox, logger, stripe.client, config);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db.dropSchema(schema);
    await db.close();
  });

  /** What Stripe's event for the payout says, applied as the Stripe-events consumer does. */
  const observe = (p: Stripe.Payout, at = new Date()) => {
    stripe.payouts.set(p.id, p);
    return ds.transaction((m) => service.record(m, p, at));
  };
  const sent = (payoutId: string) =>
    q<{ type: string; data: Record<string, unknown> }>(
      `SELECT payload::jsonb->>'type' AS type, payload::jsonb->'data' AS data FROM §.outbox
        WHERE topic = 'finance.reconciliation.v1' AND key = $1 ORDER BY created_at`,
      [payoutId],
    );
  /** Runs the worker until nothing is due now (a postponed payout waits ≥ 10 ms). */
  const drain = async () => {
    while (await service.runOnce()) {
      /* next */
    }
  };
  const charge = async (n: string, amount: number, fee: number) => {
    await q(
      `INSERT INTO §.payments (id, order_id, attempt, channel, amount, currency, capture_method, payment_intent_id, charge_id, status)
       VALUES ($1, $2, 1, 'web', $3, 'usd', 'automatic', $4, $5, 'succeeded')`,
      [`pay_${n}`, `ord_${n}`, amount, `pi_${n}`, `ch_${n}`],
    );
    await entry(`txn_ch_${n}`, 'charge', n, `ch_${n}`, amount, fee);
    return txn(`txn_ch_${n}`, 'charge', amount, fee, `ch_${n}`);
  };
  const entry = (id: string, kind: string, n: string, source: string, gross: number, fee: number) =>
    q(
      `INSERT INTO §.reconciliation_entries (entry_id, kind, order_id, payment_id, payment_intent_id, charge_id, source_id,
         balance_transaction_id, channel, store_id, gross, fee, net, currency, occurred_at, available_on)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$1,'web','store_1',$8,$9,$8::bigint - $9::bigint,'usd',to_timestamp(${AT}),to_timestamp(${AT}))`,
      [id, kind, `ord_${n}`, `pay_${n}`, `pi_${n}`, `ch_${n}`, source, gross, fee],
    );

  it("matches a paid payout's charges, refunds and other lines with the entries, and tells finance once that it balances", async () => {
    const a = await charge('a1', 1000, 59);
    const b = await charge('a2', 2500, 103);
    await q(`INSERT INTO §.refunds (refund_id, payment_id, amount, status) VALUES ('re_a1', 'pay_a1', 400, 'succeeded')`);
    await entry('txn_re_a1', 'refund', 'a1', 're_a1', -400, 0);
    const lines = [
      a,
      b,
      txn('txn_re_a1', 'refund', -400, 0, 're_a1'),
      txn('txn_other', 'charge', 9900, 317, 'ch_someone_else'), // another integration on the account
      txn('txn_po_a', 'payout', -12_521, 0, 'po_a'), // the payout's own debit: not a line of it
    ];
    stripe.lines.set('po_a', lines);
    const net = 941 + 2397 - 400 + 9583;

    expect(await observe(payout('po_a', net))).toBe(true);
    await drain();
    const row = await service.get('po_a');
    expect(row).toMatchObject({ recon_state: 'done', outcome: 'balanced' });
    expect(row.result).toMatchObject({
      outcome: 'balanced',
      difference: 0,
      lines: { count: 4, net },
      platform: { count: 3, gross: 3100, fee: 162, net: 2938, byKind: { charge: { count: 2, net: 3338 }, refund: { count: 1, net: -400 } } },
      other: { count: 1, net: 9583, byType: { charge: 1 } },
      problems: { missing_entry: 0, differs: 0 },
    });
    // The same event again, and a later run: nothing more.
    expect(await observe(payout('po_a', net))).toBe(false);
    expect(await service.runOnce()).toBe(false);
    const messages = await sent('po_a');
    expect(messages.map((m) => m.type)).toEqual(['payout.reconciled']);
    expect(messages[0].data).toMatchObject({ payoutId: 'po_a', amount: net, outcome: 'balanced', automatic: true });
    expect(stripe.listings).toBe(1);
    const [lineRows] = await q<{ n: string }>(`SELECT count(*) AS n FROM §.payout_lines WHERE payout_id = 'po_a'`);
    expect(Number(lineRows.n)).toBe(5); // the copy keeps Stripe's whole list; the comparison leaves out the debit
  });

  it('waits until Stripe has attributed the transactions, then reconciles', async () => {
    stripe.lines.set('po_b', [await charge('b1', 700, 50)]);
    await observe(payout('po_b', 650, { reconciliation_status: 'in_progress' }));
    await service.runOnce();
    expect(await service.get('po_b')).toMatchObject({ recon_state: 'due', attempts: 1 });
    expect(stripe.listings).toBe(0);
    // `payout.reconciliation_completed`: due at once.
    expect(await observe(payout('po_b', 650))).toBe(true);
    await drain();
    expect(await service.get('po_b')).toMatchObject({ recon_state: 'done', outcome: 'balanced' });
    expect((await sent('po_b')).map((m) => m.type)).toEqual(['payout.reconciled']);
  });

  it('names lines missing their entry, lines that differ from it, and a payout that does not add up', async () => {
    const ok = await charge('c1', 1000, 59);
    await q(
      `INSERT INTO §.payments (id, order_id, attempt, channel, amount, currency, capture_method, payment_intent_id, charge_id, status)
       VALUES ('pay_c2', 'ord_c2', 1, 'web', 2000, 'usd', 'automatic', 'pi_c2', 'ch_c2', 'succeeded')`,
    );
    await entry('txn_ch_c3', 'charge', 'c3', 'ch_c3', 3000, 120); // Stripe says a fee of 117
    stripe.lines.set('po_c', [
      ok,
      txn('txn_ch_c2', 'charge', 2000, 88, 'ch_c2'), // ours (payments knows the charge), no entry: missing
      txn('txn_ch_c3', 'charge', 3000, 117, 'ch_c3'),
    ]);
    await observe(payout('po_c', 941 + 1912 + 2883 + 5)); // five cents more than its lines
    await drain();
    const row = await service.get('po_c');
    expect(row).toMatchObject({ outcome: 'mismatches' });
    expect(row.result).toMatchObject({ difference: 5, problems: { missing_entry: 1, differs: 1 }, platform: { count: 3 } });
    expect((await sent('po_c'))[0].data).toMatchObject({ outcome: 'mismatches', difference: 5 });
  });

  it('waits for the entries the reconciliation worker still has queued, then reconciles', async () => {
    await q(
      `INSERT INTO §.payments (id, order_id, attempt, channel, amount, currency, capture_method, payment_intent_id, charge_id, status)
       VALUES ('pay_d1', 'ord_d1', 1, 'web', 1000, 'usd', 'automatic', 'pi_d1', 'ch_d1', 'succeeded')`,
    );
    await q(`INSERT INTO §.reconciliation_sources (source_id, kind, payment_id) VALUES ('ch_d1', 'charge', 'pay_d1')`);
    stripe.lines.set('po_d', [txn('txn_ch_d1', 'charge', 1000, 59, 'ch_d1')]);
    await observe(payout('po_d', 941));
    await service.runOnce();
    expect(await service.get('po_d')).toMatchObject({ recon_state: 'due' });
    expect((await service.get('po_d')).last_error).toContain('no entry yet');
    expect(await sent('po_d')).toEqual([]);
    await entry('txn_ch_d1', 'charge', 'd1', 'ch_d1', 1000, 59);
    await q(`UPDATE §.reconciliation_sources SET done_at = now() WHERE source_id = 'ch_d1'`);
    await new Promise((r) => setTimeout(r, 30));
    await drain();
    expect(await service.get('po_d')).toMatchObject({ recon_state: 'done', outcome: 'balanced' });
  });

  it('tells finance once when a reconciled payout fails afterwards, and a late paid event does not undo it', async () => {
    stripe.lines.set('po_e', [await charge('e1', 1000, 59)]);
    await observe(payout('po_e', 941));
    await drain();
    const failed = payout('po_e', 941, { status: 'failed', failure_code: 'account_closed', failure_message: 'The bank account has been closed', failure_balance_transaction: 'txn_pofail_e' });
    await observe(failed);
    await observe(failed); // Stripe's second delivery
    await observe(payout('po_e', 941)); // a late `payout.paid`
    expect(await service.get('po_e')).toMatchObject({ status: 'failed', outcome: 'balanced', failure_code: 'account_closed' });
    const messages = await sent('po_e');
    expect(messages.map((m) => m.type)).toEqual(['payout.reconciled', 'payout.failed']);
    expect(messages[1].data).toMatchObject({ failureCode: 'account_closed', wasReconciled: true, failureBalanceTransactionId: 'txn_pofail_e' });
  });

  it('does not reconcile a payout that failed before its turn, and finds the failure itself when the event is lost', async () => {
    stripe.lines.set('po_f', [await charge('f1', 1000, 59)]);
    await observe(payout('po_f', 941));
    // Stripe fails it; its event never arrives: the worker's own read finds it.
    stripe.payouts.set('po_f', payout('po_f', 941, { status: 'failed', failure_code: 'no_account' }));
    await drain();
    expect(await service.get('po_f')).toMatchObject({ status: 'failed', recon_state: 'done', outcome: 'failed' });
    expect(stripe.listings).toBe(0);
    expect((await sent('po_f')).map((m) => [m.type, m.data.wasReconciled])).toEqual([['payout.failed', false]]);
  });

  it('reports a manual payout as not attributable without listing anything', async () => {
    await observe(payout('po_g', 5000, { automatic: false, reconciliation_status: 'not_applicable' }));
    await drain();
    expect(await service.get('po_g')).toMatchObject({ outcome: 'not_attributable' });
    expect(stripe.listings).toBe(0);
    expect((await sent('po_g'))[0].data).toMatchObject({ outcome: 'not_attributable', difference: 5000 });
  });

  it("stops waiting for entries after as many runs and reports the platform's lines still without one as missing", async () => {
    await q(
      `INSERT INTO §.payments (id, order_id, attempt, channel, amount, currency, capture_method, payment_intent_id, charge_id, status)
       VALUES ('pay_i1', 'ord_i1', 1, 'web', 1000, 'usd', 'automatic', 'pi_i1', 'ch_i1', 'succeeded')`,
    );
    await q(`INSERT INTO §.reconciliation_sources (source_id, kind, payment_id) VALUES ('ch_i1', 'charge', 'pay_i1')`);
    stripe.lines.set('po_i', [txn('txn_ch_i1', 'charge', 1000, 59, 'ch_i1')]);
    await observe(payout('po_i', 941, { reconciliation_status: 'in_progress' }));
    // Many runs spent waiting for Stripe's attribution do not count against the wait for entries.
    await q(`UPDATE §.payouts SET attempts = 40, next_attempt_at = now() WHERE id = 'po_i'`);
    await observe(payout('po_i', 941));
    await service.runOnce();
    expect(await service.get('po_i')).toMatchObject({ recon_state: 'due', last_error: expect.stringContaining('no entry yet') });
    await q(`UPDATE §.payouts SET pending_runs = 10, next_attempt_at = now() WHERE id = 'po_i'`);
    await drain();
    const row = await service.get('po_i');
    expect(row).toMatchObject({ recon_state: 'done', outcome: 'mismatches' });
    expect(row.result).toMatchObject({ problems: { missing_entry: 1, differs: 0 }, pending: 0, difference: 0 });
  });

  it("counts a partial capture's reversal as the platform's, not as a line missing its entry", async () => {
    const captured = await charge('j1', 5000, 150); // authorised 5000, captured 3000: Stripe gives 2000 back
    stripe.lines.set('po_j', [captured, txn('txn_pcr_j1', 'partial_capture_reversal', -2000, 0, 'ch_j1')]);
    await observe(payout('po_j', 2850));
    await drain();
    expect((await service.get('po_j')).result).toMatchObject({
      outcome: 'balanced',
      platform: { count: 2, net: 2850, byKind: { charge: { count: 1 }, partial_capture_reversal: { count: 1, net: -2000 } } },
      problems: { missing_entry: 0 },
    });
  });

  it('does not push back a payout that Stripe attributed while a run was waiting for it', async () => {
    stripe.lines.set('po_k', [await charge('k1', 800, 53)]);
    await observe(payout('po_k', 747, { reconciliation_status: 'in_progress' }));
    const repo = new PayoutsRepository(ds);
    const claimed = (await repo.claim(60_000))!;
    expect(claimed.id).toBe('po_k');
    await observe(payout('po_k', 747)); // `payout.reconciliation_completed` arrives while the run reads Stripe
    await repo.postpone('po_k', claimed.runId, 3_600_000, 'not attributed yet', 'attribution'); // what the run saw
    await drain();
    expect(await service.get('po_k')).toMatchObject({ recon_state: 'done', outcome: 'balanced' });
  });

  it('lets a run whose lease ran out write nothing once another run took the payout over', async () => {
    stripe.lines.set('po_l', [await charge('l1', 900, 56)]);
    await observe(payout('po_l', 844));
    const repo = new PayoutsRepository(ds);
    const stale = (await repo.claim(1))!;
    await new Promise((r) => setTimeout(r, 20));
    await drain(); // takes it over and reconciles it
    const result = (await service.get('po_l')).result!;
    const late = await ds.transaction((m) => repo.finish(m, 'po_l', stale.runId, { ...result, outcome: 'mismatches' }));
    expect(late).toBe(false);
    expect(await service.get('po_l')).toMatchObject({ outcome: 'balanced' });
    expect((await sent('po_l')).map((m) => m.type)).toEqual(['payout.reconciled']);
  });

  it('takes two first observations of a new payout one after the other through the state machine', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `po_m${i}`);
    await Promise.all(
      ids.flatMap((id) => [
        observe(payout(id, 100, { status: 'failed', failure_code: 'no_account' })),
        observe(payout(id, 100)), // a late `payout.paid` racing the failure
      ]),
    );
    for (const id of ids) {
      expect(await service.get(id)).toMatchObject({ status: 'failed', recon_state: 'done' });
      expect((await sent(id)).map((m) => m.type)).toEqual(['payout.failed']);
    }
  });

  it('copies a payout of thousands of lines in batches and counts every one', async () => {
    const lines = Array.from({ length: 2_345 }, (_, i) => txn(`txn_h_${String(i).padStart(5, '0')}`, 'charge', 100, 3, `ch_h_${i}`));
    stripe.lines.set('po_h', [...lines, txn('txn_po_h', 'payout', -2_345 * 97, 0, 'po_h')]);
    await observe(payout('po_h', 2_345 * 97));
    await drain();
    expect((await service.get('po_h')).result).toMatchObject({
      outcome: 'balanced',
      lines: { count: 2_345, net: 2_345 * 97 },
      other: { count: 2_345, byType: { charge: 2_345 } },
    });
    const repo = new PayoutsRepository(ds);
    const first = await repo.lines('po_h', 3);
    expect(first.map((l) => l.txn_id)).toEqual(['txn_h_00000', 'txn_h_00001', 'txn_h_00002']);
    expect((await repo.lines('po_h', 1_000, 'txn_h_02000')).length).toBe(344);
  });

  it('deletes the lines of payouts reconciled longer ago than they are kept, one payout at a time, keeps the payout and its result, and says so', async () => {
    stripe.lines.set('po_old', [await charge('o1', 800, 53)]);
    stripe.lines.set('po_new', [await charge('o2', 900, 56)]);
    expect(await observe(payout('po_old', 747))).toBe(true);
    expect(await observe(payout('po_new', 844))).toBe(true);
    await drain();
    // Not yet attributed by Stripe: not reconciled, so nothing of it may go however old it is.
    expect(await observe(payout('po_wait', 650, { reconciliation_status: 'in_progress' }))).toBe(true);
    await q(`INSERT INTO §.payout_lines (payout_id, txn_id, type, amount, fee, net, currency, created)
             VALUES ('po_wait', 'txn_early', 'charge', 700, 50, 650, 'usd', now() - interval '2 years')`);
    await q(`UPDATE §.payouts SET reconciled_at = now() - interval '401 days' WHERE id = 'po_old'`);
    await q(`UPDATE §.payouts SET recorded_at = now() - interval '2 years', updated_at = now() - interval '2 years' WHERE id = 'po_wait'`);
    const lines = async () =>
      (await q<{ payout_id: string }>(`SELECT payout_id FROM §.payout_lines WHERE payout_id IN ('po_old','po_new','po_wait') ORDER BY 1`)).map(
        (r) => r.payout_id,
      );
    expect(await lines()).toEqual(['po_new', 'po_old', 'po_wait']);

    expect(await service.pruneLinesOnce()).toBe(true);
    expect(await service.pruneLinesOnce()).toBe(false);
    expect(await lines()).toEqual(['po_new', 'po_wait']);
    expect(await service.get('po_old')).toMatchObject({ recon_state: 'done', outcome: 'balanced', result: expect.objectContaining({ difference: 0 }) });

    const controller = new PayoutsController(service, new PayoutsRepository(ds));
    const gone = await controller.lines('po_old', {}).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(ApiError);
    expect([(gone as ApiError).getStatus(), (gone as ApiError).code]).toEqual([410, 'payout_lines_expired']);
    expect((await controller.lines('po_new', {})).data).toHaveLength(1);
    // 0 keeps them for ever.
    await q(`UPDATE §.payouts SET reconciled_at = now() - interval '9 years' WHERE id = 'po_new'`);
    const keepAll = new PayoutsService(new PayoutsRepository(ds), new UnitOfWork(ds, outbox), outbox, logger, stripe.client, { ...config, PAYOUT_LINES_RETENTION_DAYS: 0 });
    expect(await keepAll.pruneLinesOnce()).toBe(false);
    expect(await lines()).toEqual(['po_new', 'po_wait']);
  });
});
