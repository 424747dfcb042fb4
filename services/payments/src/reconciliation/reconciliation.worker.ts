import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ReconciliationEntry } from '@omnipay/contracts';
import { OutboxService, UnitOfWork } from '@omnipay/messaging';
import { JsonLogger, metricsRegistry } from '@omnipay/observability';
import { APP_CONFIG } from '@omnipay/platform';
import { STRIPE } from '@omnipay/stripe';
import { Counter } from 'prom-client';
import type Stripe from 'stripe';
import { DataSource, type EntityManager } from 'typeorm';
import { deterministicUuid } from '../common/ids';
import type { PaymentsConfig } from '../config';
import { toPayment, type Payment } from '../payments/payment.model';

interface SourceRow {
  source_id: string;
  kind: 'charge' | 'refund' | 'dispute';
  payment_id: string;
  attempts: number;
}

type Txn = Stripe.BalanceTransaction;
const BATCH = 20;

const entriesWritten = new Counter({
  name: 'payments_reconciliation_entries_total',
  help: 'Reconciliation entries written, by kind',
  labelNames: ['kind'],
  registers: [metricsRegistry],
});

/**
 * Turns charges, refunds and disputes into reconciliation entries from Stripe's balance transactions. It runs
 * outside the consumer: fetching from Stripe inside the inbox transaction would hold it open for a network call
 * and dead-letter events during a Stripe hiccup, and an `automatic_async` charge has no balance transaction
 * yet when it succeeds (it comes with `charge.updated`). So sources are queued and retried with backoff here.
 */
@Injectable()
export class ReconciliationWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly outboxService: OutboxService,
    private readonly logger: JsonLogger,
    @Inject(STRIPE) private readonly stripe: Stripe,
    @Inject(APP_CONFIG) private readonly config: PaymentsConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule(this.config.RECONCILIATION_POLL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
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
    if (this.running) return this.schedule(this.config.RECONCILIATION_POLL_MS);
    let handled = 0;
    this.running = (async () => {
      try {
        handled = await this.runOnce();
      } catch (error) {
        this.logger.pino.warn({ err: error }, 'reconciliation pass failed; will retry');
      }
    })();
    await this.running;
    this.running = undefined;
    this.schedule(handled === BATCH ? 0 : this.config.RECONCILIATION_POLL_MS);
  }

  /** One pass over due sources; returns how many were claimed. */
  async runOnce(): Promise<number> {
    // Claim with a lease so replicas share the work and a crashed one's claims come back.
    const claimed = await this.dataSource.query<[SourceRow[], number] | SourceRow[]>(
      `UPDATE reconciliation_sources SET next_attempt_at = now() + ${this.config.RECONCILIATION_LEASE_MS} * interval '1 millisecond'
        WHERE source_id IN (SELECT source_id FROM reconciliation_sources
                             WHERE done_at IS NULL AND next_attempt_at <= now()
                             ORDER BY next_attempt_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
        RETURNING source_id, kind, payment_id, attempts`,
    );
    const rows = (Array.isArray(claimed[0]) ? claimed[0] : claimed) as SourceRow[];
    await Promise.all(rows.map((r) => this.process(r)));
    return rows.length;
  }

  private async process(row: SourceRow): Promise<void> {
    try {
      const [prow] = await this.dataSource.query<Record<string, unknown>[]>(
        'SELECT * FROM payments WHERE id = $1',
        [row.payment_id],
      );
      const payment = toPayment(prow);
      const found = await this.balanceTransactions(row);
      if (found === 'not_yet') return this.retryLater(row, 'balance transaction not available yet');
      await this.uow.run(async (m) => {
        for (const f of found) await this.write(m, payment, row, f.txn, f.chargeId);
        await m.query(
          'UPDATE reconciliation_sources SET done_at = now(), last_error = NULL WHERE source_id = $1',
          [row.source_id],
        );
      });
    } catch (error) {
      await this.retryLater(row, error instanceof Error ? error.message : String(error));
    }
  }

  private async balanceTransactions(
    row: SourceRow,
  ): Promise<{ txn: Txn; chargeId: string | null }[] | 'not_yet'> {
    switch (row.kind) {
      case 'charge': {
        const ch = await this.stripe.charges.retrieve(row.source_id, { expand: ['balance_transaction'] });
        if (!ch.balance_transaction || typeof ch.balance_transaction === 'string') return 'not_yet';
        return [{ txn: ch.balance_transaction, chargeId: ch.id }];
      }
      case 'refund': {
        // (The emulator refuses to expand a null failure_balance_transaction, so that one is fetched by id.)
        const re = await this.stripe.refunds.retrieve(row.source_id, { expand: ['balance_transaction'] });
        if (!re.balance_transaction || typeof re.balance_transaction === 'string') return 'not_yet';
        const chargeId = typeof re.charge === 'string' ? re.charge : (re.charge?.id ?? null);
        const out = [{ txn: re.balance_transaction, chargeId }];
        // A refund that failed after succeeding gives the money back: its own balance transaction.
        const failure = re.failure_balance_transaction;
        if (failure)
          out.push({
            txn:
              typeof failure === 'string' ? await this.stripe.balanceTransactions.retrieve(failure) : failure,
            chargeId,
          });
        return out;
      }
      case 'dispute': {
        const dp = await this.stripe.disputes.retrieve(row.source_id, { expand: ['balance_transactions'] });
        const chargeId = typeof dp.charge === 'string' ? dp.charge : dp.charge.id;
        if (!dp.balance_transactions?.length) return 'not_yet';
        return dp.balance_transactions.map((txn) => ({ txn, chargeId }));
      }
    }
  }

  private async write(
    m: EntityManager,
    p: Payment,
    row: SourceRow,
    txn: Txn,
    chargeId: string | null,
  ): Promise<void> {
    const entry = {
      entryId: txn.id,
      kind: row.kind,
      orderId: p.orderId,
      paymentIntentId: p.paymentIntentId as string,
      chargeId,
      sourceId: row.source_id,
      balanceTransactionId: txn.id,
      channel: p.channel,
      storeId: p.storeId,
      gross: txn.amount,
      fee: txn.fee,
      net: txn.net,
      currency: txn.currency,
      occurredAt: new Date(txn.created * 1000).toISOString(),
      availableOn: new Date(txn.available_on * 1000).toISOString(),
    };
    const inserted = await m.query<unknown[]>(
      `INSERT INTO reconciliation_entries (entry_id, kind, order_id, payment_id, payment_intent_id, charge_id, source_id,
         balance_transaction_id, channel, store_id, gross, fee, net, currency, occurred_at, available_on)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) ON CONFLICT (entry_id) DO NOTHING RETURNING entry_id`,
      [
        entry.entryId,
        entry.kind,
        entry.orderId,
        p.id,
        entry.paymentIntentId,
        entry.chargeId,
        entry.sourceId,
        entry.balanceTransactionId,
        entry.channel,
        entry.storeId,
        entry.gross,
        entry.fee,
        entry.net,
        entry.currency,
        entry.occurredAt,
        entry.availableOn,
      ],
    );
    if (inserted.length === 0) return;
    await this.outbox(m, entry);
    entriesWritten.inc({ kind: row.kind });
  }

  private async outbox(m: EntityManager, entry: Record<string, unknown>): Promise<void> {
    // One message per balance transaction, whatever happens: a re-publication dedups on the derived id.
    await this.outboxService.add(m, ReconciliationEntry, entry as never, {
      id: deterministicUuid(`recon:${String(entry.entryId)}`),
    });
  }

  private async retryLater(row: SourceRow, reason: string): Promise<void> {
    // 100 ms doubling to 5 min: an automatic_async charge is usually ready within a second.
    const delayMs = Math.min(300_000, 100 * 2 ** Math.min(row.attempts, 12));
    await this.dataSource.query(
      `UPDATE reconciliation_sources SET attempts = attempts + 1, last_error = $2,
              next_attempt_at = now() + ($3 || ' milliseconds')::interval WHERE source_id = $1`,
      [row.source_id, reason.slice(0, 500), String(delayMs)],
    );
    if (row.attempts >= 8 && row.attempts % 4 === 0) {
      this.logger.pino.warn(
        { sourceId: row.source_id, kind: row.kind, attempts: row.attempts + 1, reason },
        'reconciliation source still pending',
      );
    }
  }
}
