import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Payments that paid an order a second time, as the orders service told it (`order.payment_duplicated`): recorded
 * in the consumer's transaction, refunded at Stripe by a worker outside it (decision 0018).
 */
export class DuplicatePaymentRefunds1720000000010 implements MigrationInterface {
  name = 'DuplicatePaymentRefunds1720000000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS duplicate_payment_refunds (
        payment_id text PRIMARY KEY,
        order_id text NOT NULL,
        kept_payment_id text,
        cause_message_id text NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        done_at timestamptz,
        outcome text
      )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS duplicate_payment_refunds_due ON duplicate_payment_refunds (next_attempt_at) WHERE done_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS duplicate_payment_refunds`);
  }
}
