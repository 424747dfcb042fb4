import { createIndexConcurrently, dropIndexConcurrently } from '@omnipay/persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit (decision 0016) tells the platform's transactions by their PaymentIntent and a refund still pending by
 * its status, both read from Stripe's expanded source; a request during a run asks for one more run; orders paid
 * twice are found through their charge entries (an index, not a read of every entry ever written).
 */
export class ReconciliationAuditSources1720000000008 implements MigrationInterface {
  name = 'ReconciliationAuditSources1720000000008';
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE reconciliation_audit_stripe_txns ADD COLUMN IF NOT EXISTS payment_intent_id text`);
    await q.query(`ALTER TABLE reconciliation_audit_stripe_txns ADD COLUMN IF NOT EXISTS source_status text`);
    await q.query(`ALTER TABLE reconciliation_audits ADD COLUMN IF NOT EXISTS rerun_requested boolean NOT NULL DEFAULT false`);
    await createIndexConcurrently(q, 'reconciliation_entries_order', 'reconciliation_entries', ['order_id']);
  }

  async down(q: QueryRunner): Promise<void> {
    await dropIndexConcurrently(q, 'reconciliation_entries_order');
    await q.query(`ALTER TABLE reconciliation_audits DROP COLUMN IF EXISTS rerun_requested`);
    await q.query(`ALTER TABLE reconciliation_audit_stripe_txns DROP COLUMN IF EXISTS source_status`);
    await q.query(`ALTER TABLE reconciliation_audit_stripe_txns DROP COLUMN IF EXISTS payment_intent_id`);
  }
}
