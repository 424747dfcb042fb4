import type { EntityManager } from 'typeorm';

/** An order that became `cancelled`, as `orders.events.v1` told it. */
export interface CancelledOrder {
  orderId: string;
  reason: string | null;
  messageId: string;
}

/**
 * Remembers the orders as cancelled and records a cancellation request for every payment of theirs that could
 * still take money. A repeated order event adds nothing (one row per order, one request per payment).
 */
export async function recordCancelledOrders(m: EntityManager, orders: CancelledOrder[]): Promise<number> {
  if (orders.length === 0) return 0;
  const rows = await m.query<{ payment_id: string }[]>(
    `WITH o AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS o(order_id, reason, message_id)),
          remembered AS (
            INSERT INTO cancelled_orders (order_id, reason, cause_message_id)
            SELECT order_id, reason, message_id FROM o ON CONFLICT (order_id) DO NOTHING)
     INSERT INTO payment_cancellations (payment_id, order_id, order_reason, cause_message_id)
     SELECT p.id, p.order_id, o.reason, o.message_id
       FROM o JOIN payments p ON p.order_id = o.order_id
      WHERE p.status NOT IN ('succeeded', 'canceled')
     ON CONFLICT (payment_id) DO NOTHING
     RETURNING payment_id`,
    [orders.map((o) => o.orderId), orders.map((o) => o.reason), orders.map((o) => o.messageId)],
  );
  return rows.length;
}

/**
 * For a payment of an order that was cancelled: makes sure a cancellation request exists for it (a payment created
 * after payments heard of the cancellation has none) and returns true; false if the order was not cancelled.
 */
export async function requestIfOrderCancelled(m: EntityManager, paymentId: string, orderId: string): Promise<boolean> {
  const rows = await m.query<{ cancelled: boolean }[]>(
    `WITH c AS (SELECT * FROM cancelled_orders WHERE order_id = $2),
          requested AS (
            INSERT INTO payment_cancellations (payment_id, order_id, order_reason, cause_message_id)
            SELECT $1, c.order_id, c.reason, c.cause_message_id FROM c
            -- Settled as never created (Stripe had refused the create), and a repeat created it after all: again.
            ON CONFLICT (payment_id) DO UPDATE SET done_at = NULL, outcome = NULL, next_attempt_at = now()
              WHERE payment_cancellations.outcome = 'never_created')
     SELECT EXISTS (SELECT 1 FROM c) AS cancelled`,
    [paymentId, orderId],
  );
  return rows[0]?.cancelled === true;
}

/**
 * Requests the cancellation of open payments of orders cancelled in the last `withinMs` that have none: a create
 * that raced the cancellation (its insert did not see the order cancelled yet, the consumer did not see the
 * payment yet). Returns how many it found.
 */
export async function requestForRaces(m: EntityManager, withinMs: number): Promise<number> {
  const rows = await m.query<{ payment_id: string }[]>(
    `INSERT INTO payment_cancellations (payment_id, order_id, order_reason, cause_message_id)
     SELECT p.id, p.order_id, c.reason, c.cause_message_id
       FROM cancelled_orders c JOIN payments p ON p.order_id = c.order_id
      WHERE c.cancelled_at > now() - $1 * interval '1 millisecond' AND p.status NOT IN ('succeeded', 'canceled')
        -- Only a payment inserted while the consumer's transaction ran can have been missed by it.
        AND p.created_at >= c.cancelled_at - interval '1 minute'
        AND NOT EXISTS (SELECT 1 FROM payment_cancellations pc WHERE pc.payment_id = p.id)
     ON CONFLICT (payment_id) DO NOTHING
     RETURNING payment_id`,
    [withinMs],
  );
  return rows.length;
}
