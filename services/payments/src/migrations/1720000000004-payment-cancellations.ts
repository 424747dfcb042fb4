import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * PaymentIntents to cancel because their order was cancelled (by the customer, by staff, or because it expired
 * unpaid): recorded in the consumer's transaction, cancelled at Stripe by a worker outside it (decision 0014).
 */
export class PaymentCancellations1720000000004 implements MigrationInterface {
  name = 'PaymentCancellations1720000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE payment_cancellations (
        payment_id text PRIMARY KEY REFERENCES payments (id),
        order_id text NOT NULL,
        order_reason text,
        cause_message_id text NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        done_at timestamptz,
        outcome text
      )`);
    await q.query(
      `CREATE INDEX payment_cancellations_due ON payment_cancellations (next_attempt_at) WHERE done_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS payment_cancellations`);
  }
}
