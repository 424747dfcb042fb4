import { createIndexConcurrently, dropIndexConcurrently } from '@omnipay/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Lets the retention sweeper find old rows by age without reading whole tables (decision 0015). */
export class RetentionIndexes1720000000005 implements MigrationInterface {
  name = 'RetentionIndexes1720000000005';
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await createIndexConcurrently(q, 'applied_stripe_events_applied_at', 'applied_stripe_events', ['applied_at']);
    await createIndexConcurrently(q, 'idempotent_requests_created_at', 'idempotent_requests', ['created_at']);
  }

  async down(q: QueryRunner): Promise<void> {
    await dropIndexConcurrently(q, 'idempotent_requests_created_at');
    await dropIndexConcurrently(q, 'applied_stripe_events_applied_at');
  }
}
