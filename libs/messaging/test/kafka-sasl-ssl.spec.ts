import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { TestDatabase, engines, eventually, freePort, uniqueName } from '@omnipay/testing';
import type { ServiceProcess } from '@omnipay/testing';
import { isolatedRun, startLedger } from './ledger-fixture';

const ROOT = path.resolve(__dirname, '../../..');
const USER = 'omnipay';
const PASSWORD = 'broker-pw-9f2c71d0a3';

/**
 * Managed Kafka asks for TLS and SASL. A broker of this suite's own with a SASL_SSL listener (a CA and certificate
 * made for it, one user for PLAIN and SCRAM): a service configured with KAFKA_SSL, KAFKA_SSL_CA_FILE and
 * KAFKA_SASL_* publishes through its outbox and consumes what it published; wrong credentials or an untrusted
 * certificate keep it from Kafka, say why in its log and never write the password there.
 */
describe('Kafka over TLS with SASL', () => {
  const db = new TestDatabase(engines().databaseUrl);
  const started: ServiceProcess[] = [];
  const schemas: string[] = [];
  let infraEnv: NodeJS.ProcessEnv;
  let secure: string;
  let caFile: string;

  const infra = (cmd: string) =>
    execFileSync('bash', [path.join(ROOT, 'tools/infra/infra.sh'), cmd], {
      env: infraEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    });

  beforeAll(async () => {
    const [port, controllerPort, securePort] = [await freePort(), await freePort(), await freePort()];
    infraEnv = {
      ...process.env,
      INFRA_DIR: path.join(ROOT, '.cache', uniqueName('secure-broker')),
      INFRA_KAFKA_PORT: String(port),
      INFRA_KAFKA_CONTROLLER_PORT: String(controllerPort),
      INFRA_KAFKA_SECURE_PORT: String(securePort),
      INFRA_KAFKA_SECURE_USER: USER,
      INFRA_KAFKA_SECURE_PASSWORD: PASSWORD,
      KAFKA_JAVA_OPTS: '-Xms256m -Xmx512m -XX:+UseG1GC',
    };
    infra('kafka-up');
    secure = `127.0.0.1:${securePort}`;
    caFile = path.join(infraEnv.INFRA_DIR as string, 'kafka', 'tls', 'ca.pem');
  }, 120000);

  afterAll(async () => {
    for (const service of started) await service.stop();
    infra('kafka-stop');
    execFileSync('rm', ['-rf', infraEnv.INFRA_DIR as string]);
    for (const schema of schemas) await db.dropSchema(schema);
    await db.close();
  }, 60000);

  const ledger = async (env: Record<string, string>, trustTestCa = true) => {
    const world = isolatedRun('kafka_secure');
    schemas.push(world.schema);
    const tls = { KAFKA_SSL: 'true', ...(trustTestCa ? { KAFKA_SSL_CA_FILE: caFile } : {}) };
    const service = await startLedger(world, { KAFKA_BROKERS: secure, ...tls, ...env });
    started.push(service);
    return { world, service };
  };

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'])(
    'publishes through the outbox and consumes it again with SASL %s over TLS',
    async (mechanism) => {
      const { world, service } = await ledger({
        KAFKA_SASL_MECHANISM: mechanism,
        KAFKA_SASL_USERNAME: USER,
        KAFKA_SASL_PASSWORD: PASSWORD,
      });
      const ready = await service.get<{ checks: { kafka: { status: string } } }>('/health/ready');
      expect(ready.body.checks.kafka.status).toBe('up');
      expect((await service.post('/grants', { customerIds: ['c-1', 'c-2', 'c-3'], points: 1 })).status).toBe(
        201,
      );
      const effects = () => db.scalar<number>(`SELECT count(*) FROM ${world.schema}.fixture_effects`);
      await eventually(effects, (n) => n === 3, {
        timeoutMs: 30000,
        what: `three effects through the ${mechanism} listener`,
      });
      expect(service.logs.join('\n')).not.toContain(PASSWORD);
    },
    90000,
  );

  it('refuses to start a service with a wrong password or an untrusted certificate, saying why and not the password', async () => {
    const wrong = `${PASSWORD}-wrong`;
    const refused = await ledger({
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: USER,
      KAFKA_SASL_PASSWORD: wrong,
    }).then(
      () => undefined,
      (error: Error) => error.message,
    );
    // The system's CAs do not know the test CA.
    const untrusted = await ledger(
      { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: USER, KAFKA_SASL_PASSWORD: PASSWORD },
      false,
    ).then(
      () => undefined,
      (error: Error) => error.message,
    );
    // An orchestrator shows the reason of the crash loop; a process that kept running without Kafka would not.
    expect(refused).toMatch(/exited with 1[\s\S]*failed to start/);
    expect(refused).toMatch(/SASL SCRAM SHA256 authentication failed/);
    expect(refused).not.toContain(wrong);
    expect(untrusted).toMatch(/exited with 1[\s\S]*self-signed certificate in certificate chain/);
    expect(untrusted).not.toContain(PASSWORD);
  }, 180000);
});
