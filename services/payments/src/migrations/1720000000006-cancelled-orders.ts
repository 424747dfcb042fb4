import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Orders payments was told are cancelled (a repeated create for one is refused), and how many times Stripe refused
 * a request's cancel (the cap counts refusals, not waits or outages). Decision 0014.
 */
export class CancelledOrders1720000000006 implements MigrationInterface {
  name = 'CancelledOrders1720000000006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS cancelled_orders (
        order_id text PRIMARY KEY,
        reason text,
        cause_message_id text NOT NULL,
        cancelled_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`ALTER TABLE payment_cancellations ADD COLUMN IF NOT EXISTS refusals int NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE payment_cancellations DROP COLUMN IF EXISTS refusals`);
    await q.query(`DROP TABLE IF EXISTS cancelled_orders`);
  }
}
