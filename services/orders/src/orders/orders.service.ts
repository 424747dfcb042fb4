import { createHash } from 'node:crypto';
import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import {
  OrderPlaced,
  OrderPaymentDuplicated,
  OrderStatusChanged,
  StockChanged,
  type CustomerId,
  type OrderId,
  type Sku,
  type StoreId,
} from '@omnipay/contracts';
import { OutboxService, UnitOfWork } from '@omnipay/messaging';
import { JsonLogger, metricsRegistry } from '@omnipay/observability';
import { together, type Statement } from '@omnipay/persistence';
import { APP_CONFIG } from '@omnipay/platform';
import { Counter } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import { CatalogService } from '../catalog/catalog.service';
import { priceLines } from '../catalog/pricing';
import type { OrdersConfig } from '../config';
import { InventoryService, OutOfStockError } from '../inventory/inventory.service';
import { LoyaltyService } from '../loyalty/loyalty.service';
import { ApiError, badRequest, conflict, notFound } from '../shared/http-errors';
import { newOrderId } from '../shared/ids';
import { causedBy } from '../shared/payment-events';
import { isRetryableConflict } from '../shared/sql';
import type { PlaceOrderRequest } from './dto/place-order.dto';
import { UNPAID, canTransition, type Fulfilment, type OrderStatus } from './order-status';
import { toPaymentState, type OrderPaymentState, type OrdersPaymentPlan } from './payment-batch';
import { toOrderView, type HistoryRow, type LineRow, type OrderRow, type OrderView } from './order.view';

const ordersPlaced = new Counter({
  name: 'orders_placed_total',
  help: 'Orders placed, by channel',
  labelNames: ['channel'] as const,
  registers: [metricsRegistry],
});
const checkoutsOutOfStock = new Counter({
  name: 'orders_out_of_stock_total',
  help: 'Place-order calls refused because a line could not be reserved',
  registers: [metricsRegistry],
});

export interface Transition {
  to: OrderStatus;
  reason: string | null;
  actor: string;
  messageId?: string;
}

@Injectable()
export class OrdersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly outbox: OutboxService,
    private readonly catalog: CatalogService,
    private readonly inventory: InventoryService,
    private readonly loyalty: LoyaltyService,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: OrdersConfig,
  ) {}

  /**
   * Prices the order from the catalog and, in ONE transaction, inserts it, reserves its stock and registers it with
   * loyalty, and writes `OrderPlaced` to the outbox. Any line out of stock fails the whole order (409).
   * With an idempotency key, a retry of the same request returns the order it created (`created: false`).
   */
  async place(
    req: PlaceOrderRequest,
    idempotencyKey?: string,
  ): Promise<{ order: OrderView; created: boolean }> {
    const requestHash = createHash('sha256').update(JSON.stringify(req)).digest('hex');
    // No read of the idempotency key first: the order's INSERT is the transaction's first statement, so a retry
    // meets the unique key before reserving anything and is answered from the existing order (catch below).
    let checked: Awaited<ReturnType<OrdersService['checkRequest']>>;
    try {
      checked = await this.checkRequest(req);
    } catch (error) {
      // The catalog may have changed since the request that used this key placed its order (a product retired,
      // a currency dropped): the retry still gets that order, not the error a new request would get.
      const existing = idempotencyKey ? await this.byIdempotencyKey(idempotencyKey, requestHash) : undefined;
      if (existing) return { order: existing, created: false };
      throw error;
    }
    const { storeId, stockLocation, priced } = checked;
    const orderId = newOrderId();
    const lineRows: LineRow[] = priced.lines.map((l, i) => ({
      order_id: orderId,
      line_no: i + 1,
      sku: l.sku,
      name: l.name,
      quantity: l.quantity,
      unit_amount: String(l.unitAmount),
      line_total: String(l.lineTotal),
    }));
    const actor = `channel:${req.channel}`;
    let placed: { order: OrderRow; history: HistoryRow } | undefined;
    try {
      await this.withConflictRetry(() =>
        this.uow.run(async (manager) => {
          // The order, its lines and its first history row in one statement; what it returns is the response.
          const [row] = await manager.query<(OrderRow & { h_at: Date })[]>(
            `WITH o AS (
               INSERT INTO orders (id, channel, store_id, customer_id, fulfilment, stock_location_id, currency, total, status, expires_at, idempotency_key, request_hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending_payment', now() + make_interval(secs => $9), $10, $11)
               RETURNING *
             ), l AS (
               INSERT INTO order_lines (order_id, line_no, sku, name, quantity, unit_amount, line_total)
               SELECT $1, l.n, l.sku, l.name, l.quantity, l.unit_amount, l.line_total
                 FROM unnest($12::int[], $13::text[], $14::text[], $15::int[], $16::bigint[], $17::bigint[])
                      AS l(n, sku, name, quantity, unit_amount, line_total)
             ), h AS (
               INSERT INTO order_status_history (order_id, from_status, to_status, reason, actor, message_id)
               VALUES ($1, NULL, 'pending_payment', 'placed', $18, NULL)
               RETURNING at
             )
             SELECT o.*, h.at AS h_at FROM o, h`,
            [
              orderId,
              req.channel,
              storeId,
              req.customerId,
              req.fulfilment,
              stockLocation,
              req.currency,
              priced.total,
              this.config.ORDER_PAYMENT_TTL_S,
              idempotencyKey ?? null,
              requestHash,
              lineRows.map((l) => l.line_no),
              lineRows.map((l) => l.sku),
              lineRows.map((l) => l.name),
              lineRows.map((l) => l.quantity),
              lineRows.map((l) => l.unit_amount),
              lineRows.map((l) => l.line_total),
              actor,
            ],
          );
          if (req.customerId)
            await this.loyalty.registerOrder(manager, {
              orderId,
              customerId: req.customerId,
              currency: req.currency,
              total: priced.total,
            });
          const reserved = await this.inventory.reserve(manager, {
            orderId,
            locationId: stockLocation,
            currency: req.currency,
            total: priced.total,
            lines: priced.lines,
          });
          await this.outbox.addMany(manager, [
            ...reserved.map((data) => ({ definition: StockChanged, data })),
            {
              definition: OrderPlaced,
              data: {
                orderId,
                channel: req.channel,
                storeId: storeId as StoreId,
                customerId: req.customerId as CustomerId | null,
                fulfilment: req.fulfilment,
                lines: priced.lines.map((l) => ({
                  sku: l.sku as Sku,
                  quantity: l.quantity,
                  unitAmount: l.unitAmount,
                })),
                total: priced.total,
                currency: req.currency,
              },
            },
          ]);
          const { h_at, ...order } = row;
          placed = {
            order: order as OrderRow,
            history: { from_status: null, to_status: 'pending_payment', reason: 'placed', actor, at: h_at },
          };
        }),
      );
    } catch (error) {
      if (error instanceof OutOfStockError) {
        checkoutsOutOfStock.inc();
        throw conflict('out_of_stock', error.message, { skus: error.skus, locationId: error.locationId });
      }
      // A retry (or two concurrent ones) with one idempotency key: answered with the order the first one created.
      if (
        idempotencyKey &&
        (error as { code?: string; driverError?: { code?: string } }).driverError?.code === '23505'
      ) {
        const existing = await this.byIdempotencyKey(idempotencyKey, requestHash);
        if (existing) return { order: existing, created: false };
      }
      throw error;
    }
    ordersPlaced.inc({ channel: req.channel });
    // Debug only: OrderPlaced is the record of every placement, and the access log has the request.
    this.logger.pino.debug(
      { orderId, channel: req.channel, storeId, total: priced.total, currency: req.currency },
      'order placed',
    );
    const { order, history } = placed as NonNullable<typeof placed>;
    return { order: toOrderView(order, lineRows, [history]), created: true };
  }

  /**
   * A checkout can deadlock with a consumer committing stock of the same SKUs in another order; Postgres rolls one
   * back. The whole placement is then simply run again (it is one transaction), instead of answering 500.
   */
  private async withConflictRetry<T>(work: () => Promise<T>, attempts = 3): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (attempt >= attempts || !isRetryableConflict(error)) throw error;
        await new Promise((r) => setTimeout(r, 10 * attempt + Math.random() * 20));
      }
    }
  }

  async get(id: string, manager: EntityManager = this.dataSource.manager): Promise<OrderView | undefined> {
    const [order] = await manager.query<OrderRow[]>('SELECT * FROM orders WHERE id = $1', [id]);
    if (!order) return undefined;
    const lines = await manager.query<LineRow[]>(
      'SELECT * FROM order_lines WHERE order_id = $1 ORDER BY line_no',
      [id],
    );
    const history = await manager.query<HistoryRow[]>(
      'SELECT * FROM order_status_history WHERE order_id = $1 ORDER BY id',
      [id],
    );
    return toOrderView(order, lines, history);
  }

  async getOrThrow(id: string): Promise<OrderView> {
    const order = await this.get(id);
    if (!order) throw notFound('order', id);
    return order;
  }

  /** Newest first, keyset-paged: `before` is the `nextCursor` of the previous page. */
  async list(filter: {
    customerId?: string;
    storeId?: string;
    statuses?: OrderStatus[];
    limit: number;
    before?: string;
  }) {
    const cursor = filter.before ? decodeCursor(filter.before) : null;
    const rows = await this.dataSource.query<OrderRow[]>(
      `SELECT * FROM orders
        WHERE ($1::text IS NULL OR customer_id = $1)
          AND ($2::text IS NULL OR store_id = $2)
          AND ($3::text[] IS NULL OR status = ANY($3::text[]))
          AND ($4::timestamptz IS NULL OR (created_at, id) < ($4::timestamptz, $5::text))
        ORDER BY created_at DESC, id DESC LIMIT $6`,
      [
        filter.customerId ?? null,
        filter.storeId ?? null,
        filter.statuses ?? null,
        cursor?.at ?? null,
        cursor?.id ?? null,
        filter.limit + 1,
      ],
    );
    const page = rows.slice(0, filter.limit);
    const lines = page.length
      ? await this.dataSource.query<LineRow[]>(
          'SELECT * FROM order_lines WHERE order_id = ANY($1::text[]) ORDER BY order_id, line_no',
          [page.map((o) => o.id)],
        )
      : [];
    const last = page[page.length - 1];
    return {
      orders: page.map((o) =>
        toOrderView(
          o,
          lines.filter((l) => l.order_id === o.id),
        ),
      ),
      nextCursor: rows.length > filter.limit && last ? encodeCursor(last.created_at, last.id) : null,
    };
  }

  /** A staff action (or cancel): checked against the transition table; cancel also releases the stock. */
  async staffTransition(
    id: string,
    to: OrderStatus,
    actor: string,
    reason: string | null,
  ): Promise<OrderView> {
    await this.withConflictRetry(() =>
      this.uow.run(async (manager) => {
        const order = await this.lock(manager, id);
        if (!order) throw notFound('order', id);
        if (!canTransition(order.status, to, order.fulfilment)) {
          throw new ApiError(
            HttpStatus.CONFLICT,
            'illegal_transition',
            `an order in ${order.status} cannot become ${to}`,
            {
              from: order.status,
              to,
              fulfilment: order.fulfilment,
            },
          );
        }
        // A flagged payment leaves `payment_mismatch` by a refund only, and a partial refund (or a refund that
        // failed) makes it look fulfillable: the goods must not leave for an order paid short.
        if (FULFILLING.includes(to) && !paidInFull(order)) {
          throw new ApiError(
            HttpStatus.CONFLICT,
            'payment_mismatch',
            `the order's payment (${String(order.amount_paid)} ${String(order.paid_currency)}) does not match its total (${order.total} ${order.currency}); it cannot be ${to}, only refunded`,
            { to, amountPaid: order.amount_paid === null ? null : Number(order.amount_paid), paidCurrency: order.paid_currency },
          );
        }
        await this.transition(manager, order, { to, reason, actor });
        if (to === 'cancelled') await this.inventory.release(manager, id, reason ?? 'cancelled');
      }),
    );
    return this.getOrThrow(id);
  }

  /** Cancels unpaid orders past their deadline, a batch at a time; replicas share the work (SKIP LOCKED). */
  async expireDue(batch = 100): Promise<number> {
    return this.uow.run(async (manager) => {
      const due = await manager.query<OrderRow[]>(
        `SELECT * FROM orders
          WHERE status = ANY($1::text[]) AND expires_at <= now() AND payment_status IS DISTINCT FROM 'authorized'
          ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [UNPAID, batch],
      );
      for (const order of due) {
        await this.transition(manager, order, {
          to: 'cancelled',
          reason: 'payment_expired',
          actor: 'system:expiry',
        });
        await this.inventory.release(manager, order.id, 'payment_expired');
      }
      if (due.length > 0) this.logger.pino.info({ orders: due.map((o) => o.id) }, 'unpaid orders expired');
      return due.length;
    });
  }

  async lock(manager: EntityManager, id: string): Promise<OrderRow | undefined> {
    const [order] = await manager.query<OrderRow[]>('SELECT * FROM orders WHERE id = $1 FOR UPDATE', [id]);
    return order;
  }

  /** Locks the orders a chunk of payment events names, in id order (the order every consumer chunk locks in). */
  async lockPaymentStates(manager: EntityManager, ids: string[]): Promise<Map<string, OrderPaymentState>> {
    const rows = await manager.query<OrderRow[]>(
      'SELECT * FROM orders WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, toPaymentState(r)]));
  }

  /**
   * Writes what a chunk of payment events decided, in one statement of data-modifying CTEs whatever its size (one
   * round trip; the parts are different tables): the orders' final payment facts and status, their history rows
   * (in the order the transitions happened) and `OrderStatusChanged` for each transition, caused by its own payment
   * event.
   */
  async applyPaymentPlan(manager: EntityManager, plan: OrdersPaymentPlan): Promise<void> {
    const parts: Statement[] = [];
    const c = plan.changed;
    if (c.length > 0) {
      parts.push({
        sql: `UPDATE orders o SET status = v.status, payment_id = v.payment_id, payment_intent_id = v.payment_intent_id,
                     payment_status = v.payment_status, amount_paid = v.amount_paid, paid_currency = v.paid_currency,
                     amount_captured = v.amount_captured, amount_refunded = v.amount_refunded,
                     last_payment_error = v.last_payment_error::jsonb, dispute_id = v.dispute_id,
                     dispute_status = v.dispute_status, refund_seq = v.refund_seq, updated_at = now()
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
                            $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::int[])
                     AS v(id, status, payment_id, payment_intent_id, payment_status, amount_paid, paid_currency,
                          amount_captured, amount_refunded, last_payment_error, dispute_id, dispute_status, refund_seq)
               WHERE o.id = v.id`,
        params: [
          c.map((o) => o.id),
          c.map((o) => o.status),
          c.map((o) => o.payment_id),
          c.map((o) => o.payment_intent_id),
          c.map((o) => o.payment_status),
          c.map((o) => o.amount_paid),
          c.map((o) => o.paid_currency),
          c.map((o) => o.amount_captured),
          c.map((o) => o.amount_refunded),
          c.map((o) => (o.last_payment_error === null ? null : JSON.stringify(o.last_payment_error))),
          c.map((o) => o.dispute_id),
          c.map((o) => o.dispute_status),
          c.map((o) => o.refund_seq),
        ],
      });
    }
    const t = plan.transitions;
    if (t.length > 0) {
      parts.push({
        sql: `INSERT INTO order_status_history (order_id, from_status, to_status, reason, actor, message_id)
              SELECT h.order_id, h.from_status, h.to_status, h.reason, 'payments', h.message_id
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::uuid[])
                     WITH ORDINALITY AS h(order_id, from_status, to_status, reason, message_id, n)
               ORDER BY h.n`,
        params: [
          t.map((x) => x.orderId),
          t.map((x) => x.from),
          t.map((x) => x.to),
          t.map((x) => x.reason),
          t.map((x) => x.cause.id),
        ],
      });
    }
    // One INSERT for every message, in the order things happened (`paid` before the duplicate it makes): the CTEs of
    // one statement run in no set order, so two inserts could number them the other way round.
    const outbox = this.outbox.insertion(manager, [
      ...t.map((x) => ({
        definition: OrderStatusChanged,
        data: { orderId: x.orderId as OrderId, from: x.from, to: x.to, reason: x.reason },
        opts: causedBy(x.cause),
      })),
      ...plan.duplicates.map((x) => ({
        definition: OrderPaymentDuplicated,
        data: {
          orderId: x.orderId as OrderId,
          paymentId: x.paymentId,
          paymentIntentId: x.paymentIntentId,
          keptPaymentId: x.keptPaymentId,
          amount: x.amount,
          currency: x.currency,
        },
        opts: causedBy(x.cause),
      })),
    ]);
    if (outbox) parts.push(outbox);
    if (parts.length === 0) return;
    const { sql, params } = together(parts);
    await manager.query(sql, params);
  }

  /** The only place a status changes: table check, update, history row and `OrderStatusChanged`, in the caller's transaction. */
  async transition(manager: EntityManager, order: OrderRow, t: Transition): Promise<boolean> {
    if (order.status === t.to) return false;
    if (!canTransition(order.status, t.to, order.fulfilment as Fulfilment)) return false;
    await manager.query('UPDATE orders SET status = $2, updated_at = now() WHERE id = $1', [order.id, t.to]);
    await this.history(manager, order.id, order.status, t);
    await this.outbox.add(manager, OrderStatusChanged, {
      orderId: order.id as OrderId,
      from: order.status,
      to: t.to,
      reason: t.reason,
    });
    order.status = t.to;
    return true;
  }

  private async history(
    manager: EntityManager,
    orderId: string,
    from: OrderStatus | null,
    t: Transition,
  ): Promise<void> {
    await manager.query(
      `INSERT INTO order_status_history (order_id, from_status, to_status, reason, actor, message_id) VALUES ($1, $2, $3, $4, $5, $6)`,
      [orderId, from, t.to, t.reason, t.actor, t.messageId ?? null],
    );
  }

  /** Store, fulfilment, currency and prices of a request, from the catalog; a 400 for what cannot be sold. */
  private async checkRequest(req: PlaceOrderRequest) {
    const storeId = req.storeId ?? this.config.ONLINE_FULFILMENT_LOCATION;
    const store = await this.catalog.checkoutLocation(storeId);
    if (!store) throw badRequest('unknown_store', `store ${storeId} does not exist`);
    if (req.fulfilment !== 'ship' && store.kind !== 'store') {
      throw badRequest(
        'invalid_store',
        `${req.fulfilment} orders need a physical store; ${storeId} is a ${store.kind} location`,
      );
    }
    // Online orders ship from the fulfilment centre; pickup and in-store orders take the store's own stock.
    const stockLocation = req.fulfilment === 'ship' ? this.config.ONLINE_FULFILMENT_LOCATION : storeId;
    if (!(await this.catalog.checkoutCurrencies()).has(req.currency)) {
      throw badRequest('unsupported_currency', `currency ${req.currency} is not sold`);
    }
    const prices = await this.catalog.checkoutPrices(
      req.lines.map((l) => l.sku),
      req.currency,
    );
    const priced = priceLines(req.lines, prices);
    if (!priced.ok) {
      throw badRequest(
        'unknown_sku',
        `unknown SKU(s) or no ${req.currency} price: ${priced.unknownSkus.join(', ')}`,
        { skus: priced.unknownSkus },
      );
    }
    return { storeId, stockLocation, priced };
  }

  private async byIdempotencyKey(key: string, requestHash: string): Promise<OrderView | undefined> {
    const [row] = await this.dataSource.query<{ id: string; request_hash: string }[]>(
      'SELECT id, request_hash FROM orders WHERE idempotency_key = $1',
      [key],
    );
    if (!row) return undefined;
    if (row.request_hash !== requestHash) {
      throw new ApiError(
        HttpStatus.UNPROCESSABLE_ENTITY,
        'idempotency_key_reused',
        'this Idempotency-Key was used with a different request',
      );
    }
    return this.get(row.id);
  }
}

function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([new Date(at).toISOString(), id])).toString('base64url');
}

function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    if (typeof at !== 'string' || typeof id !== 'string' || Number.isNaN(Date.parse(at)))
      throw new Error('bad cursor');
    return { at, id };
  } catch {
    throw badRequest('invalid_cursor', 'before must be a nextCursor returned by this API');
  }
}

/** Staff transitions that hand the goods over. */
const FULFILLING: readonly OrderStatus[] = ['ready_for_pickup', 'fulfilled', 'completed'];

/** The payment the order kept is its total in its currency (the rule of `paymentMatches`, on what was recorded). */
function paidInFull(order: { total: string | number; currency: string; amount_paid: string | number | null; paid_currency: string | null }): boolean {
  return order.amount_paid !== null && Number(order.amount_paid) === Number(order.total) && order.paid_currency === order.currency;
}
