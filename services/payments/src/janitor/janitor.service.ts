import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { UnitOfWork } from '@omnipay/messaging';
import { JsonLogger, metricsRegistry, readForScrape } from '@omnipay/observability';
import { APP_CONFIG } from '@omnipay/platform';
import { STRIPE } from '@omnipay/stripe';
import type Stripe from 'stripe';
import { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { nowSeconds } from '../common/ids';
import type { PaymentsConfig } from '../config';
import { PaymentStateService } from '../payments/payment-state.service';
import { PaymentsService } from '../payments/payments.service';

const BATCH = 50;

let heldAge: (() => Promise<number>) | undefined;

// A refund or dispute fact waits in `held_facts` until its payment's success is announced; the janitor re-reads
// the payment meanwhile. One held far longer than the janitor's age means a payment that never succeeds for us.
new Gauge({
  name: 'payments_facts_held_oldest_seconds',
  help: "Age of the oldest refund or dispute fact held back until its payment's success is announced (0: none)",
  registers: [metricsRegistry],
  async collect() {
    const age = heldAge && (await readForScrape('payments_facts_held_oldest_seconds', heldAge));
    this.set(age ?? NaN);
  },
});

/**
 * A lost webhook must not leave a payment stuck: payments in a non-final state that have not changed for
 * `PAYMENTS_JANITOR_MIN_AGE_MS` are re-read from Stripe and what Stripe says goes through the same state
 * machine. Each payment is re-checked at most once per min-age, so abandoned checkouts cost little. Refund requests
 * Stripe never answered are completed (or released) the same way (`PaymentsService.completeStalledRefunds`).
 */
@Injectable()
export class JanitorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private running?: Promise<unknown>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly state: PaymentStateService,
    private readonly payments: PaymentsService,
    private readonly logger: JsonLogger,
    @Inject(STRIPE) private readonly stripe: Stripe,
    @Inject(APP_CONFIG) private readonly config: PaymentsConfig,
  ) {}

  onApplicationBootstrap(): void {
    heldAge = async () => {
      const [row] = await this.dataSource.query<{ age: number | null }[]>(
        `SELECT EXTRACT(EPOCH FROM now() - min(held_at))::float8 AS age FROM held_facts`,
      );
      return Math.max(0, row?.age ?? 0);
    };
    if (this.config.PAYMENTS_JANITOR_INTERVAL_MS > 0) this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      this.running = this.sweep().catch((error: unknown) => {
        this.logger.pino.warn({ err: error }, 'janitor sweep failed');
        return 0;
      });
      await this.running;
      this.running = undefined;
      this.schedule();
    }, this.config.PAYMENTS_JANITOR_INTERVAL_MS);
  }

  /** One sweep; returns how many payments changed state. */
  async sweep(): Promise<number> {
    try {
      const stranded = await this.uow.run((m) => this.state.releaseStrandedFacts(m));
      if (stranded > 0)
        this.logger.pino.error({ facts: stranded }, 'released facts left held by payments in a final status');
    } catch (error) {
      // The re-reads below do not depend on it.
      this.logger.pino.warn({ err: error }, 'could not look for facts left held; will retry');
    }
    const ageMs = this.config.PAYMENTS_JANITOR_MIN_AGE_MS;
    try {
      const refunds = await this.payments.completeStalledRefunds(ageMs, BATCH);
      if (refunds > 0) this.logger.pino.warn({ refundRequests: refunds }, 'janitor settled refund requests Stripe never answered');
    } catch (error) {
      this.logger.pino.warn({ err: error }, 'could not look for stalled refund requests; will retry');
    }
    const rows = await this.dataSource.query<
      [{ id: string; payment_intent_id: string; status: string }[], number]
    >(
      `UPDATE payments SET checked_at = now()
        WHERE id IN (SELECT id FROM payments
                      WHERE status NOT IN ('succeeded','canceled') AND payment_intent_id IS NOT NULL
                        AND updated_at < now() - ($1 || ' milliseconds')::interval
                        AND (checked_at IS NULL OR checked_at < now() - ($1 || ' milliseconds')::interval)
                      ORDER BY updated_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
        RETURNING id, payment_intent_id, status`,
      [String(ageMs)],
    );
    const stuck = Array.isArray(rows[0])
      ? rows[0]
      : (rows as unknown as { id: string; payment_intent_id: string; status: string }[]);
    let changed = 0;
    for (const row of stuck) {
      try {
        const pi = await this.stripe.paymentIntents.retrieve(row.payment_intent_id);
        const after = await this.uow.run((m) =>
          this.state.applyPaymentIntent(m, pi, { kind: 'janitor', id: pi.id, created: nowSeconds() }),
        );
        if (after && after.status !== row.status) {
          changed++;
          this.logger.pino.info(
            { paymentId: row.id, from: row.status, to: after.status },
            'janitor repaired a stuck payment',
          );
        }
      } catch (error) {
        this.logger.pino.warn({ err: error, paymentId: row.id }, 'janitor could not re-read a payment');
      }
    }
    return changed;
  }
}
