import { Inject, Injectable } from '@nestjs/common';
import { JsonLogger, metricsRegistry, readForScrape } from '@omnipay/observability';
import { APP_CONFIG, PolledWorker } from '@omnipay/platform';
import { STRIPE, idOf } from '@omnipay/stripe';
import { Counter, Gauge } from 'prom-client';
import type Stripe from 'stripe';
import { notFound, unprocessable } from '../common/http-errors';
import type { PaymentsConfig } from '../config';
import { AUDIT_PROBLEMS, auditView, type StripeTxn } from './audit.model';
import { AuditRepository } from './audit.repository';
import { dayBounds, dayOf } from './utc-day';

/** Stripe's list is copied to PostgreSQL in statements of this many rows; the lease is renewed after each. */
const COPY_BATCH = 1000;

const audits = new Counter({
  name: 'payments_reconciliation_audits_total',
  help: "Audits of a day's reconciliation entries against Stripe, by outcome (clean, pending, mismatches, failed)",
  labelNames: ['outcome'],
  registers: [metricsRegistry],
});

let latestProblems: (() => Promise<Record<string, number> | undefined>) | undefined;

// Read from the database at each scrape, so every replica exports the same numbers whichever ran the audit.
new Gauge({
  name: 'payments_reconciliation_audit_problems',
  help: 'Problems found by the latest audit of a whole day, by kind (decision 0016)',
  labelNames: ['problem'],
  registers: [metricsRegistry],
  async collect() {
    // No audit yet, or no reading (the database away or slow): no series, not the last scrape's numbers.
    this.reset();
    const problems = latestProblems && (await readForScrape('payments_reconciliation_audit_problems', latestProblems));
    if (problems) for (const p of AUDIT_PROBLEMS) this.set({ problem: p }, problems[p] ?? 0);
  },
});

/** The run lost its claim (another replica took the day over): it stops without writing anything. */
class LostClaim extends Error {}
/** The service is shutting down: the run gives its day back. */
class Stopping extends Error {}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** A balance transaction listed with its source expanded (a charge, refund or dispute names its PaymentIntent). */
function copied(t: Stripe.BalanceTransaction): StripeTxn {
  const source = typeof t.source === 'object' && t.source !== null ? (t.source as { id: string; payment_intent?: string | { id: string } | null; status?: unknown }) : null;
  return {
    id: t.id,
    sourceId: idOf(t.source),
    paymentIntentId: idOf(source?.payment_intent),
    sourceStatus: typeof source?.status === 'string' ? source.status : null,
    type: t.type,
    amount: t.amount,
    fee: t.fee,
    net: t.net,
    currency: t.currency,
    created: new Date(t.created * 1000),
  };
}

/**
 * Audits a UTC day's reconciliation entries against the balance transactions Stripe lists for it (decision 0016):
 * the day before is asked for every day after RECONCILIATION_AUDIT_AFTER_MINUTES, any day can be asked for through
 * the API. One replica runs a given audit (a claim with a lease); its findings are stored, logged and counted.
 */
@Injectable()
export class AuditService extends PolledWorker {
  constructor(
    private readonly repo: AuditRepository,
    private readonly logger: JsonLogger,
    @Inject(STRIPE) private readonly stripe: Stripe,
    @Inject(APP_CONFIG) private readonly config: PaymentsConfig,
  ) {
    super({ name: 'reconciliation audit', intervalMs: config.RECONCILIATION_AUDIT_POLL_MS, logger, firstDelayMs: 1000 });
    latestProblems = () => repo.latestCompleteProblems();
  }

  protected pass(): Promise<boolean> {
    return this.runOnce();
  }

  /** Asks for a day's audit (or another run of a finished one); the worker starts it at once. */
  async request(day: string, requestedBy: string) {
    if (dayBounds(day).start.getTime() > Date.now())
      throw unprocessable('day_not_started', `${day} has not started yet (UTC)`);
    const row = await this.repo.request(day, requestedBy);
    this.loop.soon();
    return auditView(row);
  }

  async get(day: string) {
    const row = await this.repo.get(day);
    if (!row) throw notFound(`audit of ${day}`);
    return auditView(row);
  }

  /** One pass: ask for yesterday's audit when it is due, then run one due audit; true if one ran. */
  async runOnce(now = new Date()): Promise<boolean> {
    if (this.config.RECONCILIATION_AUDIT_DAILY) {
      const dueAt = new Date(dayBounds(dayOf(now)).start.getTime() + this.config.RECONCILIATION_AUDIT_AFTER_MINUTES * 60_000);
      if (now >= dueAt) await this.repo.schedule(dayOf(now, -1), dueAt);
      await this.repo.requeuePending(7);
    }
    const claimed = await this.repo.claim(this.config.RECONCILIATION_AUDIT_LEASE_MS);
    if (!claimed) return false;
    await this.run(claimed.day, claimed.runId, claimed.attempts);
    return true;
  }

  private async run(day: string, runId: string, attempts: number): Promise<void> {
    const { start, end } = dayBounds(day);
    const started = Date.now();
    // A day still going is compared up to this moment on both sides: Stripe lists newest first, so what it creates
    // while the list is read is not in it, and an entry written meanwhile must not count as unexpected.
    const until = new Date(Math.min(end.getTime(), Math.floor(started / 1000) * 1000));
    try {
      await this.repo.dropStaleCopies();
      let listed = 0;
      let batch: StripeTxn[] = [];
      const flush = async () => {
        await this.repo.stage(runId, batch);
        batch = [];
        if (this.loop.isStopped) throw new Stopping();
        if (!(await this.repo.renew(day, runId, this.config.RECONCILIATION_AUDIT_LEASE_MS))) throw new LostClaim();
      };
      const list = this.stripe.balanceTransactions.list({
        created: { gte: start.getTime() / 1000, lt: until.getTime() / 1000 },
        limit: 100,
        expand: ['data.source'],
      });
      for await (const txn of list) {
        batch.push(copied(txn));
        listed++;
        if (batch.length >= COPY_BATCH) await flush();
      }
      await flush();
      const compared = await this.repo.compare(runId, day, until);
      const result = { ...compared, dayComplete: until.getTime() >= end.getTime(), stripeTransactions: listed };
      if (!(await this.repo.finish(day, runId, result))) throw new LostClaim();
      audits.inc({ outcome: result.outcome });
      const log = { day, outcome: result.outcome, problems: result.problems, stripeTransactions: listed, ms: Date.now() - started };
      if (result.outcome === 'mismatches')
        this.logger.pino.warn(
          { ...log, first: result.details.slice(0, 10).map((d) => `${d.problem}:${d.balanceTransactionId}`) },
          'reconciliation audit found mismatches with Stripe',
        );
      else this.logger.pino.info(log, 'reconciliation audit finished');
    } catch (error) {
      await this.stopped(day, runId, attempts, error).catch((e: unknown) =>
        this.logger.pino.warn({ err: e, day }, 'could not record how the reconciliation audit ended; its lease runs out'),
      );
    } finally {
      await this.repo.dropStaleCopies().catch(() => undefined);
    }
  }

  /** A run that did not finish: taken over, stopped by the shutdown, or failed (tried again with backoff). */
  private async stopped(day: string, runId: string, attempts: number, error: unknown): Promise<void> {
    if (error instanceof LostClaim) {
      this.logger.pino.info({ day }, 'reconciliation audit taken over by another run; this one stops');
      return;
    }
    if (error instanceof Stopping) {
      this.logger.pino.info({ day }, 'reconciliation audit interrupted by shutdown; asked for again');
      await this.repo.release(day, runId);
      return;
    }
    audits.inc({ outcome: 'failed' });
    // 30 s doubling to an hour: Stripe or PostgreSQL is away for a while.
    const delayMs = Math.min(3_600_000, 30_000 * 2 ** Math.min(attempts - 1, 7));
    this.logger.pino.warn({ err: error, day, attempts, retryInMs: delayMs }, 'reconciliation audit failed; will retry');
    await this.repo.fail(day, runId, message(error), delayMs);
  }
}
