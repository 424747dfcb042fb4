import { randomUUID } from 'node:crypto';
import { ConfigResourceTypes } from 'kafkajs';
import { engines, eventually, testKafka } from '@omnipay/testing';
import { recordedLedgerWorld } from './ledger-fixture';

const ADMIN_TOKEN = 'dead-letters-test-admin-token';

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

  it('keeps the dead letter for operators and applies it once through the group when redriven after the fix', async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const settings = { FIXTURE_CONSUMER: mode, KAFKA_TOPIC_PARTITIONS: '1', CONSUMER_MAX_ATTEMPTS: '2', CONSUMER_RETRY_BACKOFF_MS: '20', ADMIN_TOKEN };
    let ledger = await start(settings);
    const poison = await ledger.post<{ messageIds: string[] }>('/grants', { customerIds: ['poison-2'], points: 7 });
    const [messageId] = poison.body.messageIds;
    const pending = () => ledger.get<{ groups: string[]; data: { messageId: string; reason: string; message: { id: string } }[] }>('/admin/dead-letters', admin);
    await eventually(async () => (await pending()).body.data?.filter((d) => d.messageId === messageId), (d) => d?.length === 1, {
      what: 'the dead letter kept',
    });
    const listed = await pending();
    expect(listed.body.groups).toEqual([world.groupId]);
    expect(listed.body.data.find((d) => d.messageId === messageId)).toMatchObject({
      reason: expect.stringContaining('cannot apply points for poison-2'),
      message: { id: messageId },
    });
    expect((await ledger.get('/metrics')).text).toMatch(new RegExp(`dead_letters_pending\\{group="${world.groupId}"\\} [1-9]`));
    // Operators only; a group this service does not run is a 404.
    expect((await ledger.get('/admin/dead-letters')).status).toBe(401);
    expect((await ledger.post('/admin/dead-letters/redrive', { group: 'other.group' }, admin)).status).toBe(404);

    // Still broken: the redrive fails, and the letter stays pending.
    const early = await ledger.post<{ redriven: string[]; failed: { messageId: string }[] }>('/admin/dead-letters/redrive', { group: world.groupId, messageIds: [messageId] }, admin);
    expect(early.status).toBe(200);
    expect(early.body).toMatchObject({ redriven: [], failed: [{ messageId }] });

    // The fix is deployed; redriven twice (two operators at once, and once more later): applied once.
    await ledger.stop();
    ledger = await start({ ...settings, FIXTURE_POISON_FIXED: 'true' });
    const redrive = () =>
      ledger.post<{ redriven: string[]; skipped: string[] }>('/admin/dead-letters/redrive', { group: world.groupId, messageIds: [messageId] }, admin);
    const [a, b] = await Promise.all([redrive(), redrive()]);
    expect([...a.body.redriven, ...b.body.redriven]).toEqual([messageId]);
    expect([...a.body.skipped, ...b.body.skipped]).toEqual([messageId]);
    expect((await redrive()).body).toEqual({ redriven: [], failed: [], skipped: [messageId] });
    expect(await db.scalar(`SELECT count(*) FROM ${world.schema}.fixture_effects WHERE message_id = $1`, [messageId])).toBe(1);
    expect(await db.scalar(`SELECT balance FROM ${world.schema}.fixture_balances WHERE customer_id = 'poison-2'`)).toBe(7);
    expect(await db.scalar(`SELECT outcome FROM ${world.schema}.inbox WHERE message_id = $1`, [messageId])).toBe('applied');
    expect((await pending()).body.data.filter((d) => d.messageId === messageId)).toEqual([]);
    // The first test's poison-1 is redriven too (the fix covers it): nothing left pending.
    expect((await ledger.post<{ redriven: string[] }>('/admin/dead-letters/redrive', { group: world.groupId }, admin)).body.redriven).toHaveLength(1);
    expect((await ledger.get('/metrics')).text).toContain(`dead_letters_pending{group="${world.groupId}"} 0\n`);
  });

  it('keeps malformed messages for operators too (not JSON, a NUL byte, data its schema refuses), and applies what is behind them', async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const ledger = await start({ FIXTURE_CONSUMER: mode, KAFKA_TOPIC_PARTITIONS: '1', ADMIN_TOKEN });
    const refusedId = randomUUID();
    const producer = testKafka(engines().kafkaBrokers).producer();
    await producer.connect();
    await producer.send({
      topic: world.topic,
      acks: -1,
      messages: [
        { key: 'm', value: 'not json {' },
        { key: 'm', value: Buffer.from('nul\u0000inside', 'utf8') },
        { key: 'm', value: JSON.stringify({ id: refusedId, type: 'loyalty.points_changed', version: 1, occurredAt: new Date().toISOString(), source: 'test', data: { points: 'many' } }) },
      ],
    });
    await producer.disconnect();
    await ledger.post('/grants', { customerIds: ['after-malformed'], points: 4 });
    await eventually(
      () => db.scalar(`SELECT balance FROM ${world.schema}.fixture_balances WHERE customer_id = 'after-malformed'`),
      (b) => b === 4,
      { what: 'the message behind the malformed ones applied' },
    );

    const listed = await ledger.get<{ data: { messageId: string; messageType: string; reason: string; message: unknown }[] }>('/admin/dead-letters?limit=500', admin);
    const malformed = listed.body.data.filter((d) => !String(d.reason).includes('cannot apply points'));
    expect(malformed).toHaveLength(3);
    expect(malformed.map((d) => d.message)).toEqual(['not json {', 'nulinside', expect.objectContaining({ id: refusedId })]);
    expect(malformed[2]).toMatchObject({ messageId: refusedId, messageType: 'loyalty.points_changed' });
    expect(malformed.slice(0, 2).map((d) => d.messageType)).toEqual(['malformed', 'malformed']);
    expect((await ledger.get('/metrics')).text).toMatch(new RegExp(`dead_letters_pending\\{group="${world.groupId}"\\} 3\n`));
    // No fix makes them valid here: a redrive reports why and keeps them.
    const redrive = await ledger.post<{ redriven: string[]; failed: { messageId: string; error: string }[] }>(
      '/admin/dead-letters/redrive',
      { group: world.groupId, messageIds: malformed.map((d) => d.messageId) },
      admin,
    );
    expect(redrive.body.redriven).toEqual([]);
    expect(redrive.body.failed.map((f) => f.error)).toEqual(malformed.map(() => expect.stringContaining('cannot be applied')));

    // Garbage no release will accept: the operator discards it, and it leaves the pending count and listing.
    const ids = malformed.map((d) => d.messageId);
    const discard = (body: unknown) => ledger.post<{ discarded: string[]; skipped: string[] }>('/admin/dead-letters/discard', body, admin);
    expect((await discard({ group: 'other.group', messageIds: ids })).status).toBe(404);
    expect((await discard({ group: world.groupId })).status).toBe(400); // always by id
    expect((await ledger.post('/admin/dead-letters/discard', { group: world.groupId, messageIds: ids })).status).toBe(401);
    const first = await discard({ group: world.groupId, messageIds: [ids[0].toUpperCase(), ids[1]] });
    expect(first.body).toEqual({ discarded: [ids[0], ids[1]], skipped: [] });
    expect((await discard({ group: world.groupId, messageIds: ids })).body).toEqual({ discarded: [ids[2]], skipped: [ids[0], ids[1]] });
    expect((await ledger.get('/metrics')).text).toMatch(new RegExp(`dead_letters_pending\\{group="${world.groupId}"\\} 0\n`));
    const settled = await ledger.get<{ data: { messageId: string; discarded: boolean; redrivenAt: string | null }[] }>('/admin/dead-letters?state=all&limit=500', admin);
    expect(settled.body.data.filter((d) => ids.includes(d.messageId)).map((d) => d.discarded)).toEqual([true, true, true]);
    const pendingNow = await ledger.get<{ data: { messageId: string }[] }>('/admin/dead-letters', admin);
    expect(pendingNow.body.data.filter((d) => ids.includes(d.messageId))).toEqual([]);
    // A discarded letter is not redriven.
    const late = await ledger.post<{ redriven: string[]; skipped: string[] }>('/admin/dead-letters/redrive', { group: world.groupId, messageIds: ids }, admin);
    expect(late.body).toMatchObject({ redriven: [], skipped: ids });
  });
});

describe('dead-letter topic refusing writes', () => {
  const { world, db, recorder, start } = recordedLedgerWorld('poison_dlq_down', 'dlqTopic');

  it('commits nothing past a poison message while its dead letter cannot be published, then parks it once and applies the messages behind it', async () => {
    const ledger = await start({ KAFKA_TOPIC_PARTITIONS: '1', CONSUMER_MAX_ATTEMPTS: '2', CONSUMER_RETRY_BACKOFF_MS: '20' });
    const admin = testKafka(engines().kafkaBrokers).admin();
    await admin.connect();
    // The broker refuses any record larger than this: every dead letter, as if the DLQ topic were down.
    const maxMessageBytes = (bytes: number) =>
      admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: world.dlqTopic, configEntries: [{ name: 'max.message.bytes', value: String(bytes) }] }],
      });
    const effects = () => db.scalar<number>(`SELECT count(*) FROM ${world.schema}.fixture_effects`);
    try {
      await maxMessageBytes(16);
      const poison = await ledger.post<{ messageIds: string[] }>('/grants', { customerIds: ['poison-9'], points: 5 });
      await ledger.post('/grants', { customerIds: ['a', 'b', 'c'], points: 5 });
      // The poison is tried, its dead letter refused, the chunk rolled back; then all of it again.
      await eventually(async () => ledger.logs.filter((l) => l.includes('message handler failed')).length, (n) => n >= 4, {
        what: 'the poison tried in two rounds',
        timeoutMs: 60_000,
      });
      expect(recorder.on(world.dlqTopic)).toHaveLength(0);
      expect(await effects()).toBe(0);
      expect(await db.scalar(`SELECT count(*) FROM ${world.schema}.dead_letters`)).toBe(0);
      expect(await db.scalar(`SELECT count(*) FROM ${world.schema}.inbox`)).toBe(0);

      await maxMessageBytes(1_048_588);
      await eventually(effects, (n) => n === 3, { what: 'the messages behind the poison applied', timeoutMs: 90_000 });
      await eventually(async () => recorder.on(world.dlqTopic).length, (n) => n >= 1, { what: 'the dead letter published' });
      expect(recorder.on(world.dlqTopic).map((m) => m.json?.id)).toEqual([poison.body.messageIds[0]]);
      expect(await db.query(`SELECT message_id FROM ${world.schema}.dead_letters`)).toEqual([{ message_id: poison.body.messageIds[0] }]);
      expect(await effects()).toBe(3);
    } finally {
      await admin.disconnect();
    }
  });
});
