import { Inject, Injectable } from '@nestjs/common';
import { PayoutFailed, PayoutReconciled } from '@omnipay/contracts';
import { OutboxService, UnitOfWork } from '@omnipay/messaging';
import { JsonLogger, metricsRegistry, readForScrape } from '@omnipay/observability';
import { APP_CONFIG, PolledWorker } from '@omnipay/platform';
import { STRIPE, idOf, isRetryableStripeError } from '@omnipay/stripe';
import { Counter, Gauge } from 'prom-client';
import type Stripe from 'stripe';
import type { EntityManager } from 'typeorm';
import { notFound } from '../common/http-errors';
import { deterministicUuid } from '../common/ids';
import type { PaymentsConfig } from '../config';
import { zeroTotals, type PayoutResult } from './payout.model';
import { decidePayout, observePayout } from './payout-state';
import { PayoutsRepository, type PayoutLine } from './payouts.repository';

/** Stripe's list is copied to PostgreSQL in statements of this many rows; the lease is renewed after each. */
const COPY_BATCH = 1000;
/** The platform's lines whose entries are still being written are waited for this many runs, then reported missing. */
const MAX_PENDING_RUNS = 10;

const reconciled = new Counter({
  name: 'payments_payouts_reconciled_total',
  help: 'Payouts matched with their balance transactions, by outcome (balanced, mismatches, not_attributable)',
  labelNames: ['outcome'],
  registers: [metricsRegistry],
});

let overdue: (() => Promise<number>) | undefined;

// Read from the database at each scrape, so every replica exports the same number: the alert for a payout that
// Stripe never attributes, or that the worker cannot read (a restricted key without Payouts and Balance read).
new Gauge({
  name: 'payments_payouts_overdue',
  help: 'Paid payouts still not reconciled a day after they were recorded (decision 0019)',
  registers: [metricsRegistry],
  async collect() {
    // No reading (the database away or slow): NaN, Prometheus's "unknown", not the last scrape's count (a gauge
    // without labels cannot be left out).
    const n = overdue && (await readForScrape('payments_payouts_overdue', overdue));
    this.set(n ?? NaN);
  },
});

class LostClaim extends Error {}
class Stopping extends Error {}

function line(t: Stripe.BalanceTransaction): PayoutLine {
  return {
    id: t.id,
    type: t.type,
    reportingCategory: t.reporting_category ?? null,
    sourceId: idOf(t.source),
    amount: t.amount,
    fee: t.fee,
    net: t.net,
    currency: t.currency,
    created: new Date(t.created * 1000),
  };
}

/**
 * Payouts (decision 0019): Stripe's payout events are recorded in the Stripe-events consumer's transaction; once a
 * payout is paid and Stripe has attributed its balance transactions, a worker lists them, compares them with the
 * reconciliation entries and sends finance `payout.reconciled`; a payout that fails (even after `paid`) sends
 * `payout.failed`.
 */
@Injectable()
export class PayoutsService extends PolledWorker {
  constructor(
    private readonly repo: PayoutsRepository,
    private readonly uow: UnitOfWork,
    private readonly outbox: OutboxService,
    private readonly logger: JsonLogger,
    @Inject(STRIPE) private readonly stripe: Stripe,
    @Inject(APP_CONFIG) private readonly config: PaymentsConfig,
  ) {
    super({ name: 'payout reconciliation', intervalMs: config.PAYOUTS_POLL_MS, logger, firstDelayMs: 1000 });
    overdue = () => repo.overdue();
  }

  /** A payout due for reconciliation first; when none is, the lines of one payout past their retention. */
  protected async pass(): Promise<boolean> {
    return (await this.runOnce()) || (await this.pruneLinesOnce());
  }

  /** Deletes the copied lines of one payout reconciled longer ago than they are kept; true if one was due. */
  async pruneLinesOnce(): Promise<boolean> {
    const keepDays = this.config.PAYOUT_LINES_RETENTION_DAYS;
    if (keepDays === 0) return false;
    const pruned = await this.repo.pruneLines(keepDays * 86_400_000);
    if (pruned) this.logger.pino.info(pruned, 'deleted the lines of a payout past their retention');
    return pruned !== undefined;
  }

  /**
   * Applies one observation of a payout (an event's snapshot, or the worker's re-read) in the caller's transaction;
   * true when its reconciliation may now be due.
   */
  async record(m: EntityManager, payout: Stripe.Payout, observedAt: Date): Promise<boolean> {
    const observed = observePayout(payout);
    const current = await this.repo.lock(m, observed.id);
    const change = decidePayout(
      current && { status: current.status, reconciliationStatus: current.stripe_reconciliation_status },
      observed,
    );
    if (!change) return false;
    const announceFailure = change.becameFailed && !current?.failure_announced;
    await this.repo.write(m, observed, change, observedAt, announceFailure);
    if (announceFailure) {
      await this.outbox.add(
        m,
        PayoutFailed,
        {
          payoutId: observed.id,
          amount: observed.amount,
          currency: observed.currency,
          arrivalDate: observed.arrivalDate.toISOString(),
          failureCode: observed.failureCode,
          failureMessage: observed.failureMessage,
          failureBalanceTransactionId: observed.failureBalanceTransactionId,
          wasReconciled: current?.recon_state === 'done',
          failedAt: observedAt.toISOString(),
        },
        { id: deterministicUuid(`payout-failed:${observed.id}`) },
      );
      this.logger.pino.warn({ payoutId: observed.id, failureCode: observed.failureCode }, 'Stripe payout failed');
    }
    return change.becamePaid || change.reconciliationStatus === 'completed';
  }

  async get(id: string) {
    const row = await this.repo.get(id);
    if (!row) throw notFound(`payout ${id}`);
    return row;
  }

  get linesKeptDays(): number {
    return this.config.PAYOUT_LINES_RETENTION_DAYS;
  }

  /** One pass: reconciles one due payout; true if one was claimed (the next pass follows at once). */
  async runOnce(): Promise<boolean> {
    const claimed = await this.repo.claim(this.config.PAYOUTS_LEASE_MS);
    if (!claimed) return false;
    await this.run(claimed.id, claimed.runId, claimed.attempts, claimed.pendingRuns);
    return true;
  }

  private async run(id: string, runId: string, attempts: number, pendingRuns: number): Promise<void> {
    const started = Date.now();
    try {
      // Stripe's own word first: the payout may have failed meanwhile, or still be waiting for attribution.
      const payout = await this.stripe.payouts.retrieve(id);
      await this.uow.run((m) => this.record(m, payout, new Date()));
      if (payout.status === 'failed' || payout.status === 'canceled') return; // recorded: no deposit to match
      if (payout.status !== 'paid') {
        // A read older than the event that made it paid (Stripe's replicas): look again later.
        await this.repo.postpone(id, runId, this.backoff(attempts), `Stripe still says ${payout.status}`, 'error');
        return;
      }
      if (payout.automatic && payout.reconciliation_status !== 'completed') {
        await this.repo.postpone(id, runId, this.backoff(attempts), `Stripe has not attributed the payout's transactions yet (${payout.reconciliation_status})`, 'attribution');
        return;
      }
      const stopWaiting = pendingRuns >= MAX_PENDING_RUNS;
      const result: PayoutResult = payout.automatic ? await this.compare(id, runId, payout.amount, stopWaiting) : notAttributable(payout.amount);
      if (result.pending > 0) {
        await this.repo.postpone(id, runId, this.backoff(pendingRuns + 1), `${result.pending} of the platform's lines have no entry yet`, 'pending');
        return;
      }
      const sent = await this.uow.run(async (m) => {
        if (!(await this.repo.finish(m, id, runId, result))) return false;
        await this.outbox.add(
          m,
          PayoutReconciled,
          {
            payoutId: id,
            amount: payout.amount,
            currency: payout.currency,
            arrivalDate: new Date(payout.arrival_date * 1000).toISOString(),
            automatic: payout.automatic,
            outcome: result.outcome,
            lines: result.lines,
            platform: result.platform,
            other: result.other,
            difference: result.difference,
            problems: result.problems,
            reconciledAt: new Date().toISOString(),
          },
          { id: deterministicUuid(`payout-reconciled:${id}`) },
        );
        return true;
      });
      if (!sent) throw new LostClaim();
      reconciled.inc({ outcome: result.outcome });
      const log = { payoutId: id, outcome: result.outcome, lines: result.lines.count, difference: result.difference, problems: result.problems, ms: Date.now() - started };
      if (result.outcome === 'mismatches') this.logger.pino.warn(log, 'payout does not match its balance transactions or entries');
      else this.logger.pino.info(log, 'payout reconciled');
    } catch (error) {
      if (error instanceof LostClaim) {
        this.logger.pino.info({ payoutId: id }, 'payout reconciliation taken over or closed meanwhile; this run stops');
        return;
      }
      const stopping = error instanceof Stopping;
      const delayMs = stopping ? 0 : this.backoff(attempts);
      if (!stopping)
        this.logger.pino.warn(
          { err: error, payoutId: id, attempts, retryInMs: delayMs, retryable: isRetryableStripeError(error) },
          'payout reconciliation failed; will retry',
        );
      await this.repo
        .postpone(id, runId, delayMs, stopping ? null : error instanceof Error ? error.message : String(error), 'error')
        .catch((e: unknown) => this.logger.pino.warn({ err: e, payoutId: id }, 'could not give the payout back; its lease runs out'));
    }
  }

  private async compare(id: string, runId: string, amount: number, stopWaiting: boolean): Promise<PayoutResult> {
    let batch: PayoutLine[] = [];
    const flush = async () => {
      await this.repo.stage(id, batch);
      batch = [];
      if (this.loop.isStopped) throw new Stopping();
      if (!(await this.repo.renew(id, runId, this.config.PAYOUTS_LEASE_MS))) throw new LostClaim();
    };
    for await (const txn of this.stripe.balanceTransactions.list({ payout: id, limit: 100 })) {
      batch.push(line(txn));
      if (batch.length >= COPY_BATCH) await flush();
    }
    await flush();
    return this.repo.compare(id, amount, stopWaiting);
  }

  /** 5 s doubling to an hour: Stripe attributing a payout takes minutes to hours. */
  private backoff(attempts: number): number {
    return Math.min(3_600_000, this.config.PAYOUTS_RETRY_MS * 2 ** Math.min(Math.max(attempts - 1, 0), 10));
  }
}

/** A manual payout: Stripe does not say which transactions it paid out, so there is nothing to match. */
function notAttributable(amount: number): PayoutResult {
  return {
    outcome: 'not_attributable',
    lines: zeroTotals(),
    platform: { ...zeroTotals(), byKind: {} },
    other: { ...zeroTotals(), byType: {} },
    difference: amount,
    problems: { missing_entry: 0, differs: 0 },
    pending: 0,
  };
}
