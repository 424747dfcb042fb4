import { appendOnly, appendOnlyDown } from '@omnipay/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Loyalty1710000000400 implements MigrationInterface {
  name = 'Loyalty1710000000400';

  async up(q: QueryRunner): Promise<void> {
    // Loyalty's own view of an order (copied at placement): who earns, what payment is expected, and the absolute
    // payment facts seen so far, from which the points owed are recomputed whatever order events arrive in.
    await q.query(`
      CREATE TABLE loyalty_orders (
        order_id         text PRIMARY KEY,
        customer_id      text NOT NULL,
        currency         text NOT NULL,
        expected_total   bigint NOT NULL,
        payment_id       text,
        paid_amount      bigint,
        mismatch         boolean NOT NULL DEFAULT false,
        accrued_points   int,
        total_refunded   bigint NOT NULL DEFAULT 0,
        disputed_amount  bigint NOT NULL DEFAULT 0,
        updated_at       timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE loyalty_entries (
        id          bigserial PRIMARY KEY,
        customer_id text NOT NULL,
        order_id    text NOT NULL,
        reason      text NOT NULL CHECK (reason IN ('accrual', 'refund_reversal', 'dispute_reversal')),
        source_ref  text NOT NULL,
        points      int NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
        UNIQUE (order_id, reason, source_ref)
      )`);
    // At most one accrual per order, whatever payment or message it came from.
    await q.query(
      `CREATE UNIQUE INDEX loyalty_one_accrual_per_order ON loyalty_entries (order_id) WHERE reason = 'accrual'`,
    );
    await q.query(`CREATE INDEX loyalty_entries_by_customer ON loyalty_entries (customer_id, id)`);
    // Running balance, kept equal to the ledger sum in the same statement that appends the entry; its row lock
    // also serialises a customer's entries so the balance in each PointsChanged is exact.
    await q.query(`
      CREATE TABLE loyalty_accounts (
        customer_id text PRIMARY KEY,
        balance     int NOT NULL DEFAULT 0,
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE loyalty_accounts; DROP TABLE loyalty_entries; DROP TABLE loyalty_orders');
  }
}

/** How a dispute of the order's payment ended: a won dispute gives the reversed points back, once. */
export class LoyaltyDisputeOutcome1710000000700 implements MigrationInterface {
  name = 'LoyaltyDisputeOutcome1710000000700';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE loyalty_orders ADD COLUMN dispute_outcome text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE loyalty_orders DROP COLUMN dispute_outcome');
  }
}

/** As `OrdersRefundSeq1710000000800`, for the points: a late refund fact cannot take points back twice. */
export class LoyaltyRefundSeq1710000000900 implements MigrationInterface {
  name = 'LoyaltyRefundSeq1710000000900';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE loyalty_orders ADD COLUMN refund_seq int NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE loyalty_orders DROP COLUMN refund_seq');
  }
}

/** The points ledger is append-only: a reversal is a new entry, never an edit (the balance is the sum). */
export class LoyaltyAppendOnly1710000001000 implements MigrationInterface {
  name = 'LoyaltyAppendOnly1710000001000';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of appendOnly('loyalty_entries')) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of appendOnlyDown('loyalty_entries')) await q.query(sql);
  }
}
