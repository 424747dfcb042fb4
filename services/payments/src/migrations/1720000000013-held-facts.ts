import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Refund and dispute facts of a payment whose success was not announced yet, kept back as the outbox rows they
 * will be, in the order they were decided, until `payment.succeeded` is written; then moved to the outbox behind it.
 */
export class HeldFacts1720000000013 implements MigrationInterface {
  name = 'HeldFacts1720000000013';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE held_facts (
        seq        bigserial PRIMARY KEY,
        payment_id text NOT NULL REFERENCES payments (id),
        id         uuid NOT NULL UNIQUE,
        topic      text NOT NULL,
        key        text NOT NULL,
        payload    text NOT NULL,
        headers    jsonb NOT NULL DEFAULT '{}',
        held_at    timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await q.query(`CREATE INDEX held_facts_payment ON held_facts (payment_id, seq)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE held_facts`);
  }
}
