import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Orders1710000000200 implements MigrationInterface {
  name = 'Orders1710000000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE orders (
        id                text PRIMARY KEY,
        channel           text NOT NULL CHECK (channel IN ('app', 'web', 'pos')),
        store_id          text NOT NULL,
        customer_id       text,
        fulfilment        text NOT NULL CHECK (fulfilment IN ('ship', 'pickup', 'in_store')),
        stock_location_id text NOT NULL,
        currency          text NOT NULL,
        total             bigint NOT NULL CHECK (total > 0),
        status            text NOT NULL,
        expires_at        timestamptz NOT NULL,
        idempotency_key   text UNIQUE,
        request_hash      text,
        payment_id        text,
        payment_intent_id text,
        payment_status    text,
        amount_paid       bigint,
        paid_currency     text,
        amount_captured   bigint,
        amount_refunded   bigint NOT NULL DEFAULT 0,
        last_payment_error jsonb,
        dispute_id        text,
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE INDEX orders_by_customer ON orders (customer_id, created_at DESC, id DESC) WHERE customer_id IS NOT NULL`,
    );
    await q.query(`CREATE INDEX orders_by_store ON orders (store_id, status, created_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX orders_unpaid ON orders (expires_at) WHERE status IN ('pending_payment', 'payment_failed')`,
    );
    await q.query(`
      CREATE TABLE order_lines (
        order_id    text NOT NULL REFERENCES orders (id),
        line_no     int NOT NULL,
        sku         text NOT NULL,
        name        text NOT NULL,
        quantity    int NOT NULL CHECK (quantity > 0),
        unit_amount bigint NOT NULL,
        line_total  bigint NOT NULL,
        PRIMARY KEY (order_id, line_no)
      )`);
    await q.query(`
      CREATE TABLE order_status_history (
        id          bigserial PRIMARY KEY,
        order_id    text NOT NULL REFERENCES orders (id),
        from_status text,
        to_status   text NOT NULL,
        reason      text,
        actor       text NOT NULL,
        message_id  uuid,
        at          timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await q.query(`CREATE INDEX order_history_by_order ON order_status_history (order_id, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE order_status_history; DROP TABLE order_lines; DROP TABLE orders');
  }
}

/** How a dispute of the order's payment ended (`open` until `payment.dispute_closed`). */
export class OrdersDisputeStatus1710000000600 implements MigrationInterface {
  name = 'OrdersDisputeStatus1710000000600';

  async up(q: QueryRunner): Promise<void> {
    // Disputes recorded before this column have no known outcome: left NULL, not guessed `open`.
    await q.query(`ALTER TABLE orders ADD COLUMN dispute_status text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE orders DROP COLUMN dispute_status');
  }
}

/** The `refundSeq` of the last refund fact applied: an older one arriving late cannot move the total (decision 0011). */
export class OrdersRefundSeq1710000000800 implements MigrationInterface {
  name = 'OrdersRefundSeq1710000000800';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE orders ADD COLUMN refund_seq int NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE orders DROP COLUMN refund_seq');
  }
}
