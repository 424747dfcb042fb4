import { Inject, Injectable } from '@nestjs/common';
import { JsonLogger, metricsRegistry } from '@omnipay/observability';
import { afterCommit } from '@omnipay/persistence';
import { APP_CONFIG, PolledWorker } from '@omnipay/platform';
import { Counter } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import type { PaymentsConfig } from '../config';
import { PaymentsRepository } from '../payments/payments.repository';
import { PaymentsService } from '../payments/payments.service';
import {
  NO_INTENT_YET,
  afterFailedRead,
  afterRefresh,
  afterRefusal,
  backoffMs,
  beforeStripe,
  stripeReason,
  type SettledStep,
} from './cancellation-steps';
import { recordCancelledOrders, requestForRaces, type CancelledOrder } from './cancellation-requests';

interface Claimed {
  payment_id: string;
  order_id: string;
  order_reason: string | null;
  attempts: number;
  refusals: number;
}

/**
 * Requests claimed per pass, cancelled side by side (Stripe allows 25 requests/s in test mode, 100 live). The
 * lease outlasts a Stripe call with all its retries (STRIPE_TIMEOUT_MS × (STRIPE_MAX_NETWORK_RETRIES + 1)).
 */
const BATCH = 10;

/** How far back each pass looks for a payment created in a race with its order's cancellation (milliseconds apart). */
const RACE_WINDOW_MS = 10 * 60_000;

const cancellations = new Counter({
  name: 'payments_order_cancellations_total',
  help: 'PaymentIntents of cancelled orders, by how the cancellation ended (retry = will be tried again)',
  labelNames: ['outcome'],
  registers: [metricsRegistry],
});

/**
 * A cancelled order must not stay payable: while its PaymentIntent is open, a customer holding the client secret
 * can still pay it (hours after the stock was released). The consumer records a request per open payment of the
 * order in its own transaction; this worker cancels them at Stripe outside it (a Stripe call must not hold the
 * inbox transaction open, and a Stripe outage must not dead-letter the event), claimed with a lease so replicas
 * share the work, retried with backoff while Stripe or the database is unavailable. Cancelling goes through
 * `PaymentsService.cancel` (the cancel route's idempotency key on the first try, a new one per later try) and the
 * state machine. When Stripe refuses, the PaymentIntent is read again: paid or cancelled meanwhile ends the
 * request, still open (`processing`) is tried again later. Decision 0014.
 */
@Injectable()
export class PaymentCancellations extends PolledWorker {
  constructor(
    private readonly dataSource: DataSource,
    private readonly repo: PaymentsRepository,
    private readonly payments: PaymentsService,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: PaymentsConfig,
  ) {
    super({ name: 'payment cancellation', intervalMs: config.PAYMENT_CANCELLATIONS_POLL_MS, logger });
  }

  protected async pass(): Promise<boolean> {
    return (await this.runOnce()) === BATCH;
  }

  /** Remembers cancelled orders and requests the cancellation of their open payments, in the caller's transaction. */
  async request(m: EntityManager, orders: CancelledOrder[]): Promise<void> {
    if ((await recordCancelledOrders(m, orders)) > 0) afterCommit(m, () => this.soon());
  }

  /** One pass over due requests; returns how many were claimed. */
  async runOnce(): Promise<number> {
    await this.sweepRaces();
    const leaseMs = 2 * this.config.STRIPE_TIMEOUT_MS * (this.config.STRIPE_MAX_NETWORK_RETRIES + 1) + 10_000;
    const result = await this.dataSource.query<[Claimed[], number] | Claimed[]>(
      `UPDATE payment_cancellations
          SET next_attempt_at = now() + ${leaseMs} * interval '1 millisecond', attempts = attempts + 1
        WHERE payment_id IN (SELECT payment_id FROM payment_cancellations
                              WHERE done_at IS NULL AND next_attempt_at <= now()
                              ORDER BY next_attempt_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
        RETURNING payment_id, order_id, order_reason, attempts, refusals`,
    );
    const rows = (Array.isArray(result[0]) ? result[0] : result) as Claimed[];
    // Settled, not all: one outcome that cannot be written (database down) must not leave the others running
    // unawaited into the next pass. What is not written comes back when its lease ends.
    const written = await Promise.allSettled(
      rows.map(async (row) => {
        if (this.loop.isStopped) return; // shutting down: the lease gives it back
        await this.record(row, await this.cancelOne(row));
      }),
    );
    const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed) throw failed.reason;
    return rows.length;
  }

  private lastSweep = 0;

  /**
   * At most once per poll interval (a backlog's back-to-back passes skip it), and never in the way of the claim:
   * a sweep that fails is reported and the pass goes on.
   */
  private async sweepRaces(): Promise<void> {
    if (Date.now() - this.lastSweep < this.config.PAYMENT_CANCELLATIONS_POLL_MS) return;
    this.lastSweep = Date.now();
    try {
      const raced = await requestForRaces(this.dataSource.manager, RACE_WINDOW_MS);
      if (raced > 0)
        this.logger.pino.info({ payments: raced }, "payments created in a race with their order's cancellation; cancelling them");
    } catch (error) {
      this.logger.pino.warn({ err: error }, 'sweep for payments created in a race with a cancellation failed; will retry');
    }
  }

  private async cancelOne(row: Claimed): Promise<SettledStep> {
    try {
      const p = await this.repo.byId(this.dataSource.manager, row.payment_id);
      if (!p) return { done: 'refused', detail: 'payment not found' };
      const early = beforeStripe(p, new Date());
      if (early) return early;
      // A new key per attempt: Stripe answers a repeated key with its first answer for 24 h, refusals included.
      await this.payments.cancel(p.id, stripeReason(row.order_reason), row.attempts);
      return { done: 'canceled' };
    } catch (error) {
      const step = afterRefusal(error);
      if (!('refused' in step)) return step;
      try {
        return afterRefresh(await this.payments.refresh(row.payment_id), step.refused, row.refusals + 1);
      } catch (readError) {
        return afterFailedRead(readError, step.refused);
      }
    }
  }

  /** Writes the outcome onto the claim it belongs to: a claim that outlived its lease and was taken again is not. */
  private async record(row: Claimed, step: SettledStep): Promise<void> {
    const log = { paymentId: row.payment_id, orderId: row.order_id, attempts: row.attempts };
    if ('done' in step) {
      await this.dataSource.query(
        `UPDATE payment_cancellations SET done_at = now(), outcome = $2, last_error = COALESCE($3, last_error)
          WHERE payment_id = $1 AND attempts = $4 AND done_at IS NULL`,
        [row.payment_id, step.done, step.detail ?? null, row.attempts],
      );
      cancellations.inc({ outcome: step.done });
      const line = { ...log, outcome: step.done, ...(step.detail ? { detail: step.detail } : {}) };
      if (step.done === 'refused') this.logger.pino.warn(line, 'could not cancel the PaymentIntent of a cancelled order');
      else this.logger.pino.info(line, 'payment of a cancelled order settled');
      return;
    }
    await this.dataSource.query(
      `UPDATE payment_cancellations
          SET next_attempt_at = now() + $2 * interval '1 millisecond', last_error = $3, refusals = refusals + $5
        WHERE payment_id = $1 AND attempts = $4 AND done_at IS NULL`,
      [row.payment_id, backoffMs(row.attempts), step.retry.slice(0, 500), row.attempts, step.stripeRefused ? 1 : 0],
    );
    cancellations.inc({ outcome: 'retry' });
    // A create that may still get its PaymentIntent is waited for quietly (for up to a day).
    const level = step.retry === NO_INTENT_YET ? 'debug' : 'info';
    this.logger.pino[level]({ ...log, reason: step.retry }, "will retry cancelling a cancelled order's payment");
  }
}
