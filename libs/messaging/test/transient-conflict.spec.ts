import { Client } from 'pg';
import { engines, eventually } from '@omnipay/testing';
import { metricValue, recordedLedgerWorld } from './ledger-fixture';

/**
 * F-DB-06: a consumer's transaction chosen as a deadlock victim (40P01) is the chunk's bad luck, not its message's
 * fault: the chunk is redone and applied once, and nothing is retried as a failing handler or dead-lettered.
 */
describe('a consumer chunk that loses a deadlock', () => {
  const { world, db, start } = recordedLedgerWorld('deadlock', 'topic');

  it('is redone and applied once when PostgreSQL aborts it as a deadlock victim', async () => {
    // PostgreSQL looks for a deadlock once, deadlock_timeout after a session starts waiting: 2 s in the consumer's
    // sessions (under its 5 s lock_timeout, which would end the wait first) leaves this test time to make the cycle
    // on a loaded machine, and 60 s in the other transaction makes the consumer's session the one that finds it.
    const url = new URL(engines().databaseUrl);
    url.searchParams.set('options', '-c deadlock_timeout=2s');
    const ledger = await start({
      KAFKA_TOPIC_PARTITIONS: '1',
      CONSUMER_MAX_ATTEMPTS: '2',
      CONSUMER_RETRY_BACKOFF_MS: '20',
      DATABASE_URL: url.toString(),
    });
    const s = world.schema;
    await db.query(`INSERT INTO ${s}.fixture_balances (customer_id, balance) VALUES ('dl-x', 100)`);
    const deadlocks = () => db.scalar<number>('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()');
    const before = await deadlocks();

    // Another transaction holds dl-x's balance.
    const other = new Client({ connectionString: engines().databaseUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SET LOCAL deadlock_timeout = '60s'`);
      await other.query(`UPDATE ${s}.fixture_balances SET balance = balance WHERE customer_id = 'dl-x'`);
      const [{ pid }] = (await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      const grant = await ledger.post<{ messageIds: string[] }>('/grants', { customerIds: ['dl-x'], points: 5 });
      const [messageId] = grant.body.messageIds;
      // The consumer has recorded the message in its inbox (uncommitted) and waits for dl-x.
      await eventually(
        () => db.scalar<number>('SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid]),
        (n) => n >= 1,
        { what: 'the consumer waiting for dl-x' },
      );
      // Now the other transaction wants the consumer's inbox row: a deadlock, and the consumer's side gives way.
      await other.query(
        `INSERT INTO ${s}.inbox (consumer_group, message_id, topic, message_type, outcome) VALUES ($1, $2, 'x', 'x', 'applied')`,
        [world.groupId, messageId],
      );
      // Rolled back, so the redo finds the message new again.
      await other.query('ROLLBACK');

      await eventually(
        () => db.scalar<number>(`SELECT count(*) FROM ${s}.fixture_effects`),
        (n) => n === 1,
        { what: 'the grant applied after the redo' },
      );
      // It was a deadlock (the statistics reach the view within a second or so).
      await eventually(deadlocks, (n) => n > before, { what: 'PostgreSQL to count the deadlock' });
      expect(await db.scalar(`SELECT balance FROM ${s}.fixture_balances WHERE customer_id = 'dl-x'`)).toBe(105);
      expect(await db.query(`SELECT message_id, outcome FROM ${s}.inbox`)).toEqual([{ message_id: messageId, outcome: 'applied' }]);
      expect(await db.scalar(`SELECT count(*) FROM ${s}.dead_letters`)).toBe(0);
      expect(ledger.logs.filter((l) => l.includes('message handler failed'))).toEqual([]);
      // Redone as a conflict, not as a failing message (which would go through the careful, per-message path).
      const metrics = (await ledger.get('/metrics')).text;
      expect(metricValue(metrics, 'kafka_consumer_chunk_redos_total', { group: world.groupId, reason: 'transient_conflict' })).toBeGreaterThanOrEqual(1);
      expect(metricValue(metrics, 'kafka_consumer_chunk_redos_total', { group: world.groupId, reason: 'handler_failed' })).toBe(0);
    } finally {
      await other.query('ROLLBACK').catch(() => undefined);
      await other.end();
    }
  });
});
