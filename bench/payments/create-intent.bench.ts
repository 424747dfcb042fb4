/**
 * Create-PaymentIntent path of the payments service (what the gateway calls once per checkout): POST /payments
 * with an Idempotency-Key at a fixed concurrency, the payments service as a child process on the real
 * PostgreSQL, Redis and Kafka, Stripe played by the in-process emulator (no webhook endpoints: only the create
 * path is measured). Baseline in the same run: `paymentIntents.create` straight on the emulator.
 *
 *   node -r @swc-node/register bench/payments/create-intent.bench.ts [--concurrency 16] [--seconds 15] [--no-key]
 *
 * `BENCH_PAYMENTS_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` profiles payments. Prints numbers, asserts nothing.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { startEmulator } from '@omnipay/stripe-emulator';
import { Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import Stripe from 'stripe';
import { arg, cpuSeconds, peakRssMb, printTable, summarize } from '../lib';
import { loadInfraEnv, sleep, startProcess, stopProcess } from '../processes';

const CONCURRENCY = arg('concurrency', 16);
const SECONDS = arg('seconds', 15);
const WITH_KEY = !process.argv.includes('--no-key');

loadInfraEnv();

const run = `bench_pci_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');

async function closedLoop(seconds: number, concurrency: number, once: (i: number) => Promise<boolean>) {
  const samples: number[] = [];
  let failed = 0;
  let i = 0;
  const end = Date.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const t0 = performance.now();
        if (await once(i++)) samples.push(performance.now() - t0);
        else failed++;
      }
    }),
  );
  return { samples, failed, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  console.log(
    `create-PaymentIntent benchmark: run ${run}, concurrency ${CONCURRENCY}, ${SECONDS}s, Idempotency-Key ${WITH_KEY ? 'on' : 'off'}, ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  const emu = await startEmulator({ port: 0 });
  const schema = `${run}_pay`;
  const serviceToken = randomBytes(24).toString('hex');
  const payments = await startProcess({
    run,
    name: 'payments',
    entry: 'services/payments/src/main.ts',
    nodeArgs: (process.env.BENCH_PAYMENTS_NODE_ARGS ?? '').split(' ').filter(Boolean),
    env: {
      DATABASE_SCHEMA: schema,
      KAFKA_TOPIC_PREFIX: `${run}.`,
      KAFKA_GROUP_PREFIX: run,
      STRIPE_SECRET_KEY: emu.secretKey,
      STRIPE_PUBLISHABLE_KEY: emu.publishableKey,
      STRIPE_API_BASE: emu.url,
      PAYMENTS_JANITOR_INTERVAL_MS: '0',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      NODE_ENV: 'production',
      SERVICE_TOKEN: serviceToken,
    },
  });
  const pid = payments.child.pid as number;
  const create = async (i: number, tag: string) => {
    const orderId = `ord_${run.slice(-6)}_${tag}_${i}`;
    const res = await fetch(`${payments.url}/payments`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${serviceToken}`, // as the gateway calls it
        ...(WITH_KEY ? { 'idempotency-key': `checkout:${orderId}:payment` } : {}),
      },
      body: JSON.stringify({
        orderId,
        amount: 1500 + (i % 100),
        currency: 'usd',
        channel: 'web',
        customerId: 'cus_bench',
        attempt: 1,
      }),
    });
    await res.arrayBuffer();
    return res.status === 201;
  };
  try {
    await closedLoop(3, CONCURRENCY, (i) => create(i, 'w')); // warm-up
    const c0 = cpuSeconds(pid);
    const g0 = process.cpuUsage();
    const r = await closedLoop(SECONDS, CONCURRENCY, (i) => create(i, 't'));
    await sleep(1000); // the outbox relay publishes the last payment.created
    const cpu = cpuSeconds(pid) - c0;
    const g = process.cpuUsage(g0);
    const s = summarize(r.samples);
    const sdk = new Stripe(emu.secretKey, { ...emu.stripeConfig, maxNetworkRetries: 0, telemetry: false });
    const b = await closedLoop(Math.min(SECONDS, 10), CONCURRENCY, async (i) => {
      await sdk.paymentIntents.create(
        {
          amount: 1500,
          currency: 'usd',
          automatic_payment_methods: { enabled: true },
          metadata: { orderId: `b_${i}` },
        },
        { idempotencyKey: `b_${run}_${i}` },
      );
      return true;
    });
    const bs = summarize(b.samples);
    printTable('POST /payments (create PaymentIntent)', [
      {
        target: 'payments service',
        'creates/s': f1(r.samples.length / r.seconds),
        p50_ms: f1(s.p50),
        p99_ms: f1(s.p99),
        failed: r.failed,
        'payments CPU ms / create': (cpu / r.samples.length) * 1000,
        'bench+emulator CPU ms / create': (g.user + g.system) / 1e3 / r.samples.length,
      },
      {
        target: 'baseline: paymentIntents.create on the emulator',
        'creates/s': f1(b.samples.length / b.seconds),
        p50_ms: f1(bs.p50),
        p99_ms: f1(bs.p99),
        failed: b.failed,
        'payments CPU ms / create': '-',
        'bench+emulator CPU ms / create': '-',
      },
    ]);
    console.log(
      `payments peak RSS ${Math.round(peakRssMb(pid))} MB; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; log ${payments.logFile}`,
    );
  } finally {
    await stopProcess(payments);
    await emu.close();
    const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
    const admin = new Kafka({
      clientId: run,
      brokers: (process.env.KAFKA_BROKERS as string).split(','),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${run}.`));
    if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error((error as Error).stack ?? String(error));
    process.exit(1);
  },
);
