import { Inject, Injectable } from '@nestjs/common';
import { PointsChanged, type CustomerId, type OrderId } from '@omnipay/contracts';
import { OutboxService } from '@omnipay/messaging';
import { JsonLogger } from '@omnipay/observability';
import { APP_CONFIG } from '@omnipay/platform';
import { DataSource, type EntityManager } from 'typeorm';
import type { OrdersConfig } from '../config';
import { paymentMatches, type ReceivedPayment } from '../shared/payment-check';
import { returning } from '../shared/sql';
import { accrualPoints, reversalTarget } from './points';

type Reason = 'accrual' | 'refund_reversal' | 'dispute_reversal';

interface LoyaltyOrder {
  order_id: string;
  customer_id: string;
  currency: string;
  expected_total: string;
  paid_amount: string | null;
  mismatch: boolean;
  accrued_points: number | null;
  total_refunded: string;
  disputed_amount: string;
}

/**
 * The points ledger. Entries are append-only and unique per (order, reason, source); the points owed for an
 * order are recomputed from the absolute payment facts it has seen (paid, refunded so far, disputed), and only
 * the difference from what the ledger already says is written. Same facts in any order, any number of times →
 * same ledger.
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

  async paymentSucceeded(
    manager: EntityManager,
    messageId: string,
    p: { orderId: string; paymentId: string } & ReceivedPayment,
  ): Promise<void> {
    const order = await this.lock(manager, p.orderId);
    if (!order) return; // walk-in sale or not our order: no points
    if (order.accrued_points !== null || order.mismatch) return; // one accrual per order
    if (!paymentMatches({ total: Number(order.expected_total), currency: order.currency }, p)) {
      await manager.query(
        `UPDATE loyalty_orders SET mismatch = true, updated_at = now() WHERE order_id = $1`,
        [p.orderId],
      );
      this.logger.pino.warn(
        { orderId: p.orderId, paymentId: p.paymentId },
        'payment does not match the order: no points',
      );
      return;
    }
    const points = accrualPoints(p.amountReceived, p.currency, this.config.LOYALTY_POINTS_PER_UNIT);
    await manager.query(
      `UPDATE loyalty_orders SET accrued_points = $2, paid_amount = $3, payment_id = $4, updated_at = now() WHERE order_id = $1`,
      [p.orderId, points, p.amountReceived, p.paymentId],
    );
    if (points > 0) await this.append(manager, order.customer_id, p.orderId, 'accrual', p.paymentId, points);
    // Refunds or disputes that overtook this success are reversed now.
    const reason = Number(order.total_refunded) > 0 ? 'refund_reversal' : 'dispute_reversal';
    await this.reconcileReversal(
      manager,
      { ...order, accrued_points: points, paid_amount: String(p.amountReceived) },
      reason,
      messageId,
    );
  }

  async refunded(
    manager: EntityManager,
    messageId: string,
    r: { orderId: string; totalRefunded: number; amountCaptured: number },
  ): Promise<void> {
    const order = await this.lock(manager, r.orderId);
    if (!order) return;
    const [updated] = await returning<LoyaltyOrder>(
      manager,
      `UPDATE loyalty_orders SET total_refunded = GREATEST(total_refunded, $2), updated_at = now() WHERE order_id = $1 RETURNING *`,
      [r.orderId, r.totalRefunded],
    );
    await this.reconcileReversal(manager, updated, 'refund_reversal', messageId);
  }

  async disputed(
    manager: EntityManager,
    messageId: string,
    d: { orderId: string; amount: number },
  ): Promise<void> {
    const order = await this.lock(manager, d.orderId);
    if (!order) return;
    const [updated] = await returning<LoyaltyOrder>(
      manager,
      `UPDATE loyalty_orders SET disputed_amount = GREATEST(disputed_amount, $2), updated_at = now() WHERE order_id = $1 RETURNING *`,
      [d.orderId, d.amount],
    );
    await this.reconcileReversal(manager, updated, 'dispute_reversal', messageId);
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

  private async reconcileReversal(
    manager: EntityManager,
    order: LoyaltyOrder,
    reason: Reason,
    messageId: string,
  ): Promise<void> {
    if (order.accrued_points === null || order.paid_amount === null) return; // nothing accrued yet (or never will)
    const target = reversalTarget(
      order.accrued_points,
      Number(order.paid_amount),
      Number(order.total_refunded),
      Number(order.disputed_amount),
    );
    const [{ reversed }] = await manager.query<{ reversed: number }[]>(
      `SELECT COALESCE(-SUM(points), 0)::int AS reversed FROM loyalty_entries WHERE order_id = $1 AND reason <> 'accrual'`,
      [order.order_id],
    );
    const owed = target - reversed;
    if (owed <= 0) return;
    await this.append(manager, order.customer_id, order.order_id, reason, messageId, -owed);
  }

  private async append(
    manager: EntityManager,
    customerId: string,
    orderId: string,
    reason: Reason,
    sourceRef: string,
    points: number,
  ): Promise<void> {
    const [entry] = await manager.query<{ id: string }[]>(
      `INSERT INTO loyalty_entries (customer_id, order_id, reason, source_ref, points) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT DO NOTHING RETURNING id`,
      [customerId, orderId, reason, sourceRef, points],
    );
    if (!entry) return;
    const [account] = await manager.query<{ balance: number }[]>(
      `INSERT INTO loyalty_accounts (customer_id, balance) VALUES ($1, $2)
       ON CONFLICT (customer_id) DO UPDATE SET balance = loyalty_accounts.balance + EXCLUDED.balance, updated_at = now()
       RETURNING balance`,
      [customerId, points],
    );
    await this.outbox.add(manager, PointsChanged, {
      customerId: customerId as CustomerId,
      orderId: orderId as OrderId,
      entryId: String(entry.id),
      reason,
      points,
      balance: account.balance,
    });
  }

  private async lock(manager: EntityManager, orderId: string): Promise<LoyaltyOrder | undefined> {
    const [row] = await manager.query<LoyaltyOrder[]>(
      'SELECT * FROM loyalty_orders WHERE order_id = $1 FOR UPDATE',
      [orderId],
    );
    return row;
  }
}
