import type { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently, dropIndexConcurrently } from './concurrent-index';

/**
 * Lets the retention sweeper find old inbox records without reading the table (decision 0015). The outbox needs no
 * index: the sweeper looks at its oldest rows by `seq`. Built concurrently: the inbox of a running system is large.
 */
export class MessagingRetention1700000000010 implements MigrationInterface {
  name = 'MessagingRetention1700000000010';
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await createIndexConcurrently(q, 'inbox_processed_at', 'inbox', ['processed_at']);
  }

  async down(q: QueryRunner): Promise<void> {
    await dropIndexConcurrently(q, 'inbox_processed_at');
  }
}
