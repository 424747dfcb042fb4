import { eventually } from '@omnipay/testing';
import { recordedLedgerWorld } from './ledger-fixture';

describe('outbox relay linger', () => {
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
});
