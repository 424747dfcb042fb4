import { createIndexConcurrently, dropIndexConcurrently } from '@omnipay/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The cancellation worker looks at the orders cancelled in the last minutes for payments created in a race with
 * the cancellation (decision 0014): by time, without reading every order ever cancelled.
 */
export class CancelledOrdersRecent1720000000009 implements MigrationInterface {
  name = 'CancelledOrdersRecent1720000000009';
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await createIndexConcurrently(q, 'cancelled_orders_cancelled_at', 'cancelled_orders', ['cancelled_at']);
  }

  async down(q: QueryRunner): Promise<void> {
    await dropIndexConcurrently(q, 'cancelled_orders_cancelled_at');
  }
}
