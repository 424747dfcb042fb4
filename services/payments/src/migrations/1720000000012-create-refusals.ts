import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Why Stripe refused for good to create a payment's PaymentIntent (`{code, message, at}`), so the cancellation
 * worker stops waiting for a PaymentIntent that will not come.
 */
export class CreateRefusals1720000000012 implements MigrationInterface {
  name = 'CreateRefusals1720000000012';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE payments ADD COLUMN create_refused jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE payments DROP COLUMN create_refused`);
  }
}
