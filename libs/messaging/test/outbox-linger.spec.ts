import { randomUUID } from 'node:crypto';
import { eventually } from '@omnipay/testing';
import { recordedLedgerWorld } from './ledger-fixture';

describe('outbox relay wake-ups', () => {
  const { world, db, recorder, start } = recordedLedgerWorld('outbox_linger', 'topic');

  const unpublished = () => db.scalar<number>(`SELECT count(*) FROM ${world.schema}.outbox WHERE published_at IS NULL`);

  it('holds a pass for OUTBOX_LINGER_MS after a commit wakes it, so commits made meanwhile go out in the same pass', async () => {
    // A long linger so that the assertions below do not depend on how fast this machine is.
    // Polls would pick the rows up regardless of the linger: none during this test.
    const ledger = await start({ OUTBOX_LINGER_MS: '3000', OUTBOX_POLL_MS: '60000' });
    expect((await ledger.post('/grants', { customerIds: ['c1'], points: 1 })).status).toBe(201);
    await new Promise((r) => setTimeout(r, 500));
    // Woken by the commit, the relay is still waiting (without the linger it publishes within milliseconds).
    expect(await unpublished()).toBe(1);
    expect((await ledger.post('/grants', { customerIds: ['c2'], points: 1 })).status).toBe(201);
    expect(await unpublished()).toBe(2);

    await eventually(async () => recorder.on(world.topic).length, (n) => n === 2, { what: 'both grants on Kafka', timeoutMs: 20000 });
    expect(await unpublished()).toBe(0);
    // One pass: one UPDATE marked both rows, so their marks are microseconds apart (passes are ≥ 3 s apart here).
    const spreadMs = await db.scalar<number>(
      `SELECT extract(epoch FROM max(published_at) - min(published_at)) * 1000 FROM ${world.schema}.outbox`,
    );
    expect(Number(spreadMs)).toBeLessThan(1000);
  });

  it('publishes, on its next poll, a row that another process committed without waking it', async () => {
    // Idle polls first look for rows outside a transaction; a row written behind the relay's back (another
    // replica that died before relaying, a manual fix) must still be found by that look.
    const ledger = await start({ OUTBOX_POLL_MS: '200' });
    const before = recorder.on(world.topic).length;
    await new Promise((r) => setTimeout(r, 1000)); // several idle polls have found nothing
    const id = randomUUID();
    await db.query(
      `INSERT INTO ${world.schema}.outbox (id, topic, key, payload, headers) VALUES ($1, 'loyalty.events.v1', 'c9', $2, '{}')`,
      [id, JSON.stringify({ id, written: 'behind the relay' })],
    );
    const published = await eventually(
      async () => recorder.on(world.topic).slice(before),
      (msgs) => msgs.length === 1,
      { what: 'the row on Kafka', timeoutMs: 10000 },
    );
    expect(published[0].json).toMatchObject({ id });
    // Marked in the pass's transaction, which commits just after Kafka's acknowledgement: a moment after the row is seen.
    await eventually(
      () => db.scalar<number>(`SELECT count(*) FROM ${world.schema}.outbox WHERE id = $1 AND published_at IS NOT NULL`, [id]),
      (n) => n === 1,
      { what: 'the row marked published', timeoutMs: 5000 },
    );
    await ledger.stop();
  });
});
