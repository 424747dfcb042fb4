import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { TestDatabase, engines, eventually, freePort, uniqueName } from '@omnipay/testing';
import type { ServiceProcess } from '@omnipay/testing';
import { isolatedRun, metricValue, startLedger } from './ledger-fixture';

const ROOT = path.resolve(__dirname, '../../..');
const OUTAGE_MS = 30000;

/**
 * This test stops a broker, so it gets a broker of its own (same script, own data dir and ports): the shared
 * broker keeps serving the suites that run beside it.
 */
describe('Kafka outage', () => {
  const world = isolatedRun('kafka_outage');
  const db = new TestDatabase(engines().databaseUrl);
  let ledger: ServiceProcess | undefined;
  let infraEnv: NodeJS.ProcessEnv;

  const infra = (cmd: string) =>
    execFileSync('bash', [path.join(ROOT, 'tools/infra/infra.sh'), cmd], { env: infraEnv, stdio: ['ignore', 'ignore', 'pipe'] });

  beforeAll(async () => {
    const [port, controllerPort] = [await freePort(), await freePort()];
    infraEnv = {
      ...process.env,
      INFRA_DIR: path.join(ROOT, '.cache', uniqueName('outage-broker')),
      INFRA_KAFKA_PORT: String(port),
      INFRA_KAFKA_CONTROLLER_PORT: String(controllerPort),
      KAFKA_JAVA_OPTS: '-Xms256m -Xmx512m -XX:+UseG1GC',
    };
    infra('kafka-up');
  }, 120000);

  afterAll(async () => {
    await ledger?.stop();
    infra('kafka-stop');
    execFileSync('rm', ['-rf', infraEnv.INFRA_DIR as string]);
    await db.dropSchema(world.schema);
    await db.close();
  }, 60000);

  const effects = () => db.scalar<number>(`SELECT count(*) FROM ${world.schema}.fixture_effects`);

  it('loses nothing and applies nothing twice when Kafka is down for 30 s while events are written', async () => {
    ledger = await startLedger(world, { KAFKA_BROKERS: `127.0.0.1:${infraEnv.INFRA_KAFKA_PORT}` });
    let granted = 0;
    const grant = async (ids: string[]) => {
      const res = await ledger!.post('/grants', { customerIds: ids, points: 2 });
      expect(res.status).toBe(201);
      granted += ids.length;
    };
    await grant(['before-1', 'before-2']);
    await eventually(effects, (n) => n === 2, { what: 'the events written before the outage' });

    infra('kafka-stop');
    const outageEnds = Date.now() + OUTAGE_MS;
    let n = 0;
    // Writes keep succeeding: the state change and its event commit together in PostgreSQL.
    while (Date.now() < outageEnds) {
      await grant([`during-${n++}`, `during-${n++}`]);
      await new Promise((r) => setTimeout(r, 2000));
    }
    // Still in rotation (its writes go on), and says what it is missing.
    const ready = await ledger.get<{ status: string; checks: { kafka: { status: string } } }>('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.checks.kafka.status).toBe('down');
    const waiting = await db.scalar<number>(`SELECT count(*) FROM ${world.schema}.outbox WHERE published_at IS NULL`);
    expect(waiting).toBeGreaterThan(20);
    // What an operator sees of it: the backlog and the age of its oldest row (written in the outage's first seconds).
    const during = (await ledger.get('/metrics')).text;
    expect(metricValue(during, 'outbox_unpublished_rows', { schema: world.schema })).toBe(waiting);
    expect(metricValue(during, 'outbox_oldest_unpublished_seconds', { schema: world.schema })).toBeGreaterThan(OUTAGE_MS / 1000 - 5);

    infra('kafka-up');
    await eventually(effects, (count) => count >= granted, { timeoutMs: 90000, what: `all ${granted} effects after the outage` });
    await new Promise((r) => setTimeout(r, 2000));

    expect(await effects()).toBe(granted);
    expect(await db.scalar(`SELECT count(DISTINCT message_id) FROM ${world.schema}.fixture_effects`)).toBe(granted);
    expect(await db.scalar(`SELECT sum(balance) FROM ${world.schema}.fixture_balances`)).toBe(granted * 2);
    expect(await db.scalar(`SELECT count(*) FROM ${world.schema}.outbox WHERE published_at IS NULL`)).toBe(0);
    const drained = (await ledger.get('/metrics')).text;
    expect(drained).toContain(`outbox_unpublished_rows{schema="${world.schema}"} 0\n`);
    expect(drained).toContain(`outbox_oldest_unpublished_seconds{schema="${world.schema}"} 0\n`);
    const after = await ledger.get<{ consumerGroups: Record<string, { state: string }> }>('/health/ready');
    expect(after.status).toBe(200);
    // Every group consumed again after the outage, so /health/ready shows each of them running.
    expect(Object.values(after.body.consumerGroups).length).toBeGreaterThan(0);
    expect(Object.values(after.body.consumerGroups).map((g) => g.state)).toEqual(
      Object.values(after.body.consumerGroups).map(() => 'running'),
    );
  }, 240000);
});
