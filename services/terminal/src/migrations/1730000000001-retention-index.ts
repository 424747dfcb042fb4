import { createIndexConcurrently, dropIndexConcurrently } from '@omnipay/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Lets the retention sweeper find old applied-event ids by age without reading the table (decision 0015). */
export class RetentionIndex1730000000001 implements MigrationInterface {
  name = 'RetentionIndex1730000000001';
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await createIndexConcurrently(q, 'applied_stripe_events_applied_at', 'applied_stripe_events', ['applied_at']);
  }

  async down(q: QueryRunner): Promise<void> {
    await dropIndexConcurrently(q, 'applied_stripe_events_applied_at');
  }
}
