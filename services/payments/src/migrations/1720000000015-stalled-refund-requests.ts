import { createIndexConcurrently, dropIndexConcurrently } from '@omnipay/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The janitor's look for refund requests Stripe never answered reads these few rows, not every refund request. */
export class StalledRefundRequests1720000000015 implements MigrationInterface {
  name = 'StalledRefundRequests1720000000015';
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await createIndexConcurrently(
      q,
      'refund_requests_unanswered',
      'refund_requests',
      ['updated_at'],
      `status = 'pending' AND refund_id IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await dropIndexConcurrently(q, 'refund_requests_unanswered');
  }
}
