import { JsonLogger, createLogger, metricsRegistry } from '@omnipay/observability';
import type Stripe from 'stripe';
import type { PaymentsConfig } from '../config';
import type { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';

type Calls = Record<string, unknown[][]>;

function fakeRepo(opts: { claim?: { day: string; runId: string; attempts: number }; renew?: boolean } = {}) {
  const calls: Calls = {};
  const record =
    (name: string, answer?: unknown) =>
    async (...args: unknown[]) => {
      (calls[name] ??= []).push(args);
      return answer;
    };
  const repo = {
    schedule: record('schedule'),
    requeuePending: record('requeuePending'),
    release: record('release'),
    claim: record('claim', opts.claim),
    dropStaleCopies: record('dropStaleCopies'),
    stage: record('stage'),
    renew: record('renew', opts.renew ?? true),
    compare: record('compare', {
      outcome: 'clean',
      problems: { missing: 0, pending: 0, unexpected: 0, differs: 0, order_paid_twice: 0 },
      currencies: [],
      otherStripeTransactions: {},
      details: [],
      ordersPaidTwice: [],
    }),
    finish: record('finish', true),
    fail: record('fail'),
  };
  return { repo: repo as unknown as AuditRepository, calls };
}

function stripeListing(txns: Partial<Stripe.BalanceTransaction>[] | Error): Stripe {
  return {
    balanceTransactions: {
      list: () => ({
        async *[Symbol.asyncIterator]() {
          if (txns instanceof Error) throw txns;
          yield* txns;
        },
      }),
    },
  } as unknown as Stripe;
}

const config = (over: Partial<PaymentsConfig> = {}) =>
  ({
    RECONCILIATION_AUDIT_DAILY: true,
    RECONCILIATION_AUDIT_AFTER_MINUTES: 60,
    RECONCILIATION_AUDIT_POLL_MS: 60_000,
    RECONCILIATION_AUDIT_LEASE_MS: 300_000,
    ...over,
  }) as PaymentsConfig;

const logger = () => new JsonLogger(createLogger('payments', 'silent'));

describe('AuditService', () => {
  it("asks for yesterday's audit only once RECONCILIATION_AUDIT_AFTER_MINUTES have passed since UTC midnight", async () => {
    const early = fakeRepo();
    await new AuditService(early.repo, logger(), stripeListing([]), config()).runOnce(new Date('2026-12-03T00:59:00Z'));
    expect(early.calls.schedule).toBeUndefined();

    const late = fakeRepo();
    await new AuditService(late.repo, logger(), stripeListing([]), config()).runOnce(new Date('2026-12-03T01:00:00Z'));
    expect(late.calls.schedule).toEqual([['2026-12-02', new Date('2026-12-03T01:00:00Z')]]);
    expect(late.calls.requeuePending).toEqual([[7]]);

    const newYear = fakeRepo();
    await new AuditService(newYear.repo, logger(), stripeListing([]), config({ RECONCILIATION_AUDIT_AFTER_MINUTES: 0 })).runOnce(
      new Date('2027-01-01T00:00:00Z'),
    );
    expect(newYear.calls.schedule).toEqual([['2026-12-31', new Date('2027-01-01T00:00:00Z')]]);

    const off = fakeRepo();
    await new AuditService(off.repo, logger(), stripeListing([]), config({ RECONCILIATION_AUDIT_DAILY: false })).runOnce(
      new Date('2026-12-03T12:00:00Z'),
    );
    expect(off.calls.schedule).toBeUndefined();
    expect(off.calls.requeuePending).toBeUndefined();
    expect(off.calls.claim).toHaveLength(1); // an audit asked for through the API still runs
  });

  it("copies the day's list from Stripe with each source's PaymentIntent and status, and writes the comparison onto its own claim", async () => {
    const { repo, calls } = fakeRepo({ claim: { day: '2026-12-02', runId: 'run-1', attempts: 1 } });
    const txns = [
      { id: 'txn_1', source: 'ch_1', type: 'charge', amount: 1000, fee: 59, net: 941, currency: 'usd', created: 1_796_256_000 },
      { id: 'txn_2', source: { id: 're_1', object: 'refund', payment_intent: 'pi_1', status: 'pending' }, type: 'refund', amount: -500, fee: 0, net: -500, currency: 'usd', created: 1_796_256_100 },
    ] as unknown as Partial<Stripe.BalanceTransaction>[];
    expect(await new AuditService(repo, logger(), stripeListing(txns), config()).runOnce(new Date('2026-12-03T02:00:00Z'))).toBe(
      true,
    );
    expect(calls.stage[0]).toEqual([
      'run-1',
      [
        expect.objectContaining({ id: 'txn_1', sourceId: 'ch_1', paymentIntentId: null, amount: 1000, fee: 59, net: 941 }),
        expect.objectContaining({ id: 'txn_2', sourceId: 're_1', paymentIntentId: 'pi_1', sourceStatus: 'pending', type: 'refund', amount: -500 }),
      ],
    ]);
    expect(calls.compare).toEqual([['run-1', '2026-12-02', new Date('2026-12-03T00:00:00Z')]]);
    expect(calls.finish[0]).toEqual([
      '2026-12-02',
      'run-1',
      expect.objectContaining({ outcome: 'clean', dayComplete: true, stripeTransactions: 2 }),
    ]);
    expect(calls.fail).toBeUndefined();
  });

  it('puts a run Stripe failed back with a backoff, and stops a run that lost its claim without marking anything', async () => {
    const failing = fakeRepo({ claim: { day: '2026-12-02', runId: 'run-1', attempts: 3 } });
    await new AuditService(failing.repo, logger(), stripeListing(new Error('Stripe is down')), config()).runOnce();
    expect(failing.calls.fail).toEqual([['2026-12-02', 'run-1', 'Stripe is down', 120_000]]);
    expect(failing.calls.finish).toBeUndefined();

    const overtaken = fakeRepo({ claim: { day: '2026-12-02', runId: 'run-1', attempts: 1 }, renew: false });
    await new AuditService(overtaken.repo, logger(), stripeListing([]), config()).runOnce();
    expect(overtaken.calls.compare).toBeUndefined();
    expect(overtaken.calls.finish).toBeUndefined();
    expect(overtaken.calls.fail).toBeUndefined();
  });

  it('gives the day back when the service shuts down during a run, so another replica runs it at once', async () => {
    const { repo, calls } = fakeRepo({ claim: { day: '2026-12-02', runId: 'run-1', attempts: 1 } });
    const service = new AuditService(repo, logger(), stripeListing([]), config());
    await service.onApplicationShutdown();
    await service.runOnce();
    expect(calls.release).toEqual([['2026-12-02', 'run-1']]);
    expect(calls.finish).toBeUndefined();
    expect(calls.fail).toBeUndefined();
  });
});

describe('payments_reconciliation_audit_problems', () => {
  const samples = async () =>
    (await metricsRegistry.getSingleMetricAsString('payments_reconciliation_audit_problems'))
      .split('\n')
      .filter((l) => l.startsWith('payments_reconciliation_audit_problems'));
  const problems = { missing: 2, pending: 0, unexpected: 0, differs: 1, order_paid_twice: 0 };

  it('exports the latest whole-day audit, and nothing (not the last numbers) when the reading fails', async () => {
    const { repo } = fakeRepo();
    let reading: () => Promise<unknown> = async () => problems;
    (repo as unknown as { latestCompleteProblems: () => Promise<unknown> }).latestCompleteProblems = () => reading();
    new AuditService(repo, logger(), stripeListing([]), config());
    expect(await samples()).toContain('payments_reconciliation_audit_problems{problem="missing"} 2');
    reading = () => Promise.reject(new Error('database away'));
    expect(await samples()).toEqual([]);
    reading = async () => undefined; // no whole day audited yet
    expect(await samples()).toEqual([]);
  });
});
