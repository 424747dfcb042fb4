import { appendOnly, appendOnlyDown } from '@omnipay/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Finance's entries are facts already published: they are never edited or deleted, only added to. */
export class AppendOnlyEntries1720000000003 implements MigrationInterface {
  name = 'AppendOnlyEntries1720000000003';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of appendOnly('reconciliation_entries')) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of appendOnlyDown('reconciliation_entries')) await q.query(sql);
  }
}
