import { Inject, Injectable } from '@nestjs/common';
import { JsonLogger, metricsRegistry } from '@omnipay/observability';
import { afterCommit } from '@omnipay/persistence';
import { APP_CONFIG, ApiError, PolledWorker } from '@omnipay/platform';
import { Counter } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import type { PaymentsConfig } from '../config';
import { PaymentsService } from '../payments/payments.service';

/** A payment that paid an order a second time, as the orders service told it. */
export interface DuplicatePayment {
  paymentId: string;
  orderId: string;
  keptPaymentId: string | null;
  messageId: string;
}

interface Claimed {
  payment_id: string;
  order_id: string;
  attempts: number;
}

type Step = { done: 'refunded' | 'nothing_left' | 'unknown_payment' | 'refused'; detail?: string } | { retry: string };

const BATCH = 10;
/** A payment payments does not see as captured yet is waited for this many times (minutes at the longest backoff). */
const MAX_NOT_REFUNDABLE = 20;

const refunds = new Counter({
  name: 'payments_duplicate_refunds_total',
  help: 'Payments that paid an order a second time, by how their refund ended (retry = will be tried again)',
  labelNames: ['outcome'],
  registers: [metricsRegistry],
});

const backoffMs = (attempts: number) => Math.min(300_000, 1000 * 2 ** Math.min(attempts, 9));

/** What one refund attempt came to, from the refund route's answer. */
export function afterRefundError(error: unknown, attempts: number): Step {
  if (!(error instanceof ApiError)) return { retry: error instanceof Error ? error.message : String(error) };
  if (error.code === 'not_found') return { done: 'unknown_payment' };
  // Refunded meanwhile in full (by staff, or an earlier attempt whose answer was lost): nothing left to give back.
  if (error.code === 'nothing_to_refund') return { done: 'nothing_left' };
  // Payments has not applied the capture yet (its events are behind the orders service's): wait for it, a while.
  if (error.code === 'not_refundable' && attempts < MAX_NOT_REFUNDABLE) return { retry: error.message };
  if (error.getStatus() >= 500) return { retry: `${error.code}: ${error.message}` };
  return { done: 'refused', detail: `${error.code}: ${error.message}` };
}

/**
 * The money of a payment that paid an order a second time goes back (decision 0018). The orders service, which
 * decides which payment paid the order, announces the other (`order.payment_duplicated`); the consumer records a
 * request in its transaction, and this worker refunds it in full at Stripe outside it, through the refund route
 * (`PaymentsService.refund`, reason `duplicate`, refund request id `dup_<payment>`: a retry never refunds twice),
 * claimed with a lease and retried with backoff while Stripe or the database is unavailable.
 */
@Injectable()
export class DuplicatePaymentRefunds extends PolledWorker {
  constructor(
    private readonly dataSource: DataSource,
    private readonly payments: PaymentsService,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: PaymentsConfig,
  ) {
    super({ name: 'duplicate payment refund', intervalMs: config.DUPLICATE_REFUNDS_POLL_MS, logger });
  }

  protected async pass(): Promise<boolean> {
    return (await this.runOnce()) === BATCH;
  }

  /** Records the refunds to make, in the caller's transaction; a repeated announcement adds nothing. */
  async request(m: EntityManager, duplicates: DuplicatePayment[]): Promise<void> {
    if (duplicates.length === 0) return;
    const rows = await m.query<unknown[]>(
      `INSERT INTO duplicate_payment_refunds (payment_id, order_id, kept_payment_id, cause_message_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
       ON CONFLICT (payment_id) DO NOTHING RETURNING payment_id`,
      [
        duplicates.map((d) => d.paymentId),
        duplicates.map((d) => d.orderId),
        duplicates.map((d) => d.keptPaymentId),
        duplicates.map((d) => d.messageId),
      ],
    );
    if (rows.length > 0) afterCommit(m, () => this.soon());
  }

  /** One pass over due requests; returns how many were claimed. */
  async runOnce(): Promise<number> {
    const leaseMs = 2 * this.config.STRIPE_TIMEOUT_MS * (this.config.STRIPE_MAX_NETWORK_RETRIES + 1) + 10_000;
    const rows = await this.dataSource.query<Claimed[]>(
      `WITH c AS (
         UPDATE duplicate_payment_refunds
            SET next_attempt_at = now() + ${leaseMs} * interval '1 millisecond', attempts = attempts + 1
          WHERE payment_id IN (SELECT payment_id FROM duplicate_payment_refunds
                                WHERE done_at IS NULL AND next_attempt_at <= now()
                                ORDER BY next_attempt_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
          RETURNING payment_id, order_id, attempts)
       SELECT * FROM c`,
    );
    const written = await Promise.allSettled(
      rows.map(async (row) => {
        if (this.loop.isStopped) return; // shutting down: the lease gives it back
        await this.record(row, await this.refundOne(row));
      }),
    );
    const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed) throw failed.reason;
    return rows.length;
  }

  private async refundOne(row: Claimed): Promise<Step> {
    try {
      await this.payments.refund(row.payment_id, { refundRequestId: `dup_${row.payment_id}`, reason: 'duplicate', returnedItems: [] });
      return { done: 'refunded' };
    } catch (error) {
      return afterRefundError(error, row.attempts);
    }
  }

  /** Writes the outcome onto the claim it belongs to: a claim that outlived its lease and was taken again is not. */
  private async record(row: Claimed, step: Step): Promise<void> {
    const log = { paymentId: row.payment_id, orderId: row.order_id, attempts: row.attempts };
    if ('done' in step) {
      await this.dataSource.query(
        `UPDATE duplicate_payment_refunds SET done_at = now(), outcome = $2, last_error = COALESCE($3, last_error)
          WHERE payment_id = $1 AND attempts = $4 AND done_at IS NULL`,
        [row.payment_id, step.done, step.detail ?? null, row.attempts],
      );
      refunds.inc({ outcome: step.done });
      const line = { ...log, outcome: step.done, ...(step.detail ? { detail: step.detail } : {}) };
      if (step.done === 'refunded' || step.done === 'nothing_left') this.logger.pino.info(line, 'duplicate payment settled');
      else this.logger.pino.warn(line, 'could not refund a payment that paid an order a second time');
      return;
    }
    await this.dataSource.query(
      `UPDATE duplicate_payment_refunds SET next_attempt_at = now() + $2 * interval '1 millisecond', last_error = $3
        WHERE payment_id = $1 AND attempts = $4 AND done_at IS NULL`,
      [row.payment_id, backoffMs(row.attempts), step.retry.slice(0, 500), row.attempts],
    );
    refunds.inc({ outcome: 'retry' });
    this.logger.pino.info({ ...log, reason: step.retry }, 'will retry refunding a duplicate payment');
  }
}
