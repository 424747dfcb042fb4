import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a consumer group dead-lettered, kept beside its inbox so an operator can read it and, once the cause is
 * fixed, apply it again through the same group (decision 0021). The DLQ topic stays the notification; this table is
 * what a redrive reads, so it needs no consumer of the DLQ.
 */
export class MessagingDeadLetters1700000000020 implements MigrationInterface {
  name = 'MessagingDeadLetters1700000000020';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE dead_letters (
        consumer_group   text NOT NULL,
        message_id       uuid NOT NULL,
        topic            text NOT NULL,
        partition        int NOT NULL,
        "offset"         text NOT NULL,
        message_type     text NOT NULL,
        key              text,
        payload          text NOT NULL,
        headers          jsonb NOT NULL DEFAULT '{}',
        reason           text NOT NULL,
        attempts         int NOT NULL,
        dead_lettered_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        redriven_at      timestamptz,
        PRIMARY KEY (consumer_group, message_id)
      )`);
    await q.query(`CREATE INDEX dead_letters_pending ON dead_letters (consumer_group, dead_lettered_at) WHERE redriven_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE dead_letters');
  }
}
