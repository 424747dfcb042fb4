import { Injectable } from '@nestjs/common';
import {
  PaymentRefunded,
  PaymentSucceeded,
  StockChanged,
  type DataOf,
  type Envelope,
  type OrderId,
  type Sku,
  type StoreId,
} from '@omnipay/contracts';
import { OutboxService, UnitOfWork } from '@omnipay/messaging';
import { JsonLogger, metricsRegistry } from '@omnipay/observability';
import { together, type Statement } from '@omnipay/persistence';
import { Counter } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import { causedBy, isEvent } from '../shared/payment-events';
import { returning } from '../shared/sql';
import {
  stockKey,
  stockKeysFor,
  type HoldLineState,
  type HoldState,
  type HoldStatus,
  type InventoryPlan,
  type InventorySnapshot,
  type ReturnState,
  type StockState,
} from './payment-batch';

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
  status: HoldStatus;
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
   * Reserves every line at `locationId` inside the caller's transaction (the order insert) and returns the
   * `StockChanged` the caller must add to the outbox. Lines must be sorted by SKU so concurrent checkouts lock rows
   * in one order; the stock rows are updated last, so the hot rows stay locked only until the commit that follows.
   * Throws OutOfStockError: the caller's transaction rolls back.
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
  ): Promise<DataOf<typeof StockChanged>[]> {
    await manager.query(
      `WITH h AS (
         INSERT INTO inventory_holds (order_id, location_id, currency, total, status) VALUES ($1, $2, $3, $4, 'open')
       )
       INSERT INTO inventory_hold_lines (order_id, sku, quantity)
       SELECT $1, l.sku, l.quantity FROM unnest($5::text[], $6::int[]) AS l(sku, quantity)`,
      [
        hold.orderId,
        hold.locationId,
        hold.currency,
        hold.total,
        hold.lines.map((l) => l.sku),
        hold.lines.map((l) => l.quantity),
      ],
    );
    const events: DataOf<typeof StockChanged>[] = [];
    for (const line of hold.lines) {
      // The WHERE re-checks availability under the row lock: concurrent checkouts can never oversell.
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
    return events;
  }

  /** Gives back an unpaid order's reservation (cancel, expiry). No-op unless the hold is still reserved. */
  async release(manager: EntityManager, orderId: string, why: string): Promise<boolean> {
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
    // A flagged hold stays decided by its mismatched payment (see HoldStatus).
    await this.setStatus(manager, orderId, hold.status === 'flagged' ? 'flagged_released' : 'released');
    await this.emit(manager, events);
    this.logger.pino.info({ orderId, why, locationId: hold.location_id }, 'reservation released');
    return true;
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
   * Locks what a chunk of payment events may touch, in the order every writer locks it (holds by order id, then
   * stock rows by SKU and location; checkouts and releases take stock rows in SKU order too).
   */
  async lockForPayments(manager: EntityManager, events: Envelope[]): Promise<InventorySnapshot> {
    const relevant = events.filter((e) => isEvent(e, PaymentSucceeded) || isEvent(e, PaymentRefunded));
    const empty: InventorySnapshot = { holds: new Map(), lines: new Map(), stock: new Map(), returns: [] };
    if (relevant.length === 0) return empty;
    const orderIds = [...new Set(relevant.map((e) => (e.data as { orderId: string }).orderId))];
    const holdRows = await manager.query<(Omit<HoldState, 'total'> & { total: string })[]>(
      `SELECT order_id, location_id, currency, total, status FROM inventory_holds
        WHERE order_id = ANY($1::text[]) ORDER BY order_id FOR UPDATE`,
      [orderIds],
    );
    if (holdRows.length === 0) return empty;
    const holds = new Map(holdRows.map((h) => [h.order_id, { ...h, total: Number(h.total) }]));
    const lineRows = await manager.query<(HoldLineState & { order_id: string })[]>(
      `SELECT order_id, sku, quantity, returned FROM inventory_hold_lines
        WHERE order_id = ANY($1::text[]) ORDER BY order_id, sku`,
      [[...holds.keys()]],
    );
    const lines = new Map<string, HoldLineState[]>();
    for (const { order_id, ...l } of lineRows) lines.set(order_id, [...(lines.get(order_id) ?? []), l]);
    const refundIds = relevant
      .filter((e) => isEvent(e, PaymentRefunded))
      .map((e) => (e.data as { refundId: string }).refundId);
    const returnRows = await manager.query<Omit<ReturnState, 'isNew'>[]>(
      `SELECT refund_id, order_id, location_id, items, status FROM inventory_returns
        WHERE (order_id = ANY($1::text[]) AND status = 'pending') OR refund_id = ANY($2::text[])
        ORDER BY created_at, refund_id FOR UPDATE`,
      [[...holds.keys()], refundIds],
    );
    const returns = returnRows.map((r) => ({ ...r, isNew: false }));
    const keys = stockKeysFor(relevant, holds, lines, returns);
    const stockRows = await manager.query<Omit<StockState, 'exists'>[]>(
      `SELECT s.sku, s.location_id, s.on_hand, s.reserved
         FROM stock s JOIN unnest($1::text[], $2::text[]) AS k(sku, location_id)
              ON s.sku = k.sku AND s.location_id = k.location_id
        ORDER BY s.sku, s.location_id FOR UPDATE OF s`,
      [keys.map((k) => k.sku), keys.map((k) => k.locationId)],
    );
    const stock = new Map<string, StockState>();
    for (const k of keys)
      stock.set(stockKey(k.sku, k.locationId), {
        sku: k.sku,
        location_id: k.locationId,
        on_hand: 0,
        reserved: 0,
        exists: false,
      });
    for (const r of stockRows) stock.set(stockKey(r.sku, r.location_id), { ...r, exists: true });
    return { holds, lines, stock, returns };
  }

  /**
   * Writes a chunk's decisions, whatever its size, as one statement of data-modifying CTEs (a part per table and
   * kind of change; no two parts touch one row): one round trip.
   */
  async applyPaymentPlan(manager: EntityManager, plan: InventoryPlan): Promise<void> {
    const parts: Statement[] = [];
    const existing = plan.stock.filter((r) => !r.created);
    if (existing.length > 0) {
      parts.push({
        sql: `UPDATE stock s SET on_hand = v.on_hand, reserved = v.reserved, updated_at = now()
              FROM unnest($1::text[], $2::text[], $3::int[], $4::int[]) AS v(sku, location_id, on_hand, reserved)
              WHERE s.sku = v.sku AND s.location_id = v.location_id`,
        params: [
          existing.map((r) => r.sku),
          existing.map((r) => r.location_id),
          existing.map((r) => r.on_hand),
          existing.map((r) => r.reserved),
        ],
      });
    }
    const created = plan.stock.filter((r) => r.created);
    if (created.length > 0) {
      // Not locked beforehand (there was no row): add to whatever a concurrent writer may have created meanwhile.
      parts.push({
        sql: `INSERT INTO stock (sku, location_id, on_hand, reserved)
              SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[]) ORDER BY 1, 2
              ON CONFLICT (sku, location_id) DO UPDATE SET on_hand = stock.on_hand + EXCLUDED.on_hand,
                reserved = stock.reserved + EXCLUDED.reserved, updated_at = now()`,
        params: [
          created.map((r) => r.sku),
          created.map((r) => r.location_id),
          created.map((r) => r.on_hand),
          created.map((r) => r.reserved),
        ],
      });
    }
    if (plan.holds.length > 0) {
      parts.push({
        sql: `UPDATE inventory_holds h SET status = v.status, updated_at = now()
              FROM unnest($1::text[], $2::text[]) AS v(order_id, status) WHERE h.order_id = v.order_id`,
        params: [plan.holds.map((h) => h.order_id), plan.holds.map((h) => h.status)],
      });
    }
    if (plan.lines.length > 0) {
      parts.push({
        sql: `UPDATE inventory_hold_lines l SET returned = v.returned
              FROM unnest($1::text[], $2::text[], $3::int[]) AS v(order_id, sku, returned)
              WHERE l.order_id = v.order_id AND l.sku = v.sku`,
        params: [plan.lines.map((l) => l.order_id), plan.lines.map((l) => l.sku), plan.lines.map((l) => l.returned)],
      });
    }
    const newReturns = plan.returns.filter((r) => r.isNew);
    if (newReturns.length > 0) {
      parts.push({
        sql: `INSERT INTO inventory_returns (refund_id, order_id, location_id, items, status)
              SELECT r.refund_id, r.order_id, r.location_id, r.items::jsonb, r.status
              FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS r(refund_id, order_id, location_id, items, status)`,
        params: [
          newReturns.map((r) => r.refund_id),
          newReturns.map((r) => r.order_id),
          newReturns.map((r) => r.location_id),
          newReturns.map((r) => JSON.stringify(r.items)),
          newReturns.map((r) => r.status),
        ],
      });
    }
    const restocked = plan.returns.filter((r) => !r.isNew && r.status === 'restocked');
    if (restocked.length > 0) {
      parts.push({
        sql: `UPDATE inventory_returns SET status = 'restocked' WHERE refund_id = ANY($1::text[])`,
        params: [restocked.map((r) => r.refund_id)],
      });
    }
    for (let i = 0; i < plan.shortfalls; i++) inventoryShortfalls.inc();
    const outbox = this.outbox.insertion(
      manager,
      plan.events.map((e) => ({ definition: StockChanged, data: e.data, opts: causedBy(e.cause) })),
    );
    if (outbox) parts.push(outbox);
    if (parts.length === 0) return;
    const { sql, params } = together(parts);
    await manager.query(sql, params);
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
