/**
 * Event-to-state benchmark (issue #4): how long after the webhook's 2xx the normalised payment event is on
 * `payments.events.v1`, at a fixed rate of signed Stripe-shaped events, through the real webhooks and payments
 * services (child processes) on the real PostgreSQL and Kafka.
 *
 *   node -r @swc-node/register bench/payments/event-to-state.bench.ts [--rate 500] [--seconds 20]
 *        [--warmup-seconds 5] [--skip-baseline] [--log-level info]
 *
 * Load: per payment the four events of a card checkout (payment_intent.created, payment_intent.succeeded,
 * charge.succeeded, charge.updated), one payment in five shuffled, for payments the platform created (rows
 * inserted into the payments schema before the timed phase, as the create-PaymentIntent API leaves them:
 * PaymentIntent attached, `requires_payment_method`, `created` announced). The normalised event measured is
 * `payment.succeeded` (from the 2xx of `payment_intent.succeeded`). Payments' reconciliation worker reads each
 * charge from a small in-process Stripe stub (charge + balance transaction), so that part of the flow costs
 * what it costs in production rather than a retry loop of 404s.
 *
 * Baselines in the same run: the 2xx → `stripe.events.v1` hop (the webhooks service alone), and, in a second
 * phase with payments stopped, a raw kafkajs consumer (bench/payments/baseline-consumer.ts: one set-based
 * INSERT … RETURNING per batch, one produce per fresh event) measured the same way.
 * Prints numbers, asserts nothing. `BENCH_PAYMENTS_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` profiles payments.
 */
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { Kafka, logLevel } from 'kafkajs';
// The kafkajs idle-spin fix the services run with (see the module), so the baselines and observers pay no more than they do.
import { applyKafkajsIdleFix } from '@omnipay/messaging';
import { Pool } from 'pg';
import { arg, cpuSeconds, peakRssMb, printTable, summarize } from '../lib';
import {
  cpuDelta,
  kafkaCpu,
  loadInfraEnv,
  postgresCpu,
  sleep,
  startProcess,
  stopProcess,
  type BenchProcess,
  type StartOptions,
} from '../processes';

applyKafkajsIdleFix();

const RATE = arg('rate', 500);
const SECONDS = arg('seconds', 20);
const WARMUP_SECONDS = arg('warmup-seconds', 5);
const SKIP_BASELINE = process.argv.includes('--skip-baseline');
const LOG_LEVEL = (() => {
  const i = process.argv.indexOf('--log-level');
  return i > 0 ? process.argv[i + 1] : 'info';
})();

loadInfraEnv();

const run = `bench_e2s_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const SECRET = `whsec_${randomBytes(24).toString('hex')}`;
const WH_SCHEMA = `${run}_wh`;
const PAY_SCHEMA = `${run}_pay`;
const BASE_SCHEMA = `${run}_base`;
const T_STRIPE = `${run}.stripe.events.v1`;
const T_PAYMENTS = `${run}.payments.events.v1`;
const T_BASE = `${run}.baseline.out`;
const AMOUNT = 2000;

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : '–');

// ---------------------------------------------------------------- processes
const procs: BenchProcess[] = [];
async function start(o: Omit<StartOptions, 'run'>): Promise<BenchProcess> {
  const p = await startProcess({ run, ...o });
  procs.push(p);
  return p;
}

// ---------------------------------------------------------------- Stripe stub (charges read by reconciliation)
/** Answers GET /v1/charges/:id with the charge and an expanded balance transaction; everything else 404. */
function startStripeStub(): Promise<{ url: string; close: () => void; calls: () => number }> {
  let calls = 0;
  const server = http.createServer((req, res) => {
    calls++;
    const m = /^\/v1\/charges\/(ch_[A-Za-z0-9_]+)/.exec(req.url ?? '');
    if (req.method !== 'GET' || !m) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'invalid_request_error', code: 'resource_missing', message: 'No such object' } }));
      return;
    }
    const id = m[1];
    const created = Math.floor(Date.now() / 1000);
    const fee = Math.round(AMOUNT * 0.029) + 30;
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_${randomBytes(6).toString('hex')}` });
    res.end(
      JSON.stringify({
        id,
        object: 'charge',
        amount: AMOUNT,
        amount_captured: AMOUNT,
        amount_refunded: 0,
        captured: true,
        paid: true,
        status: 'succeeded',
        currency: 'usd',
        created,
        payment_intent: id.replace(/^ch_/, 'pi_'),
        balance_transaction: {
          id: id.replace(/^ch_/, 'txn_'),
          object: 'balance_transaction',
          amount: AMOUNT,
          fee,
          net: AMOUNT - fee,
          currency: 'usd',
          created,
          available_on: created + 2 * 86400,
          type: 'charge',
          status: 'pending',
          source: id,
        },
      }),
    );
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, close: () => server.close(), calls: () => calls });
    });
  });
}

// ---------------------------------------------------------------- payments and their events
interface SeededPayment {
  paymentId: string;
  orderId: string;
  pi: string;
  ch: string;
}

interface Outgoing {
  id: string;
  type: string;
  paymentId: string;
  body: Buffer;
}

let seq = 0;
function newPayment(): SeededPayment {
  const n = ++seq;
  const base = `${run.slice(-8)}${n.toString(36).padStart(7, '0')}`;
  return { paymentId: `pay_${base}`, orderId: `ord_${base}`, pi: `pi_3Q${base}`, ch: `ch_3Q${base}` };
}

async function seedPayments(pool: Pool, list: SeededPayment[]): Promise<void> {
  for (let i = 0; i < list.length; i += 2000) {
    const part = list.slice(i, i + 2000);
    await pool.query(
      `INSERT INTO "${PAY_SCHEMA}".payments (id, order_id, attempt, channel, amount, currency, capture_method, payment_intent_id, status, status_observed_at)
       SELECT p.id, p.order_id, 1, 'web', ${AMOUNT}, 'usd', 'automatic', p.pi, 'requires_payment_method', extract(epoch from now())::bigint
         FROM unnest($1::text[], $2::text[], $3::text[]) AS p(id, order_id, pi)`,
      [part.map((p) => p.paymentId), part.map((p) => p.orderId), part.map((p) => p.pi)],
    );
    await pool.query(
      `INSERT INTO "${PAY_SCHEMA}".payment_transitions (payment_id, transition_key, to_status, source)
       SELECT id, 'created', NULL, 'api:bench' FROM unnest($1::text[]) AS id`,
      [part.map((p) => p.paymentId)],
    );
  }
}

function eventsOf(p: SeededPayment): Outgoing[] {
  const created = Math.floor(Date.now() / 1000);
  const metadata = { platform: 'omnipay', orderId: p.orderId, paymentId: p.paymentId, channel: 'web', attempt: '1' };
  const intent = {
    id: p.pi,
    object: 'payment_intent',
    amount: AMOUNT,
    amount_capturable: 0,
    amount_received: AMOUNT,
    capture_method: 'automatic_async',
    client_secret: `${p.pi}_secret_${randomBytes(12).toString('hex')}`,
    confirmation_method: 'automatic',
    created,
    currency: 'usd',
    customer: null,
    last_payment_error: null,
    latest_charge: p.ch,
    livemode: false,
    metadata,
    next_action: null,
    payment_method: `pm_1Q${p.pi.slice(5)}`,
    payment_method_types: ['card'],
    status: 'succeeded',
  };
  const charge = {
    id: p.ch,
    object: 'charge',
    amount: AMOUNT,
    amount_captured: AMOUNT,
    amount_refunded: 0,
    balance_transaction: p.ch.replace(/^ch_/, 'txn_'),
    captured: true,
    created,
    currency: 'usd',
    livemode: false,
    metadata,
    paid: true,
    payment_intent: p.pi,
    payment_method: intent.payment_method,
    payment_method_details: { card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2034, funding: 'credit' }, type: 'card' },
    refunded: false,
    refunds: { object: 'list', data: [], has_more: false, total_count: 0, url: `/v1/charges/${p.ch}/refunds` },
    status: 'succeeded',
  };
  const ev = (type: string, object: unknown, i: number): Outgoing => {
    const id = `evt_3Q${p.pi.slice(5)}${i}`;
    const body = {
      id,
      object: 'event',
      api_version: '2026-10-28.endive',
      created: created + i,
      data: { object },
      livemode: false,
      pending_webhooks: 1,
      request: { id: `req_${p.pi.slice(5)}`, idempotency_key: `pi.create-${p.orderId}-1` },
      type,
    };
    return { id, type, paymentId: p.paymentId, body: Buffer.from(JSON.stringify(body, null, 2)) };
  };
  const list = [
    ev('payment_intent.created', { ...intent, status: 'requires_payment_method', amount_received: 0, latest_charge: null }, 0),
    ev('payment_intent.succeeded', intent, 1),
    ev('charge.succeeded', charge, 2),
    ev('charge.updated', charge, 3),
  ];
  // Stripe does not order its events: about one payment in five arrives shuffled.
  if (Math.random() < 0.2) list.sort(() => Math.random() - 0.5);
  return list;
}

class EventSource {
  private pending: Outgoing[] = [];
  private next_ = 0;
  constructor(private readonly payments: SeededPayment[]) {}
  next(): Outgoing {
    if (this.pending.length === 0) {
      const p = this.payments[this.next_++];
      if (!p) throw new Error('ran out of seeded payments');
      this.pending = eventsOf(p);
    }
    return this.pending.shift() as Outgoing;
  }
}

function signature(body: Buffer): string {
  const t = Math.floor(Date.now() / 1000);
  return `t=${t},v1=${createHmac('sha256', SECRET).update(`${t}.`).update(body).digest('hex')}`;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
function post(port: number, e: Outgoing): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/stripe/webhooks',
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'content-length': e.body.length,
          'stripe-signature': signature(e.body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(e.body);
  });
}

/** Open loop: requests leave on a fixed schedule whatever the answers do. */
async function openLoop(port: number, source: EventSource, rate: number, seconds: number, onOk: (e: Outgoing, at: number) => void) {
  const inFlight: Promise<void>[] = [];
  const total = Math.round(rate * seconds);
  const start = performance.now();
  let sent = 0;
  let failed = 0;
  let okCount = 0;
  const statuses = new Map<number, number>();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const e = source.next();
      inFlight.push(
        post(port, e).then((status) => {
          if (status >= 200 && status < 300) {
            okCount++;
            onOk(e, Date.now());
          } else {
            failed++;
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
          }
        }),
      );
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  const failures = [...statuses].map(([status, n]) => `${n} × ${status === 0 ? 'connection error' : status}`).join(', ');
  return { sent, ok: okCount, failed, failures, seconds: (performance.now() - start) / 1000 };
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  const load0 = loadavg();
  console.log(
    `event-to-state benchmark: run ${run}, ${RATE} events/s for ${SECONDS}s (+${WARMUP_SECONDS}s warm-up), log level ${LOG_LEVEL}, ` +
      `load average ${load0.map((l) => l.toFixed(2)).join(' ')}`,
  );
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  const kafka = new Kafka({ clientId: `${run}-bench`, brokers: (process.env.KAFKA_BROKERS as string).split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin
    .createTopics({ waitForLeaders: true, topics: [T_STRIPE, T_PAYMENTS, T_BASE].map((topic) => ({ topic, numPartitions: 6 })) })
    .catch(() => undefined);
  await admin.disconnect();

  const stub = await startStripeStub();
  const common = { KAFKA_TOPIC_PREFIX: `${run}.`, KAFKA_GROUP_PREFIX: run, LOG_LEVEL, NODE_ENV: 'production' };
  const webhooks = await start({
    name: 'webhooks',
    entry: 'services/webhooks/src/main.ts',
    env: { ...common, DATABASE_SCHEMA: WH_SCHEMA, STRIPE_WEBHOOK_SECRETS: SECRET },
  });
  const payments = await start({
    name: 'payments',
    entry: 'services/payments/src/main.ts',
    env: {
      ...common,
      DATABASE_SCHEMA: PAY_SCHEMA,
      STRIPE_SECRET_KEY: 'sk_test_bench_stub',
      STRIPE_PUBLISHABLE_KEY: 'pk_test_bench_stub',
      STRIPE_API_BASE: stub.url,
      STRIPE_WEBHOOK_SECRETS: SECRET,
      PAYMENTS_JANITOR_INTERVAL_MS: '0',
      // Production asks for one (decision 0024); nothing here calls payments' API.
      SERVICE_TOKEN: randomBytes(24).toString('hex'),
    },
    nodeArgs: (process.env.BENCH_PAYMENTS_NODE_ARGS ?? '').split(' ').filter(Boolean),
  });
  console.log(`services ready (logs: /tmp/${run}.*.log)`);

  // Observer: first arrival of each Stripe event on stripe.events.v1, of each payment.succeeded, of each baseline output.
  const onStripe = new Map<string, number>();
  const succeeded = new Map<string, number>(); // paymentId → arrival
  const onBase = new Map<string, number>();
  let paymentMessages = 0;
  const paymentTypes = new Map<string, number>();
  const observer = kafka.consumer({ groupId: `${run}.observer`, maxWaitTimeInMs: 20 });
  await observer.connect();
  await observer.subscribe({ topics: [T_STRIPE, T_PAYMENTS, T_BASE], fromBeginning: true });
  await observer.run({
    partitionsConsumedConcurrently: 6,
    eachMessage: async ({ topic, message }) => {
      const at = Date.now();
      const v = message.value?.toString() ?? '';
      if (topic === T_PAYMENTS) {
        paymentMessages++;
        const type = /"type":"([^"]+)"/.exec(v)?.[1] ?? '?';
        paymentTypes.set(type, (paymentTypes.get(type) ?? 0) + 1);
        if (type === 'payment.succeeded') {
          const id = /"paymentId":"([^"]+)"/.exec(v)?.[1];
          if (id && !succeeded.has(id)) succeeded.set(id, at);
        }
        return;
      }
      const id = /"stripeEventId":"(evt_[^"]+)"/.exec(v)?.[1];
      if (!id) return;
      const map = topic === T_STRIPE ? onStripe : onBase;
      if (!map.has(id)) map.set(id, at);
    },
  });
  await sleep(3000);

  const perPhase = Math.ceil((RATE * (SECONDS + WARMUP_SECONDS)) / 4) + 10;
  const seeded = Array.from({ length: perPhase * (SKIP_BASELINE ? 1 : 2) }, newPayment);
  await seedPayments(pool, seeded);
  const phase1 = new EventSource(seeded.slice(0, perPhase));
  const phase2 = new EventSource(seeded.slice(perPhase));

  // ---- phase 1: webhooks → payments
  const acked = new Map<string, number>(); // event id → 2xx time
  const succeededAck = new Map<string, number>(); // paymentId → 2xx of payment_intent.succeeded
  const record = (e: Outgoing, at: number) => {
    acked.set(e.id, at);
    if (e.type === 'payment_intent.succeeded') succeededAck.set(e.paymentId, at);
  };
  console.log(`warm-up ${WARMUP_SECONDS}s …`);
  await openLoop(webhooks.port, phase1, RATE, WARMUP_SECONDS, () => undefined);
  await sleep(2000);

  console.log(`timed phase: ${RATE} events/s for ${SECONDS}s …`);
  const appliedBefore = await countApplied(pool);
  const cpu0 = { wh: cpuSeconds(webhooks.child.pid!), pay: cpuSeconds(payments.child.pid!), pg: postgresCpu(), kf: kafkaCpu(), gen: process.cpuUsage() };
  const t0 = Date.now();
  const res = await openLoop(webhooks.port, phase1, RATE, SECONDS, record);
  // Wait for the consequences of the phase (payment.succeeded of every acknowledged payment_intent.succeeded).
  const deadline = Date.now() + 60_000;
  while ([...succeededAck.keys()].some((id) => !succeeded.has(id)) && Date.now() < deadline) await sleep(50);
  const drainedAt = Date.now();
  await sleep(1500); // reconciliation of the last charges
  const cpu1 = { wh: cpuSeconds(webhooks.child.pid!), pay: cpuSeconds(payments.child.pid!), pg: postgresCpu(), kf: kafkaCpu(), gen: process.cpuUsage(cpu0.gen) };
  const applied = (await countApplied(pool)) - appliedBefore;
  const load1 = loadavg();

  const hop = summarize([...acked].filter(([id]) => onStripe.has(id)).map(([id, at]) => (onStripe.get(id) as number) - at));
  const e2s = summarize([...succeededAck].filter(([id]) => succeeded.has(id)).map(([id, at]) => (succeeded.get(id) as number) - at));
  const missing = [...succeededAck.keys()].filter((id) => !succeeded.has(id)).length;
  const [state] = (
    await pool.query<{ succeeded: number; transitions: number; recon: number; entries: number }>(
      `SELECT (SELECT count(*) FROM "${PAY_SCHEMA}".payments WHERE status = 'succeeded')::int AS succeeded,
              (SELECT count(*) FROM "${PAY_SCHEMA}".payment_transitions WHERE transition_key = 'succeeded')::int AS transitions,
              (SELECT count(*) FROM "${PAY_SCHEMA}".reconciliation_sources)::int AS recon,
              (SELECT count(*) FROM "${PAY_SCHEMA}".reconciliation_entries)::int AS entries`,
    )
  ).rows;
  const n = res.ok;
  const per1k = (s: number) => f3((s / n) * 1000);
  const genCpu = (cpu1.gen.user + cpu1.gen.system) / 1e6;
  const rows: Record<string, string | number>[] = [
    {
      measure: '2xx → payment.succeeded on payments.events.v1',
      p50_ms: f1(e2s.p50),
      p99_ms: f1(e2s.p99),
      max_ms: f1(e2s.max),
      samples: e2s.n,
    },
    { measure: 'baseline: 2xx → stripe.events.v1 (webhooks hop alone)', p50_ms: f1(hop.p50), p99_ms: f1(hop.p99), max_ms: f1(hop.max), samples: hop.n },
  ];
  const resources: Record<string, string | number>[] = [
    { process: 'payments', 'cpu s': (cpu1.pay - cpu0.pay).toFixed(2), 'cpu s / 1k events': per1k(cpu1.pay - cpu0.pay), 'peak RSS MB': Math.round(peakRssMb(payments.child.pid!)) },
    { process: 'webhooks', 'cpu s': (cpu1.wh - cpu0.wh).toFixed(2), 'cpu s / 1k events': per1k(cpu1.wh - cpu0.wh), 'peak RSS MB': Math.round(peakRssMb(webhooks.child.pid!)) },
    { process: 'PostgreSQL (all backends)', 'cpu s': cpuDelta(cpu0.pg, cpu1.pg).toFixed(2), 'cpu s / 1k events': per1k(cpuDelta(cpu0.pg, cpu1.pg)), 'peak RSS MB': '-' },
    { process: 'Kafka broker', 'cpu s': cpuDelta(cpu0.kf, cpu1.kf).toFixed(2), 'cpu s / 1k events': per1k(cpuDelta(cpu0.kf, cpu1.kf)), 'peak RSS MB': '-' },
    { process: 'bench (load + observer + stub)', 'cpu s': genCpu.toFixed(2), 'cpu s / 1k events': per1k(genCpu), 'peak RSS MB': Math.round(peakRssMb(process.pid)) },
  ];
  const phase1Summary =
    `phase 1: ${res.sent} events sent in ${res.seconds.toFixed(1)} s → ${f1(res.ok / res.seconds)} 2xx/s (${res.failed} non-2xx${res.failed ? `: ${res.failures}` : ''}); ` +
    `payments applied ${applied} Stripe events, all consequences on Kafka ${((drainedAt - t0) / 1000).toFixed(1)} s after the first send ` +
    `(${f1(applied / ((drainedAt - t0) / 1000))} events/s)${missing ? `; ${missing} payment.succeeded never arrived` : ''}\n` +
    `state: ${state.succeeded} payments succeeded (${state.transitions} 'succeeded' transitions), ${succeeded.size} distinct payment.succeeded on Kafka ` +
    `(${paymentMessages} payments.events.v1 messages: ${[...paymentTypes].map(([t, c]) => `${t} ${c}`).join(', ')}), ` +
    `${state.recon} reconciliation sources, ${state.entries} entries, ${stub.calls()} Stripe stub calls\n` +
    `load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after phase 1 ${load1.map((l) => l.toFixed(2)).join(' ')}`;
  await stopProcess(payments);

  // ---- phase 2: webhooks → raw kafkajs consumer (baseline)
  let baseRow: Record<string, string | number> | undefined;
  let baseRes: Record<string, string | number> | undefined;
  if (!SKIP_BASELINE) {
    const base = await start({
      name: 'baseline',
      entry: 'bench/payments/baseline-consumer.ts',
      env: { BASELINE_IN: T_STRIPE, BASELINE_OUT: T_BASE, BASELINE_GROUP: `${run}.baseline`, BASELINE_SCHEMA: BASE_SCHEMA },
      ready: 'stdout',
    });
    await sleep(2000);
    console.log(`baseline phase: ${RATE} events/s for ${SECONDS}s through a raw kafkajs consumer …`);
    await openLoop(webhooks.port, phase2, RATE, Math.min(3, WARMUP_SECONDS), () => undefined);
    await sleep(1000);
    const ackedB = new Map<string, number>();
    const c0 = cpuSeconds(base.child.pid!);
    const r2 = await openLoop(webhooks.port, phase2, RATE, SECONDS, (e, at) => ackedB.set(e.id, at));
    const d2 = Date.now() + 30_000;
    while ([...ackedB.keys()].some((id) => !onBase.has(id)) && Date.now() < d2) await sleep(50);
    const c1 = cpuSeconds(base.child.pid!);
    const lag = summarize([...ackedB].filter(([id]) => onBase.has(id)).map(([id, at]) => (onBase.get(id) as number) - at));
    const hop2 = summarize([...ackedB].filter(([id]) => onStripe.has(id)).map(([id, at]) => (onStripe.get(id) as number) - at));
    baseRow = { measure: 'baseline: 2xx → raw kafkajs consumer output (every event)', p50_ms: f1(lag.p50), p99_ms: f1(lag.p99), max_ms: f1(lag.max), samples: lag.n };
    rows.push(baseRow, {
      measure: '  (same phase) 2xx → stripe.events.v1',
      p50_ms: f1(hop2.p50),
      p99_ms: f1(hop2.p99),
      max_ms: f1(hop2.max),
      samples: hop2.n,
    });
    baseRes = {
      process: 'baseline consumer (phase 2)',
      'cpu s': (c1 - c0).toFixed(2),
      'cpu s / 1k events': f3(((c1 - c0) / r2.ok) * 1000),
      'peak RSS MB': Math.round(peakRssMb(base.child.pid!)),
    };
    resources.push(baseRes);
    await stopProcess(base);
  }

  printTable('lag at a fixed rate (from the 2xx of the webhook)', rows);
  printTable('CPU per 1,000 Stripe events (phase 1) and peak RSS', resources);
  console.log(`\n${phase1Summary}\nload average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

async function countApplied(pool: Pool): Promise<number> {
  const r = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${PAY_SCHEMA}".applied_stripe_events`);
  return r.rows[0].n;
}

async function cleanup(): Promise<void> {
  for (const p of procs) await stopProcess(p).catch(() => undefined);
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
  for (const s of [WH_SCHEMA, PAY_SCHEMA, BASE_SCHEMA]) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => undefined);
  await pool.end().catch(() => undefined);
  const admin = new Kafka({ clientId: `${run}-cleanup`, brokers: (process.env.KAFKA_BROKERS as string).split(','), logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${run}.`));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30000 });
  } catch {
    /* best effort */
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
async function entry(): Promise<number> {
  try {
    await main();
    return 0;
  } catch (error) {
    console.error((error as Error).stack ?? String(error));
    return 1;
  } finally {
    await cleanup();
  }
}
void entry().then((code) => process.exit(code));
