import { Injectable } from '@nestjs/common';
import { StockChanged, type DataOf, type OrderId, type Sku, type StoreId } from '@omnipay/contracts';
import { OutboxService, UnitOfWork } from '@omnipay/messaging';
import { JsonLogger, metricsRegistry } from '@omnipay/observability';
import { Counter } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import { returning, serialiseConsumer } from '../shared/sql';
import { paymentMatches, type ReceivedPayment } from '../shared/payment-check';

type Change = DataOf<typeof StockChanged>['change'];

export class OutOfStockError extends Error {
  constructor(
    readonly skus: string[],
    readonly locationId: string,
  ) {
    super(`not enough stock of ${skus.join(', ')} at ${locationId}`);
  }
}

export const inventoryShortfalls = new Counter({
  name: 'inventory_shortfalls_total',
  help: 'Payments that succeeded after their reservation was released and whose stock could not be re-taken',
  registers: [metricsRegistry],
});

interface Hold {
  order_id: string;
  location_id: string;
  currency: string;
  total: string;
  status: 'open' | 'committed' | 'released' | 'flagged' | 'shortfall';
}
interface HoldLine {
  sku: string;
  quantity: number;
  returned: number;
}
interface StockRow {
  on_hand: number;
  reserved: number;
}

/**
 * Stock per SKU per location. Every change is one conditional UPDATE whose WHERE re-checks the invariant, so
 * concurrent writers serialise on the row and none can take stock below zero; the table's CHECKs back it up.
 * Payment effects are idempotent in state terms too (a hold commits only while open), not only through the inbox.
 */
@Injectable()
export class InventoryService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxService,
    private readonly uow: UnitOfWork,
    private readonly logger: JsonLogger,
  ) {}

  /**
   * Reserves every line at `locationId` inside the caller's transaction (the order insert). Lines must be sorted by
   * SKU so concurrent checkouts lock rows in one order. Throws OutOfStockError: the caller's transaction rolls back.
   */
  async reserve(
    manager: EntityManager,
    hold: {
      orderId: OrderId;
      locationId: string;
      currency: string;
      total: number;
      lines: { sku: string; quantity: number }[];
    },
  ): Promise<void> {
    const events: DataOf<typeof StockChanged>[] = [];
    for (const line of hold.lines) {
      const [row] = await returning<StockRow>(
        manager,
        `UPDATE stock SET reserved = reserved + $3, updated_at = now()
          WHERE sku = $1 AND location_id = $2 AND on_hand - reserved >= $3
          RETURNING on_hand, reserved`,
        [line.sku, hold.locationId, line.quantity],
      );
      if (!row) throw new OutOfStockError([line.sku], hold.locationId);
      events.push(this.event(line.sku, hold.locationId, 'reserved', line.quantity, row, hold.orderId));
    }
    await manager.query(
      `INSERT INTO inventory_holds (order_id, location_id, currency, total, status) VALUES ($1, $2, $3, $4, 'open')`,
      [hold.orderId, hold.locationId, hold.currency, hold.total],
    );
    await manager.query(
      `INSERT INTO inventory_hold_lines (order_id, sku, quantity)
       SELECT $1, l.sku, l.quantity FROM unnest($2::text[], $3::int[]) AS l(sku, quantity)`,
      [hold.orderId, hold.lines.map((l) => l.sku), hold.lines.map((l) => l.quantity)],
    );
    await this.emit(manager, events);
  }

  /** Gives back an unpaid order's reservation (cancel, expiry). No-op unless the hold is still reserved. */
  async release(manager: EntityManager, orderId: string, why: string): Promise<boolean> {
    // Cancel and expiry queue behind the inventory consumer rather than deadlock with it (see serialiseConsumer).
    await serialiseConsumer(manager, 'inventory');
    const hold = await this.lockHold(manager, orderId);
    if (!hold || (hold.status !== 'open' && hold.status !== 'flagged')) return false;
    const events: DataOf<typeof StockChanged>[] = [];
    for (const line of await this.lines(manager, orderId)) {
      const row = await this.updateStock(
        manager,
        'reserved = reserved - $3',
        line.sku,
        hold.location_id,
        line.quantity,
      );
      events.push(this.event(line.sku, hold.location_id, 'released', line.quantity, row, orderId));
    }
    await this.setStatus(manager, orderId, 'released');
    await this.emit(manager, events);
    this.logger.pino.info({ orderId, why, locationId: hold.location_id }, 'reservation released');
    return true;
  }

  /** Payment succeeded: commit the reservation (or flag it when the payment does not match the order). */
  async paymentSucceeded(manager: EntityManager, orderId: string, payment: ReceivedPayment): Promise<void> {
    const hold = await this.lockHold(manager, orderId);
    if (!hold) {
      this.logger.pino.warn({ orderId }, 'payment succeeded for an order without a stock hold; ignored');
      return;
    }
    if (!paymentMatches({ total: Number(hold.total), currency: hold.currency }, payment)) {
      // Neither commit nor release: the stock stays held for the flagged order until finance refunds it.
      if (hold.status === 'open') await this.setStatus(manager, orderId, 'flagged');
      return;
    }
    const lines = await this.lines(manager, orderId);
    if (hold.status === 'open') {
      const events = [];
      for (const line of lines) {
        const row = await this.updateStock(
          manager,
          'on_hand = on_hand - $3, reserved = reserved - $3',
          line.sku,
          hold.location_id,
          line.quantity,
        );
        events.push(this.event(line.sku, hold.location_id, 'committed', line.quantity, row, orderId));
      }
      await this.setStatus(manager, orderId, 'committed');
      await this.emit(manager, events);
    } else if (hold.status === 'released') {
      await this.retake(manager, hold, lines);
    } else {
      return; // committed, flagged or shortfall already: a second success changes nothing
    }
    await this.applyPendingReturns(manager, orderId);
  }

  /** A refund: restock returned items at the return store; release a flagged hold once fully refunded. */
  async refunded(
    manager: EntityManager,
    r: {
      orderId: string;
      refundId: string;
      fullyRefunded: boolean;
      returnedItems: { sku: string; quantity: number }[];
      returnStoreId: string | null;
    },
  ): Promise<void> {
    const hold = await this.lockHold(manager, r.orderId);
    if (!hold) {
      this.logger.pino.warn({ orderId: r.orderId }, 'refund for an order without a stock hold; ignored');
      return;
    }
    if (hold.status === 'flagged' && r.fullyRefunded)
      await this.release(manager, r.orderId, 'mismatched payment refunded');
    if (r.returnedItems.length === 0) return;
    const location = r.returnStoreId ?? hold.location_id;
    const inserted = await manager.query<unknown[]>(
      `INSERT INTO inventory_returns (refund_id, order_id, location_id, items, status) VALUES ($1, $2, $3, $4, 'pending')
       ON CONFLICT (refund_id) DO NOTHING RETURNING refund_id`,
      [r.refundId, r.orderId, location, JSON.stringify(r.returnedItems)],
    );
    if (inserted.length === 0) return; // this refund's items were already taken back
    // A refund can overtake its payment's success event; its items are restocked once the sale is committed.
    if (hold.status === 'committed') await this.applyPendingReturns(manager, r.orderId);
  }

  /** Sets the physical count of a SKU at a location (stock take, tests). Refused below what is reserved. */
  async adjust(locationId: string, sku: string, onHand: number): Promise<StockRow | undefined> {
    return this.uow.run(async (manager) => {
      const [row] = await manager.query<StockRow[]>(
        `INSERT INTO stock (sku, location_id, on_hand) VALUES ($1, $2, $3)
         ON CONFLICT (sku, location_id) DO UPDATE SET on_hand = EXCLUDED.on_hand, updated_at = now()
           WHERE stock.reserved <= EXCLUDED.on_hand
         RETURNING on_hand, reserved`,
        [sku, locationId, onHand],
      );
      if (row) await this.emit(manager, [this.event(sku, locationId, 'adjusted', onHand, row, null)]);
      return row;
    });
  }

  async stock(filter: { sku?: string; locationId?: string }) {
    const rows = await this.dataSource.query<
      { sku: string; location_id: string; on_hand: number; reserved: number }[]
    >(
      `SELECT sku, location_id, on_hand, reserved FROM stock
        WHERE ($1::text IS NULL OR sku = $1) AND ($2::text IS NULL OR location_id = $2) ORDER BY location_id, sku`,
      [filter.sku ?? null, filter.locationId ?? null],
    );
    return rows.map((r) => ({
      sku: r.sku,
      locationId: r.location_id,
      onHand: r.on_hand,
      reserved: r.reserved,
      available: r.on_hand - r.reserved,
    }));
  }

  async holdOf(orderId: string) {
    const [hold] = await this.dataSource.query<Hold[]>(
      'SELECT location_id, status FROM inventory_holds WHERE order_id = $1',
      [orderId],
    );
    return hold ? { locationId: hold.location_id, status: hold.status } : undefined;
  }

  /**
   * The payment succeeded after the reservation was released (expiry raced the customer): take the stock again if
   * it is still there, all lines or none; otherwise record a shortfall for staff. Never below zero.
   */
  private async retake(manager: EntityManager, hold: Hold, lines: HoldLine[]): Promise<void> {
    const rows = await manager.query<(StockRow & { sku: string })[]>(
      `SELECT sku, on_hand, reserved FROM stock WHERE location_id = $1 AND sku = ANY($2::text[]) ORDER BY sku FOR UPDATE`,
      [hold.location_id, lines.map((l) => l.sku)],
    );
    const available = new Map(rows.map((r) => [r.sku, r.on_hand - r.reserved]));
    const short = lines.filter((l) => (available.get(l.sku) ?? 0) < l.quantity).map((l) => l.sku);
    if (short.length > 0) {
      await this.setStatus(manager, hold.order_id, 'shortfall');
      inventoryShortfalls.inc();
      this.logger.pino.error(
        { orderId: hold.order_id, skus: short, locationId: hold.location_id },
        'paid order cannot be served: stock gone after its reservation expired',
      );
      return;
    }
    const events = [];
    for (const line of lines) {
      const row = await this.updateStock(
        manager,
        'on_hand = on_hand - $3',
        line.sku,
        hold.location_id,
        line.quantity,
      );
      events.push(this.event(line.sku, hold.location_id, 'committed', line.quantity, row, hold.order_id));
    }
    await this.setStatus(manager, hold.order_id, 'committed');
    await this.emit(manager, events);
  }

  private async applyPendingReturns(manager: EntityManager, orderId: string): Promise<void> {
    const pending = await manager.query<
      { refund_id: string; location_id: string; items: { sku: string; quantity: number }[] }[]
    >(
      `SELECT refund_id, location_id, items FROM inventory_returns WHERE order_id = $1 AND status = 'pending' ORDER BY created_at FOR UPDATE`,
      [orderId],
    );
    if (pending.length === 0) return;
    const lines = new Map((await this.lines(manager, orderId)).map((l) => [l.sku, l]));
    const events = [];
    for (const ret of pending) {
      for (const item of [...ret.items].sort((a, b) => (a.sku < b.sku ? -1 : 1))) {
        const line = lines.get(item.sku);
        // Only what was sold on this order can come back, and not more than was sold.
        const quantity = line ? Math.min(item.quantity, line.quantity - line.returned) : 0;
        if (quantity <= 0) {
          this.logger.pino.warn(
            { orderId, refundId: ret.refund_id, sku: item.sku },
            'returned item not on the order (or already returned); not restocked',
          );
          continue;
        }
        line!.returned += quantity;
        await manager.query(
          'UPDATE inventory_hold_lines SET returned = returned + $3 WHERE order_id = $1 AND sku = $2',
          [orderId, item.sku, quantity],
        );
        const [row] = await manager.query<StockRow[]>(
          `INSERT INTO stock (sku, location_id, on_hand) VALUES ($1, $2, $3)
           ON CONFLICT (sku, location_id) DO UPDATE SET on_hand = stock.on_hand + EXCLUDED.on_hand, updated_at = now()
           RETURNING on_hand, reserved`,
          [item.sku, ret.location_id, quantity],
        );
        events.push(this.event(item.sku, ret.location_id, 'restocked', quantity, row, orderId));
      }
      await manager.query(`UPDATE inventory_returns SET status = 'restocked' WHERE refund_id = $1`, [
        ret.refund_id,
      ]);
    }
    await this.emit(manager, events);
  }

  private async updateStock(
    manager: EntityManager,
    set: string,
    sku: string,
    locationId: string,
    quantity: number,
  ): Promise<StockRow> {
    const [row] = await returning<StockRow>(
      manager,
      `UPDATE stock SET ${set}, updated_at = now() WHERE sku = $1 AND location_id = $2 RETURNING on_hand, reserved`,
      [sku, locationId, quantity],
    );
    if (!row) throw new Error(`no stock row for ${sku} at ${locationId}`);
    return row;
  }

  private async lockHold(manager: EntityManager, orderId: string): Promise<Hold | undefined> {
    const [hold] = await manager.query<Hold[]>(
      'SELECT order_id, location_id, currency, total, status FROM inventory_holds WHERE order_id = $1 FOR UPDATE',
      [orderId],
    );
    return hold;
  }

  private async lines(manager: EntityManager, orderId: string): Promise<HoldLine[]> {
    return await manager.query<HoldLine[]>(
      'SELECT sku, quantity, returned FROM inventory_hold_lines WHERE order_id = $1 ORDER BY sku',
      [orderId],
    );
  }

  private async setStatus(manager: EntityManager, orderId: string, status: Hold['status']): Promise<void> {
    await manager.query('UPDATE inventory_holds SET status = $2, updated_at = now() WHERE order_id = $1', [
      orderId,
      status,
    ]);
  }

  private event(
    sku: string,
    locationId: string,
    change: Change,
    quantity: number,
    row: StockRow,
    orderId: string | null,
  ): DataOf<typeof StockChanged> {
    return {
      sku: sku as Sku,
      locationId: locationId as StoreId,
      change,
      quantity,
      onHand: row.on_hand,
      reserved: row.reserved,
      orderId: orderId as OrderId | null,
    };
  }

  private async emit(manager: EntityManager, events: DataOf<typeof StockChanged>[]): Promise<void> {
    await this.outbox.addMany(
      manager,
      events.map((data) => ({ definition: StockChanged, data })),
    );
  }
}
