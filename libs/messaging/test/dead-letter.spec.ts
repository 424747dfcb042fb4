import { eventually } from '@omnipay/testing';
import { recordedLedgerWorld } from './ledger-fixture';

describe.each(['message', 'batch'])('dead-letter topic (%s handler)', (mode) => {
  const { world, db, recorder, start } = recordedLedgerWorld(`poison_${mode}`, 'dlqTopic');

  it('parks a poison message after the configured attempts and applies the messages behind it', async () => {
    // One partition: the good messages are strictly behind the poison one.
    const ledger = await start({
      FIXTURE_CONSUMER: mode,
      KAFKA_TOPIC_PARTITIONS: '1', CONSUMER_MAX_ATTEMPTS: '3', CONSUMER_RETRY_BACKOFF_MS: '50' });
    const poison = await ledger.post<{ messageIds: string[] }>('/grants', { customerIds: ['poison-1'], points: 5 });
    await ledger.post('/grants', { customerIds: ['a', 'b', 'c'], points: 5 });

    await eventually(
      () => db.scalar(`SELECT count(*) FROM ${world.schema}.fixture_effects`),
      (n) => n === 3,
      { what: 'the three good messages applied' },
    );
    await eventually(async () => recorder.on(world.dlqTopic).length, (n) => n >= 1, { what: 'a dead-lettered message' });

    const [dead] = recorder.on(world.dlqTopic);
    expect(recorder.on(world.dlqTopic)).toHaveLength(1);
    expect(dead.json?.id).toBe(poison.body.messageIds[0]);
    expect(dead.headers['dead-letter-attempts']).toBe('3');
    expect(dead.headers['dead-letter-reason']).toContain('cannot apply points for poison-1');
    expect(dead.headers['original-topic']).toBe('loyalty.events.v1');
    expect(dead.headers['correlation-id']).toBeTruthy();

    const failures = ledger.logs.filter((l) => l.includes('message handler failed'));
    expect(failures).toHaveLength(3);
    expect(await db.scalar(`SELECT count(*) FROM ${world.schema}.fixture_balances WHERE customer_id = 'poison-1'`)).toBe(0);
    expect(
      await db.query(`SELECT message_id, outcome FROM ${world.schema}.inbox WHERE outcome = 'dead_lettered'`),
    ).toEqual([{ message_id: poison.body.messageIds[0], outcome: 'dead_lettered' }]);
  });
});
