import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { JsonLogger, metricsRegistry } from '@omnipay/observability';
import { APP_CONFIG } from '@omnipay/platform';
import { Counter } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import type { PaymentsConfig } from '../config';
import { PaymentsRepository } from '../payments/payments.repository';
import { PaymentsService } from '../payments/payments.service';
import { afterRefusal, backoffMs, beforeStripe, stripeReason, type CancellationStep } from './cancellation-steps';

/** An order that became `cancelled`, as `orders.events.v1` told it. */
export interface CancelledOrder {
  orderId: string;
  reason: string | null;
  messageId: string;
}

interface Claimed {
  payment_id: string;
  order_id: string;
  order_reason: string | null;
  attempts: number;
}

const BATCH = 20;
/** A claimed request comes back to other replicas after this long if its worker died mid-way. */
const LEASE_MS = 60_000;

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
 * `PaymentsService.cancel`: the same idempotency key and state machine as the cancel route.
 */
@Injectable()
export class PaymentCancellations implements OnApplicationBootstrap, OnApplicationShutdown {
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly repo: PaymentsRepository,
    private readonly payments: PaymentsService,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: PaymentsConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule(this.config.PAYMENT_CANCELLATIONS_POLL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /**
   * Records a cancellation for every payment of these orders that could still take money, in the caller's
   * transaction. A payment already final needs none; a repeated order event adds nothing (one request per payment).
   */
  async request(m: EntityManager, orders: CancelledOrder[]): Promise<number> {
    if (orders.length === 0) return 0;
    const rows = await m.query<{ payment_id: string }[]>(
      `INSERT INTO payment_cancellations (payment_id, order_id, order_reason, cause_message_id)
       SELECT p.id, p.order_id, o.reason, o.message_id
         FROM unnest($1::text[], $2::text[], $3::text[]) AS o(order_id, reason, message_id)
         JOIN payments p ON p.order_id = o.order_id
        WHERE p.status NOT IN ('succeeded', 'canceled')
       ON CONFLICT (payment_id) DO NOTHING
       RETURNING payment_id`,
      [orders.map((o) => o.orderId), orders.map((o) => o.reason), orders.map((o) => o.messageId)],
    );
    return rows.length;
  }

  /** Run shortly (after the caller's transaction has committed). */
  soon(): void {
    this.schedule(50);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    if (this.running) return this.schedule(this.config.PAYMENT_CANCELLATIONS_POLL_MS);
    let claimed = 0;
    this.running = (async () => {
      try {
        claimed = await this.runOnce();
      } catch (error) {
        this.logger.pino.warn({ err: error }, 'payment cancellation pass failed; will retry');
      }
    })();
    await this.running;
    this.running = undefined;
    this.schedule(claimed === BATCH ? 0 : this.config.PAYMENT_CANCELLATIONS_POLL_MS);
  }

  /** One pass over due requests; returns how many were claimed. */
  async runOnce(): Promise<number> {
    const result = await this.dataSource.query<[Claimed[], number] | Claimed[]>(
      `UPDATE payment_cancellations
          SET next_attempt_at = now() + ${LEASE_MS} * interval '1 millisecond', attempts = attempts + 1
        WHERE payment_id IN (SELECT payment_id FROM payment_cancellations
                              WHERE done_at IS NULL AND next_attempt_at <= now()
                              ORDER BY next_attempt_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
        RETURNING payment_id, order_id, order_reason, attempts`,
    );
    const rows = (Array.isArray(result[0]) ? result[0] : result) as Claimed[];
    for (const row of rows) {
      if (this.stopped) break; // the lease gives the rest back to another replica (or to this one, restarted)
      const step = await this.cancelOne(row);
      await this.record(row, step);
    }
    return rows.length;
  }

  private async cancelOne(row: Claimed): Promise<CancellationStep> {
    try {
      const p = await this.repo.byId(this.dataSource.manager, row.payment_id);
      if (!p) return { done: 'refused', detail: 'payment not found' };
      const early = beforeStripe(p, new Date());
      if (early) return early;
      await this.payments.cancel(p.id, stripeReason(row.order_reason));
      return { done: 'canceled' };
    } catch (error) {
      return afterRefusal(error);
    }
  }

  private async record(row: Claimed, step: CancellationStep): Promise<void> {
    const log = { paymentId: row.payment_id, orderId: row.order_id, attempts: row.attempts };
    if ('done' in step) {
      await this.dataSource.query(
        `UPDATE payment_cancellations SET done_at = now(), outcome = $2, last_error = $3 WHERE payment_id = $1`,
        [row.payment_id, step.done, step.detail ?? null],
      );
      cancellations.inc({ outcome: step.done });
      const line = { ...log, outcome: step.done, ...(step.detail ? { detail: step.detail } : {}) };
      if (step.done === 'refused') this.logger.pino.warn(line, 'could not cancel the PaymentIntent of a cancelled order');
      else this.logger.pino.info(line, 'payment of a cancelled order settled');
      return;
    }
    await this.dataSource.query(
      `UPDATE payment_cancellations SET next_attempt_at = now() + $2 * interval '1 millisecond', last_error = $3
        WHERE payment_id = $1`,
      [row.payment_id, backoffMs(row.attempts), step.retry.slice(0, 500)],
    );
    cancellations.inc({ outcome: 'retry' });
    this.logger.pino.info({ ...log, reason: step.retry }, 'cancellation of a cancelled order’s payment will be retried');
  }
}
