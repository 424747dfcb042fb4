import { eventually } from '@omnipay/testing';
import { recordedLedgerWorld } from './ledger-fixture';

describe('transactional outbox', () => {
  const { world, db, recorder, start } = recordedLedgerWorld('outbox_crash', 'topic');

  it('publishes an event committed just before a SIGKILL once the service restarts, exactly once', async () => {
    // The relay is off: the state change and its event commit, and nothing is published yet.
    let ledger = await start({ OUTBOX_RELAY_ENABLED: 'false' });
    const res = await ledger.post<{ messageIds: string[] }>('/grants', { customerIds: ['c1', 'c2', 'c3'], points: 7 });
    expect(res.status).toBe(201);
    const ids = res.body.messageIds;
    expect(await db.scalar(`SELECT count(*) FROM ${world.schema}.fixture_grants`)).toBe(3);
    expect(await db.scalar(`SELECT count(*) FROM ${world.schema}.outbox WHERE published_at IS NULL`)).toBe(3);
    await new Promise((r) => setTimeout(r, 1000));
    expect(recorder.on(world.topic)).toHaveLength(0);

    await ledger.kill();

    ledger = await start();
    await eventually(async () => recorder.on(world.topic).length, (n) => n >= 3, { what: 'three published events' });
    // Give a duplicate publication the chance to show up before asserting there is none.
    await eventually(
      () => db.scalar(`SELECT count(*) FROM ${world.schema}.fixture_effects`),
      (n) => n === 3,
      { what: 'three applied effects' },
    );
    await new Promise((r) => setTimeout(r, 1000));

    const published = recorder.on(world.topic).map((m) => m.json?.id);
    expect(published.sort()).toEqual([...ids].sort());
    expect(await db.scalar(`SELECT count(*) FROM ${world.schema}.outbox WHERE published_at IS NULL`)).toBe(0);
    expect(await db.scalar(`SELECT sum(balance) FROM ${world.schema}.fixture_balances`)).toBe(21);
    // Headers carry the correlation id and W3C trace context of the request that caused the event.
    const first = recorder.on(world.topic)[0];
    expect(first.headers['correlation-id']).toBe((first.json as { correlationId: string }).correlationId);
    expect(first.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
    expect(first.key).toMatch(/^c[123]$/);
  });
});
