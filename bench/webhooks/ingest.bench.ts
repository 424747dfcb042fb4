/**
 * Webhook ingestion benchmark (issue #4, bench B1): the real webhooks service (child process) on the real
 * PostgreSQL and Kafka, against a Stripe-sample-style baseline handler on the same load, in the same run.
 *
 *   node -r @swc-node/register bench/webhooks/ingest.bench.ts [--seconds 60] [--rate-seconds 20]
 *        [--concurrency 64] [--skip-baseline]
 *
 * Prints a table: sustained events/s (closed loop), p50/p99 time to 2xx at a fixed 1,000 events/s (open loop,
 * latency counted from the scheduled send time, so a stall is not hidden), 2xx → Kafka lag at 500 events/s,
 * CPU seconds per 1,000 events and peak RSS of each process. Load: signed Stripe-shaped events (~1.4 KB, pretty
 * printed like Stripe's), 10 % duplicates of recently sent events, 20 % of each payment's events out of order.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
// The kafkajs idle-spin fix the services run with (see the module), so the baselines and observers pay no more than they do.
import { applyKafkajsIdleFix } from '@omnipay/messaging';
import { Pool } from 'pg';
import { arg, cpuSeconds, peakRssMb } from '../lib';
import { cpuDelta, cpuSplit, kafkaCpu, loadInfraEnv, postgresCpu, sleep, startProcess, stopProcess } from '../processes';

applyKafkajsIdleFix();

// ---------------------------------------------------------------- arguments and environment
const SECONDS = arg('seconds', 60);
const RATE_SECONDS = arg('rate-seconds', 20);
const CONCURRENCY = arg('concurrency', 64);
const WARMUP_SECONDS = arg('warmup-seconds', 5);
const SKIP_BASELINE = process.argv.includes('--skip-baseline');

loadInfraEnv();

const run = `bench_wh_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const SECRET = `whsec_${randomBytes(24).toString('hex')}`;
const TOPIC = `${run}.stripe.events.v1`;

// ---------------------------------------------------------------- Stripe-shaped events
interface Outgoing {
  id: string;
  body: Buffer;
}

let seq = 0;
function paymentEvents(): Outgoing[] {
  const n = ++seq;
  const base = `${run.slice(-8)}${n.toString(36).padStart(8, '0')}`;
  const pi = `pi_3Q${base}`;
  const ch = `ch_3Q${base}`;
  const created = Math.floor(Date.now() / 1000);
  const amount = 1000 + (n % 9000);
  const intent = {
    id: pi,
    object: 'payment_intent',
    amount,
    amount_capturable: 0,
    amount_received: amount,
    capture_method: 'automatic_async',
    client_secret: `${pi}_secret_${randomBytes(12).toString('hex')}`,
    confirmation_method: 'automatic',
    created,
    currency: 'usd',
    customer: null,
    latest_charge: ch,
    livemode: false,
    metadata: { order_id: `ord_${base}`, channel: 'web', store_id: 'store_1' },
    payment_method: `pm_1Q${base}`,
    payment_method_types: ['card'],
    status: 'succeeded',
  };
  const charge = {
    id: ch,
    object: 'charge',
    amount,
    amount_captured: amount,
    amount_refunded: 0,
    balance_transaction: `txn_3Q${base}`,
    captured: true,
    created,
    currency: 'usd',
    livemode: false,
    metadata: intent.metadata,
    paid: true,
    payment_intent: pi,
    payment_method: intent.payment_method,
    payment_method_details: {
      card: { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2034, funding: 'credit' },
      type: 'card',
    },
    refunded: false,
    status: 'succeeded',
  };
  const ev = (type: string, object: unknown, i: number) => {
    const id = `evt_3Q${base}${i}`;
    const body = {
      id,
      object: 'event',
      api_version: '2026-10-28.endive',
      created: created + i,
      data: { object },
      livemode: false,
      pending_webhooks: 1,
      request: { id: `req_${base}`, idempotency_key: `order-${base}-attempt-1` },
      type,
    };
    return { id, body: Buffer.from(JSON.stringify(body, null, 2)) };
  };
  const list = [
    ev(
      'payment_intent.created',
      { ...intent, status: 'requires_payment_method', amount_received: 0, latest_charge: null },
      0,
    ),
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
  private recent: Outgoing[] = [];
  readonly sentIds = new Set<string>();
  duplicatesSent = 0;

  next(): Outgoing {
    if (this.recent.length > 100 && Math.random() < 0.1) {
      this.duplicatesSent++;
      return this.recent[Math.floor(Math.random() * this.recent.length)];
    }
    if (this.pending.length === 0) this.pending = paymentEvents();
    const e = this.pending.shift() as Outgoing;
    this.recent.push(e);
    if (this.recent.length > 2000) this.recent.shift();
    this.sentIds.add(e.id);
    return e;
  }
}

function signature(body: Buffer): string {
  const t = Math.floor(Date.now() / 1000);
  return `t=${t},v1=${createHmac('sha256', SECRET).update(`${t}.`).update(body).digest('hex')}`;
}

// ---------------------------------------------------------------- HTTP load
interface Sample {
  status: number;
  ms: number;
  duplicate: boolean;
  at: number;
  /** Open loop: how late after its scheduled time the request left the generator (a stall of the generator itself). */
  late?: number;
}

interface Answer {
  status: number;
  body: string;
}

/**
 * A minimal HTTP/1.1 keep-alive client: one request at a time per connection, connections reused from a free
 * list, answers with a Content-Length only (both handlers send one). The load generator shares the two cores with
 * what it measures, so it must cost as little as possible per request: `http.request` + `http.Agent` cost about
 * twice as much CPU per request as this (socket bookkeeping, ClientRequest/IncomingMessage objects).
 * Both handlers get the same client, so the comparison stays fair.
 */
class Connection {
  private readonly socket: Socket;
  private chunks: Buffer[] = [];
  private size = 0;
  private waiting?: (a: Answer) => void;
  closed = false;
  /** When the last answer arrived: a connection idle for long may be being closed by the server right now. */
  idleSince = Date.now();

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = () => {
      this.closed = true;
      const w = this.waiting;
      this.waiting = undefined;
      w?.({ status: 0, body: '' });
    };
    this.socket.on('error', fail);
    this.socket.on('close', fail);
  }

  request(head: string, body: Buffer): Promise<Answer> {
    return new Promise((resolve) => {
      if (this.closed) return resolve({ status: 0, body: '' });
      this.waiting = resolve;
      this.chunks = [];
      this.size = 0;
      this.socket.cork();
      this.socket.write(head, 'latin1');
      this.socket.write(body);
      this.socket.uncork();
    });
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const all = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.size);
    const headEnd = all.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = all.toString('latin1', 0, headEnd);
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    const length = m ? Number(m[1]) : 0;
    if (all.length < headEnd + 4 + length) return;
    if (/\r\nconnection: *close/i.test(head)) {
      this.closed = true;
      this.socket.destroy();
    }
    const w = this.waiting;
    this.waiting = undefined;
    this.chunks = [];
    this.size = 0;
    this.idleSince = Date.now();
    w?.({ status: Number(head.slice(9, 12)), body: all.toString('utf8', headEnd + 4, headEnd + 4 + length) });
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/** Like `http.Agent({ keepAlive: true, maxSockets })`: reuse idle connections, open more up to a bound, then queue. */
class HttpLoad {
  private static readonly MAX_CONNECTIONS = 512;
  /** Node's server closes keep-alive connections idle for 5 s; never race it for one idle that long. */
  private static readonly MAX_IDLE_MS = 2000;
  private readonly free: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly queue: (() => void)[] = [];

  constructor(private readonly target: Target) {}

  async post(e: Outgoing): Promise<Answer> {
    const conn = await this.acquire();
    const head =
      `POST ${this.target.path} HTTP/1.1\r\nHost: 127.0.0.1:${this.target.port}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${e.body.length}\r\n` +
      `Stripe-Signature: ${signature(e.body)}\r\n\r\n`;
    const answer = await conn.request(head, e.body);
    this.release(conn);
    return answer;
  }

  private async acquire(): Promise<Connection> {
    for (;;) {
      const now = Date.now();
      let conn = this.free.pop();
      while (conn && (conn.closed || now - conn.idleSince > HttpLoad.MAX_IDLE_MS)) {
        conn.close();
        this.all.delete(conn);
        conn = this.free.pop();
      }
      if (conn) return conn;
      if (this.all.size < HttpLoad.MAX_CONNECTIONS) {
        const c = new Connection(this.target.port);
        this.all.add(c);
        return c;
      }
      await new Promise<void>((resolve) => this.queue.push(resolve));
    }
  }

  private release(conn: Connection): void {
    if (conn.closed) this.all.delete(conn);
    else this.free.push(conn);
    this.queue.shift()?.();
  }

  close(): void {
    for (const c of this.all) c.close();
    this.all.clear();
    this.free.length = 0;
  }
}

interface Target {
  port: number;
  path: string;
}

const loads = new Map<Target, HttpLoad>();
function loadOf(target: Target): HttpLoad {
  let l = loads.get(target);
  if (!l) loads.set(target, (l = new HttpLoad(target)));
  return l;
}

async function closedLoop(
  target: Target,
  source: EventSource,
  seconds: number,
  concurrency: number,
  onOk?: (e: Outgoing, s: Sample) => void,
) {
  const samples: Sample[] = [];
  const end = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < end) {
      const e = source.next();
      const t0 = performance.now();
      const res = await loadOf(target).post(e);
      const s = {
        status: res.status,
        ms: performance.now() - t0,
        duplicate: res.body.includes('"duplicate":true'),
        at: Date.now(),
      };
      samples.push(s);
      if (res.status >= 200 && res.status < 300) onOk?.(e, s);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { samples, seconds: (performance.now() - started) / 1000 };
}

/** Open loop: requests leave on a fixed schedule whatever the answers do; latency counts from the schedule. */
async function openLoop(
  target: Target,
  source: EventSource,
  rate: number,
  seconds: number,
  onOk?: (e: Outgoing, s: Sample) => void,
) {
  const samples: Sample[] = [];
  const inFlight: Promise<void>[] = [];
  const total = Math.round(rate * seconds);
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - start) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const scheduled = start + (sent / rate) * 1000;
      const e = source.next();
      const late = performance.now() - scheduled;
      inFlight.push(
        loadOf(target)
          .post(e)
          .then((res) => {
            const s = {
              status: res.status,
              ms: performance.now() - scheduled,
              duplicate: res.body.includes('"duplicate":true'),
              at: Date.now(),
              late,
            };
            samples.push(s);
            if (res.status >= 200 && res.status < 300) onOk?.(e, s);
          }),
      );
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  if (process.env.BENCH_STALLS) printStalls(`${target.port} @ ${rate}/s`, samples, Number(process.env.BENCH_STALLS));
  return { samples, seconds: (performance.now() - start) / 1000 };
}

/** BENCH_STALLS=<ms>: when answers slower than that came back (wall clock), to line them up with engine logs. */
function printStalls(name: string, samples: Sample[], overMs: number): void {
  const slow = samples.filter((s) => s.ms > overMs);
  const bySecond = new Map<number, number[]>();
  for (const s of slow) {
    const key = Math.floor((s.at - s.ms) / 100) * 100;
    bySecond.set(key, [...(bySecond.get(key) ?? []), s.ms]);
  }
  process.stdout.write(`stalls ${name}: ${slow.length} answers over ${overMs} ms\n`);
  for (const [t, ms] of [...bySecond].sort((a, b) => a[0] - b[0]))
    process.stdout.write(`  sent ${new Date(t).toISOString()}  ${ms.length} × up to ${Math.max(...ms).toFixed(0)} ms\n`);
}

// ---------------------------------------------------------------- statistics and output
function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
const ok = (s: Sample[]) => s.filter((x) => x.status >= 200 && x.status < 300);
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '–');

interface Row {
  scenario: string;
  target: string;
  eventsPerSec: string;
  p50: string;
  p99: string;
  non2xx: string;
  cpuPer1k: string;
}

/** How late the generator itself sent an open-loop phase's requests: large values mean the load, not the handler, stalled. */
function lateness(name: string, samples: Sample[]): string {
  const late = samples.map((x) => x.late ?? 0);
  return `${name}: requests left the generator late by p50 ${f1(pct(late, 50))} ms, p99 ${f1(pct(late, 99))} ms, max ${f1(pct(late, 100))} ms`;
}

function table(rows: Row[]): string {
  const head: Row = {
    scenario: 'scenario',
    target: 'handler',
    eventsPerSec: '2xx/s',
    p50: 'p50 ms',
    p99: 'p99 ms',
    non2xx: 'non-2xx',
    cpuPer1k: 'CPU s/1k ev (handler)',
  };
  const all = [head, ...rows];
  const keys = Object.keys(head) as (keyof Row)[];
  const width = keys.map((k) => Math.max(...all.map((r) => r[k].length)));
  const line = (r: Row) => `| ${keys.map((k, i) => r[k].padEnd(width[i])).join(' | ')} |`;
  return [line(head), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  process.stdout.write(
    `webhook ingest benchmark: run ${run}, sustained ${SECONDS}s @ concurrency ${CONCURRENCY}, fixed-rate phases ${RATE_SECONDS}s\n`,
  );
  const rows: Row[] = [];
  const extra: string[] = [];

  const service = await startProcess({
    run,
    name: 'webhooks',
    entry: 'services/webhooks/src/main.ts',
    env: {
      DATABASE_SCHEMA: run,
      KAFKA_TOPIC_PREFIX: `${run}.`,
      KAFKA_GROUP_PREFIX: run,
      STRIPE_WEBHOOK_SECRETS: SECRET,
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
    },
    nodeArgs: (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean),
  });
  const svcPid = service.child.pid as number;
  const target: Target = { port: service.port, path: '/stripe/webhooks' };

  // Kafka side: first arrival of each Stripe event id on stripe.events.v1.
  const kafka = new Kafka({
    clientId: `${run}-bench`,
    brokers: (process.env.KAFKA_BROKERS as string).split(','),
    logLevel: logLevel.NOTHING,
  });
  const arrivals = new Map<string, number>();
  let kafkaMessages = 0;
  // The service creates its topic on first publish; the observer subscribes before that, so it creates it.
  const topicAdmin = kafka.admin();
  await topicAdmin.connect();
  if (!(await topicAdmin.listTopics()).includes(TOPIC)) {
    await topicAdmin
      .createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: 6 }] })
      .catch(() => undefined);
  }
  await topicAdmin.disconnect();
  const consumer = kafka.consumer({ groupId: `${run}.bench-lag`, maxWaitTimeInMs: 20 });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  // Batches and a byte search for the id: this observer runs in the load generator's process, on the same cores.
  const ID_FIELD = Buffer.from('"stripeEventId":"');
  await consumer.run({
    partitionsConsumedConcurrently: 6,
    eachBatch: async ({ batch }) => {
      const at = Date.now();
      for (const message of batch.messages) {
        kafkaMessages++;
        const v = message.value;
        const from = v ? v.indexOf(ID_FIELD) : -1;
        if (!v || from < 0) continue;
        const start = from + ID_FIELD.length;
        const id = v.toString('latin1', start, v.indexOf(34, start));
        if (!arrivals.has(id)) arrivals.set(id, at);
      }
    },
  });
  await sleep(3000);

  const source = new EventSource();
  const acked = new Map<string, number>(); // first non-duplicate 2xx per event id
  const record = (e: Outgoing, s: Sample) => {
    if (!s.duplicate && !acked.has(e.id)) acked.set(e.id, s.at);
  };

  process.stdout.write(`warm-up ${WARMUP_SECONDS}s …\n`);
  await openLoop(target, source, 500, WARMUP_SECONDS, record);

  // 1. sustained closed-loop throughput
  process.stdout.write(`sustained ${SECONDS}s …\n`);
  let cpu0 = cpuSeconds(svcPid);
  const split0 = cpuSplit(svcPid);
  const pg0 = postgresCpu();
  const kf0 = kafkaCpu();
  const gen0 = process.cpuUsage();
  const sustained = await closedLoop(target, source, SECONDS, CONCURRENCY, record);
  let handled = sustained.samples.length;
  const svcCpuSustained = cpuSeconds(svcPid) - cpu0;
  const split1 = cpuSplit(svcPid);
  const pgCpu = cpuDelta(pg0, postgresCpu());
  const kfCpu = cpuDelta(kf0, kafkaCpu());
  const g = process.cpuUsage(gen0);
  const genCpu = (g.user + g.system) / 1e6;
  const sOk = ok(sustained.samples);
  rows.push({
    scenario: `sustained, closed loop c=${CONCURRENCY}, ${SECONDS}s`,
    target: 'webhooks service',
    eventsPerSec: f1(sOk.length / sustained.seconds),
    p50: f1(
      pct(
        sOk.map((s) => s.ms),
        50,
      ),
    ),
    p99: f1(
      pct(
        sOk.map((s) => s.ms),
        99,
      ),
    ),
    non2xx: String(sustained.samples.length - sOk.length),
    cpuPer1k: f2((svcCpuSustained / handled) * 1000),
  });
  extra.push(
    `sustained phase CPU s per 1,000 events: webhooks ${f2((svcCpuSustained / handled) * 1000)}, PostgreSQL (all backends on the box) ${f2((pgCpu / handled) * 1000)}, ` +
      `Kafka broker ${f2((kfCpu / handled) * 1000)}, load generator ${f2((genCpu / handled) * 1000)}; ` +
      `webhooks user ${f2(((split1.user - split0.user) / handled) * 1000)} + kernel ${f2(((split1.system - split0.system) / handled) * 1000)}`,
  );

  // 2. fixed 1,000 events/s
  process.stdout.write(`1,000 events/s for ${RATE_SECONDS}s …\n`);
  cpu0 = cpuSeconds(svcPid);
  const at1000 = await openLoop(target, source, 1000, RATE_SECONDS, record);
  extra.push(lateness('open loop 1,000/s, webhooks service', at1000.samples));
  handled = at1000.samples.length;
  const a1Ok = ok(at1000.samples);
  rows.push({
    scenario: `open loop 1,000/s, ${RATE_SECONDS}s`,
    target: 'webhooks service',
    eventsPerSec: f1(a1Ok.length / at1000.seconds),
    p50: f1(
      pct(
        a1Ok.map((s) => s.ms),
        50,
      ),
    ),
    p99: f1(
      pct(
        a1Ok.map((s) => s.ms),
        99,
      ),
    ),
    non2xx: String(at1000.samples.length - a1Ok.length),
    cpuPer1k: f2(((cpuSeconds(svcPid) - cpu0) / handled) * 1000),
  });

  // 3. fixed 500 events/s with 2xx → Kafka lag
  process.stdout.write(`500 events/s for ${RATE_SECONDS}s with Kafka lag …\n`);
  const lagIds = new Map<string, number>();
  cpu0 = cpuSeconds(svcPid);
  const at500 = await openLoop(target, source, 500, RATE_SECONDS, (e, s) => {
    record(e, s);
    if (!s.duplicate && !lagIds.has(e.id)) lagIds.set(e.id, s.at);
  });
  handled = at500.samples.length;
  const a5Ok = ok(at500.samples);
  rows.push({
    scenario: `open loop 500/s, ${RATE_SECONDS}s`,
    target: 'webhooks service',
    eventsPerSec: f1(a5Ok.length / at500.seconds),
    p50: f1(
      pct(
        a5Ok.map((s) => s.ms),
        50,
      ),
    ),
    p99: f1(
      pct(
        a5Ok.map((s) => s.ms),
        99,
      ),
    ),
    non2xx: String(at500.samples.length - a5Ok.length),
    cpuPer1k: f2(((cpuSeconds(svcPid) - cpu0) / handled) * 1000),
  });
  const lagDeadline = Date.now() + 30_000;
  while ([...lagIds.keys()].some((id) => !arrivals.has(id)) && Date.now() < lagDeadline) await sleep(100);
  const lags = [...lagIds]
    .filter(([id]) => arrivals.has(id))
    .map(([id, at]) => (arrivals.get(id) as number) - at);
  const missing = lagIds.size - lags.length;

  // Exactly-once check: every acknowledged unique event is one row and one outbox message.
  const allDeadline = Date.now() + 60_000;
  while ([...acked.keys()].some((id) => !arrivals.has(id)) && Date.now() < allDeadline) await sleep(200);
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
  const [{ events, outbox }] = (
    await pool.query(
      `SELECT (SELECT count(*) FROM "${run}".stripe_events)::int AS events, (SELECT count(*) FROM "${run}".outbox)::int AS outbox`,
    )
  ).rows as { events: number; outbox: number }[];
  const svcRss = peakRssMb(svcPid);
  await consumer.disconnect();
  loadOf(target).close();
  await stopProcess(service);

  // Baseline on the same load.
  let baseRss = NaN;
  if (!SKIP_BASELINE) {
    const base = await startProcess({
      run,
      name: 'baseline',
      entry: 'bench/webhooks/baseline-server.ts',
      env: { STRIPE_WEBHOOK_SECRET: SECRET },
    });
    const basePid = base.child.pid as number;
    const bt: Target = { port: base.port, path: '/webhook' };
    const bsrc = new EventSource();
    await openLoop(bt, bsrc, 500, WARMUP_SECONDS);
    process.stdout.write(`baseline sustained ${SECONDS}s …\n`);
    cpu0 = cpuSeconds(basePid);
    const bs = await closedLoop(bt, bsrc, SECONDS, CONCURRENCY);
    const bsOk = ok(bs.samples);
    rows.push({
      scenario: `sustained, closed loop c=${CONCURRENCY}, ${SECONDS}s`,
      target: 'baseline (constructEvent, 200)',
      eventsPerSec: f1(bsOk.length / bs.seconds),
      p50: f1(
        pct(
          bsOk.map((s) => s.ms),
          50,
        ),
      ),
      p99: f1(
        pct(
          bsOk.map((s) => s.ms),
          99,
        ),
      ),
      non2xx: String(bs.samples.length - bsOk.length),
      cpuPer1k: f2(((cpuSeconds(basePid) - cpu0) / bs.samples.length) * 1000),
    });
    process.stdout.write(`baseline 1,000 events/s for ${RATE_SECONDS}s …\n`);
    cpu0 = cpuSeconds(basePid);
    const b1 = await openLoop(bt, bsrc, 1000, RATE_SECONDS);
    extra.push(lateness('open loop 1,000/s, baseline', b1.samples));
    const b1Ok = ok(b1.samples);
    rows.push({
      scenario: `open loop 1,000/s, ${RATE_SECONDS}s`,
      target: 'baseline (constructEvent, 200)',
      eventsPerSec: f1(b1Ok.length / b1.seconds),
      p50: f1(
        pct(
          b1Ok.map((s) => s.ms),
          50,
        ),
      ),
      p99: f1(
        pct(
          b1Ok.map((s) => s.ms),
          99,
        ),
      ),
      non2xx: String(b1.samples.length - b1Ok.length),
      cpuPer1k: f2(((cpuSeconds(basePid) - cpu0) / b1.samples.length) * 1000),
    });
    baseRss = peakRssMb(basePid);
    loadOf(bt).close();
    await stopProcess(base);
  }

  await pool.query(`DROP SCHEMA IF EXISTS "${run}" CASCADE`);
  await pool.end();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [TOPIC] }).catch(() => undefined);
  await admin.disconnect();

  process.stdout.write(`\n${table(rows)}\n\n`);
  process.stdout.write(
    `2xx → message on stripe.events.v1 at 500 events/s: p50 ${f1(pct(lags, 50))} ms, p99 ${f1(pct(lags, 99))} ms, max ${f1(pct(lags, 100))} ms ` +
      `(${lags.length} events${missing ? `, ${missing} never arrived` : ''})\n`,
  );
  process.stdout.write(`peak RSS: webhooks service ${f1(svcRss)} MB, baseline ${f1(baseRss)} MB\n`);
  for (const l of extra) process.stdout.write(`${l}\n`);
  process.stdout.write(
    `exactly once: ${source.sentIds.size} unique events sent (+${source.duplicatesSent} duplicates), ${acked.size} acknowledged as new, ` +
      `${events} rows in stripe_events, ${outbox} outbox rows, ${[...acked.keys()].filter((id) => arrivals.has(id)).length} on Kafka, ` +
      `${kafkaMessages} Kafka messages in all → ${events === acked.size && outbox === events && kafkaMessages === events ? 'OK' : 'MISMATCH'}\n`,
  );
  process.stdout.write(`service log: ${service.logFile}\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
