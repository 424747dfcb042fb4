import { Inject, Injectable } from '@nestjs/common';
import { PointsChanged, type CustomerId, type Envelope, type OrderId } from '@omnipay/contracts';
import { OutboxService } from '@omnipay/messaging';
import { JsonLogger } from '@omnipay/observability';
import { together, type Statement } from '@omnipay/persistence';
import { APP_CONFIG } from '@omnipay/platform';
import { DataSource, type EntityManager } from 'typeorm';
import type { OrdersConfig } from '../config';
import { causedBy } from '../shared/payment-events';
import { planLog } from '../shared/plan-log';
import {
  ordersNeedingReversals,
  planLoyaltyPayments,
  pointsEvents,
  type EntryReason as Reason,
  type LoyaltyOrderState,
  type LoyaltyPlan,
} from './payment-batch';

interface LoyaltyOrder {
  order_id: string;
  customer_id: string;
  currency: string;
  expected_total: string;
  payment_id: string | null;
  paid_amount: string | null;
  mismatch: boolean;
  accrued_points: number | null;
  total_refunded: string;
  disputed_amount: string;
  dispute_outcome: string | null;
  refund_seq: number;
}

/**
 * The points ledger. Entries are append-only and unique per (order, reason, source); the points owed for an
 * order are recomputed from the absolute payment facts it has seen (paid, refunded so far, disputed), and only
 * the difference from what the ledger already says is written. Same facts in any order, any number of times →
 * same ledger (refund totals in `refundSeq` order, decision 0011).
 */
@Injectable()
export class LoyaltyService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxService,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: OrdersConfig,
  ) {}

  /** In the placement transaction: remember who earns on this order and what payment it expects. */
  async registerOrder(
    manager: EntityManager,
    o: { orderId: string; customerId: string; currency: string; total: number },
  ): Promise<void> {
    await manager.query(
      `INSERT INTO loyalty_orders (order_id, customer_id, currency, expected_total) VALUES ($1, $2, $3, $4)`,
      [o.orderId, o.customerId, o.currency, o.total],
    );
  }

  /** Points effects of a chunk of payment events (offset order), in its transaction: lock, decide in memory, write. */
  async applyPaymentEvents(manager: EntityManager, events: Envelope[]): Promise<void> {
    const { orders, reversed } = await this.lockForPayments(manager, events);
    if (orders.size === 0) return;
    const plan = planLoyaltyPayments(
      orders,
      reversed,
      events,
      this.config.LOYALTY_POINTS_PER_UNIT,
      planLog(this.logger),
    );
    await this.applyPaymentPlan(manager, plan, events.length);
  }

  /** Locks the loyalty orders a chunk names (order id order) and reads what was already reversed where needed. */
  async lockForPayments(
    manager: EntityManager,
    events: Envelope[],
  ): Promise<{ orders: Map<string, LoyaltyOrderState>; reversed: Map<string, number> }> {
    const relevant = pointsEvents(events);
    const ids = [...new Set(relevant.map((e) => (e.data as { orderId: string }).orderId))];
    const rows = ids.length
      ? await manager.query<LoyaltyOrder[]>(
          'SELECT * FROM loyalty_orders WHERE order_id = ANY($1::text[]) ORDER BY order_id FOR UPDATE',
          [ids],
        )
      : [];
    const n = (v: string | number | null) => (v === null ? null : Number(v));
    const orders = new Map<string, LoyaltyOrderState>(
      rows.map((r) => [
        r.order_id,
        {
          order_id: r.order_id,
          customer_id: r.customer_id,
          currency: r.currency,
          expected_total: Number(r.expected_total),
          payment_id: r.payment_id,
          paid_amount: n(r.paid_amount),
          mismatch: r.mismatch,
          accrued_points: r.accrued_points,
          total_refunded: Number(r.total_refunded),
          disputed_amount: Number(r.disputed_amount),
          dispute_outcome: r.dispute_outcome,
          refund_seq: Number(r.refund_seq ?? 0),
        },
      ]),
    );
    const reversed = new Map<string, number>();
    const needing = ordersNeedingReversals(orders, relevant);
    if (needing.length > 0) {
      for (const id of needing) reversed.set(id, 0);
      const sums = await manager.query<{ order_id: string; reversed: number }[]>(
        `SELECT order_id, COALESCE(-SUM(points), 0)::int AS reversed FROM loyalty_entries
          WHERE order_id = ANY($1::text[]) AND reason <> 'accrual' GROUP BY order_id`,
        [needing],
      );
      for (const r of sums) reversed.set(r.order_id, r.reversed);
    }
    return { orders, reversed };
  }

  /**
   * Writes a chunk's decisions in two round trips: one statement of data-modifying CTEs for the loyalty orders, the
   * ledger entries (in decision order) and each customer's balance (one upsert over the entries actually written,
   * in customer id order, so concurrent chunks queue rather than deadlock); then a `PointsChanged` per entry with the
   * balance right after it.
   */
  async applyPaymentPlan(manager: EntityManager, plan: LoyaltyPlan, chunkSize: number): Promise<void> {
    const parts: Statement[] = [];
    const o = plan.orders;
    if (o.length > 0) {
      parts.push({
        sql: `UPDATE loyalty_orders l SET payment_id = v.payment_id, paid_amount = v.paid_amount, mismatch = v.mismatch,
                     accrued_points = v.accrued_points, total_refunded = v.total_refunded,
                     disputed_amount = v.disputed_amount, dispute_outcome = v.dispute_outcome,
                     refund_seq = v.refund_seq, updated_at = now()
                FROM unnest($1::text[], $2::text[], $3::bigint[], $4::boolean[], $5::int[], $6::bigint[], $7::bigint[],
                            $8::text[], $9::int[])
                     AS v(order_id, payment_id, paid_amount, mismatch, accrued_points, total_refunded, disputed_amount,
                          dispute_outcome, refund_seq)
               WHERE l.order_id = v.order_id`,
        params: [
          o.map((x) => x.order_id),
          o.map((x) => x.payment_id),
          o.map((x) => x.paid_amount),
          o.map((x) => x.mismatch),
          o.map((x) => x.accrued_points),
          o.map((x) => x.total_refunded),
          o.map((x) => x.disputed_amount),
          o.map((x) => x.dispute_outcome),
          o.map((x) => x.refund_seq),
        ],
      });
    }
    const e = plan.entries;
    if (e.length === 0) {
      if (parts.length > 0) await manager.query(parts[0].sql, parts[0].params);
      return;
    }
    // s{n}: the entries written (a fact recorded before under another message is not), then the balances they move.
    const entries = `s${parts.length}`;
    parts.push({
      sql: `INSERT INTO loyalty_entries (customer_id, order_id, reason, source_ref, points)
            SELECT e.customer_id, e.order_id, e.reason, e.source_ref, e.points
              FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[])
                   WITH ORDINALITY AS e(customer_id, order_id, reason, source_ref, points, n)
             ORDER BY e.n
            ON CONFLICT DO NOTHING RETURNING id, customer_id, order_id, reason, source_ref, points`,
      params: [
        e.map((x) => x.customerId),
        e.map((x) => x.orderId),
        e.map((x) => x.reason),
        e.map((x) => x.sourceRef),
        e.map((x) => x.points),
      ],
    });
    const balances = `s${parts.length}`;
    parts.push({
      sql: `INSERT INTO loyalty_accounts (customer_id, balance)
            SELECT customer_id, SUM(points)::int FROM ${entries} GROUP BY customer_id ORDER BY 1
            ON CONFLICT (customer_id) DO UPDATE SET balance = loyalty_accounts.balance + EXCLUDED.balance, updated_at = now()
            RETURNING customer_id, balance`,
      params: [],
    });
    const { sql, params } = together(
      parts,
      `SELECT id::text AS id, order_id, reason, source_ref, NULL::text AS customer_id, NULL::int AS balance FROM ${entries}
       UNION ALL SELECT NULL, NULL, NULL, NULL, customer_id, balance FROM ${balances}`,
    );
    const rows = await manager.query<
      { id: string | null; order_id: string; reason: string; source_ref: string; customer_id: string | null; balance: number | null }[]
    >(sql, params);
    const idOf = new Map<string, string>();
    const accounts: { customer_id: string; balance: number }[] = [];
    for (const r of rows) {
      if (r.id !== null) idOf.set(`${r.order_id}\u0000${r.reason}\u0000${r.source_ref}`, r.id);
      else if (r.customer_id !== null) accounts.push({ customer_id: r.customer_id, balance: Number(r.balance) });
    }
    const written = e.flatMap((x) => {
      const id = idOf.get(`${x.orderId}\u0000${x.reason}\u0000${x.sourceRef}`);
      return id === undefined ? [] : [{ ...x, id }];
    });
    // An entry that already existed (a fact seen before under another message) was not written; later decisions of a
    // longer chunk may have counted on it, so the chunk is redone one message at a time, where none depends on it
    // (the balances written with it roll back with the transaction).
    if (written.length < e.length && chunkSize > 1) throw new LedgerEntryExists();
    if (written.length === 0) return;
    const delta = new Map<string, number>();
    for (const x of written) delta.set(x.customerId, (delta.get(x.customerId) ?? 0) + x.points);
    // Each event carries the balance right after its entry: start from the balance before this chunk's entries.
    const running = new Map(
      accounts.map((a) => [a.customer_id, a.balance - (delta.get(a.customer_id) ?? 0)]),
    );
    await this.outbox.addMany(
      manager,
      written.map((x) => {
        const balance = (running.get(x.customerId) ?? 0) + x.points;
        running.set(x.customerId, balance);
        return {
          definition: PointsChanged,
          data: {
            customerId: x.customerId as CustomerId,
            orderId: x.orderId as OrderId,
            entryId: x.id,
            reason: x.reason,
            points: x.points,
            balance,
          },
          opts: causedBy(x.cause),
        };
      }),
    );
  }

  async account(customerId: string) {
    const entries = await this.dataSource.query<
      { id: string; order_id: string; reason: Reason; source_ref: string; points: number; created_at: Date }[]
    >(
      `SELECT id, order_id, reason, source_ref, points, created_at FROM loyalty_entries WHERE customer_id = $1 ORDER BY id`,
      [customerId],
    );
    return {
      customerId,
      // The balance IS the sum of the ledger; the account row is only a lock and a cache, checked by the tests.
      balance: entries.reduce((s, e) => s + e.points, 0),
      entries: entries.map((e) => ({
        id: e.id,
        orderId: e.order_id,
        reason: e.reason,
        points: e.points,
        at: e.created_at,
      })),
    };
  }
}

/** Thrown to have the transport redo a chunk message by message (see applyPaymentPlan). */
export class LedgerEntryExists extends Error {
  constructor() {
    super('a ledger entry of this chunk already existed; redone one message at a time');
  }
}
