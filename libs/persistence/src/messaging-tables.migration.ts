import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox and inbox every service has. Unqualified names: the connection's search_path is the service schema.
 * Payload is text, not jsonb: it is published byte for byte and never queried.
 */
export class MessagingTables1700000000000 implements MigrationInterface {
  name = 'MessagingTables1700000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE outbox (
        seq          bigserial PRIMARY KEY,
        id           uuid NOT NULL UNIQUE,
        topic        text NOT NULL,
        key          text NOT NULL,
        payload      text NOT NULL,
        headers      jsonb NOT NULL DEFAULT '{}',
        created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
        published_at timestamptz
      )`);
    await q.query(`CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL`);
    await q.query(`
      CREATE TABLE inbox (
        consumer_group text NOT NULL,
        message_id     uuid NOT NULL,
        topic          text NOT NULL,
        message_type   text NOT NULL,
        outcome        text NOT NULL,
        processed_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (consumer_group, message_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE inbox');
    await q.query('DROP TABLE outbox');
  }
}
