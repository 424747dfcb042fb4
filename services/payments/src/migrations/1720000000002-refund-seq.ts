import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A counter of a payment's refund facts. Each `payment.refunded` and `payment.refund_failed` carries the next value,
 * decided under the payment's row lock, so consumers can apply refunded totals in the order payments decided them
 * whatever order the messages arrive in (decision 0011).
 */
export class RefundSeq1720000000002 implements MigrationInterface {
  name = 'RefundSeq1720000000002';

  async up(q: QueryRunner): Promise<void> {
    // A constant default: PostgreSQL adds the column without rewriting the table.
    await q.query(`ALTER TABLE payments ADD COLUMN refund_seq int NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE payments DROP COLUMN IF EXISTS refund_seq`);
  }
}
