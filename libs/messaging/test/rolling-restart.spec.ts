import { TestDatabase, engines, eventually, testKafka, type ServiceProcess } from '@omnipay/testing';
import { committedOffsets, isolatedRun, metricValue, pointMessage, startLedger } from './ledger-fixture';

/** The reliability catalogue's shutdown bound (F-PR-01); `ServiceProcess.stop` SIGKILLs at the same mark. */
const SHUTDOWN_LIMIT_MS = 15000;
/** Each message costs the handler this long, so every SIGTERM lands while a chunk is being applied. */
const HANDLER_DELAY_MS = '1';

/**
 * Rolling restarts (reliability catalogue F-PR-01): a SIGTERM while the group is busy must stop fetching, finish
 * the chunk in hand, commit what was applied and leave, within the bound. A redelivery would still be caught by
 * the inbox, but it is work done twice on every deploy, and a commit of what was not applied would lose it:
 * these tests count both.
 */
describe('rolling restarts under load', () => {
  const db = new TestDatabase(engines().databaseUrl);
  const kafka = testKafka(engines().kafkaBrokers);
  const worlds: Array<ReturnType<typeof isolatedRun>> = [];
  const live = new Set<ServiceProcess>();

  afterAll(async () => {
    for (const p of live) await p.stop();
    for (const w of worlds) await db.dropSchema(w.schema);
    await db.close();
  });

  async function world(name: string) {
    const w = isolatedRun(name);
    worlds.push(w);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: w.topic, numPartitions: 6 }] });
    await admin.disconnect();
    return w;
  }

  /** Sends ~1,000 messages/s over 97 customers until stopped; resolves with how many it sent. */
  function steadyLoad(topic: string) {
    const producer = kafka.producer();
    let stopping = false;
    const sent = (async () => {
      await producer.connect();
      let n = 0;
      while (!stopping) {
        const messages = Array.from({ length: 50 }, (_, i) => pointMessage(`cust-${(n + i) % 97}`, n + i));
        await producer.send({ topic, acks: -1, messages });
        n += messages.length;
        await new Promise((r) => setTimeout(r, 50));
      }
      await producer.disconnect();
      return n;
    })();
    return { stop: () => ((stopping = true), sent) };
  }

  async function start(w: ReturnType<typeof isolatedRun>): Promise<ServiceProcess> {
    const p = await startLedger(w, { FIXTURE_HANDLER_DELAY_MS: HANDLER_DELAY_MS });
    live.add(p);
    return p;
  }

  /** SIGTERM, and how long until the process was gone and whether it left by its own shutdown. */
  async function terminate(p: ServiceProcess): Promise<{ ms: number; graceful: boolean }> {
    const t0 = Date.now();
    await p.stop();
    live.delete(p);
    return { ms: Date.now() - t0, graceful: p.lastExit?.signal === 'SIGTERM' || p.lastExit?.code === 0 };
  }

  const duplicates = async (p: ServiceProcess) =>
    metricValue((await p.get('/metrics')).text, 'messages_consumed_total', { outcome: 'duplicate' });

  async function expectExactlyOnce(w: ReturnType<typeof isolatedRun>, total: number): Promise<void> {
    const effects = () => db.scalar<number>(`SELECT count(*) FROM ${w.schema}.fixture_effects`);
    await eventually(effects, (n) => n >= total, { timeoutMs: 60000, what: `all ${total} effects` });
    expect(await db.scalar(`SELECT count(DISTINCT message_id) FROM ${w.schema}.fixture_effects`)).toBe(total);
    expect(await db.scalar(`SELECT sum(balance) FROM ${w.schema}.fixture_balances`)).toBe(total);
    expect(await db.scalar(`SELECT count(*) FROM ${w.schema}.inbox WHERE outcome = 'applied'`)).toBe(total);
  }

  it('commits exactly what it applied on each of ten SIGTERMs mid-chunk, and exits within 15 s', async () => {
    const w = await world('rolling_one');
    const effects = () => db.scalar<number>(`SELECT count(*) FROM ${w.schema}.fixture_effects`);
    const load = steadyLoad(w.topic);
    const shutdowns: number[] = [];
    let total = 0;
    try {
      for (let i = 0; i < 10; i++) {
        const ledger = await start(w);
        const before = await effects();
        // The backlog that built up while it was down is being applied when the signal comes.
        await eventually(effects, (n) => n >= before + 200, { intervalMs: 10, what: `progress after start ${i}` });
        const { ms, graceful } = await terminate(ledger);
        shutdowns.push(ms);
        expect(graceful).toBe(true);
        expect(ms).toBeLessThan(SHUTDOWN_LIMIT_MS);
        // Nobody consumes now: what was applied and what the next start resumes from must be the same message.
        expect(await committedOffsets(kafka, w.groupId, w.topic)).toBe(await effects());
      }
    } finally {
      total = await load.stop();
    }
    await start(w);
    await expectExactlyOnce(w, total);
    process.stdout.write(`shutdown ms: ${shutdowns.join(', ')}\n`);
  });

  it('hands partitions between two replicas restarted in turn without redelivering a message', async () => {
    const w = await world('rolling_two');
    const effects = () => db.scalar<number>(`SELECT count(*) FROM ${w.schema}.fixture_effects`);
    const load = steadyLoad(w.topic);
    const replicas = [await start(w), await start(w)];
    let total = 0;
    try {
      for (let round = 0; round < 3; round++) {
        for (const r of [0, 1]) {
          const leaving = replicas[r];
          const staying = replicas[1 - r];
          const before = await effects();
          await eventually(effects, (n) => n >= before + 300, { intervalMs: 10, what: `progress before stopping replica ${r}` });
          // A replica's redeliveries are what it met from a partition the other had not committed.
          expect(await duplicates(leaving)).toBe(0);
          const { ms, graceful } = await terminate(leaving);
          expect(graceful).toBe(true);
          expect(ms).toBeLessThan(SHUTDOWN_LIMIT_MS);
          // The one that stays takes every partition over from the committed offsets.
          const handedOver = await effects();
          await eventually(effects, (n) => n >= handedOver + 1000, { timeoutMs: 30000, what: 'the staying replica to move on' });
          expect(await duplicates(staying)).toBe(0);
          replicas[r] = await start(w);
        }
      }
    } finally {
      total = await load.stop();
    }
    await expectExactlyOnce(w, total);
    for (const p of replicas) expect(await duplicates(p)).toBe(0);
  });
});
