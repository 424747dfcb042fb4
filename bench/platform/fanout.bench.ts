// Fan-out of one Stripe payment to orders, inventory and loyalty on the whole platform (issue #5, benches B2/B3).
//
//   node -r @swc-node/register bench/platform/fanout.bench.ts [--rate 200] [--seconds 30] [--warmup 5]
//        [--max-inflight 128] [--backlog 20000] [--orders 2000] [--skip-steady] [--skip-backlog]
//
// (a) Steady rate, default: payments prepared beforehand and only the webhooks Stripe would send for them timed,
//     signed and posted by this process at `--rate` payments/s (see fanout-signed.ts for why and how).
//     With `--via-emulator`: `--rate` payments/s (open loop, at most `--max-inflight` under way) for `--seconds`, each a
//     gateway checkout then a browser-style confirm with pm_card_visa on the emulator (an overloaded platform
//     shows as "not sent" and a lower achieved rate rather than as a pile of gateway timeouts). For every payment started
//     after the warm-up, the lag from the emulator's 2xx for payment_intent.succeeded (delivered to the webhooks
//     service; time from the emulator's delivery log) to: order.status_changed → paid, stock.changed committed
//     and loyalty.points_changed accrual. Two clocks per effect: `occurredAt` of the envelope (written inside the
//     consumer's transaction) and the Kafka message timestamp (published by the outbox relay).
// (b) Backlog: `--orders` real orders placed through the orders service's internal API, then `--backlog`
//     payment.succeeded envelopes for them produced as fast as possible to payments.events.v1 (one real payment
//     per order, the rest are duplicates by content with fresh message ids, which the consumers must still read,
//     record in their inbox and find already applied). Time from the first send to each consumer group's inbox
//     holding the whole backlog, beside a baseline in the same run: raw kafkajs consumers (one per group, no
//     framework) doing the same effects in set-based SQL per batch on a copy of the topic.
// Prints tables, asserts nothing. CPU per 1,000 events and peak RSS per service process.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { PaymentSucceeded, Topics } from '@omnipay/contracts';
import { createEnvelope } from '@omnipay/messaging';
import { testKafka, type Stack } from '@omnipay/testing';
import type { Consumer, Kafka } from 'kafkajs';
import { Pool, type PoolClient } from 'pg';
import Stripe from 'stripe';
import { arg, printTable, summarize } from '../lib';
import { preparePayments, sendSigned } from './fanout-signed';
import {
  ONLINE_FC,
  benchCpuSeconds,
  checkoutAndConfirm,
  cpuSnapshot,
  flag,
  http,
  resourceRows,
  setStock,
  stockOf,
  settle,
  sleep,
  withPlatform,
  type Json,
  type Platform,
} from './platform';

const RATE = arg('rate', 200);
const SECONDS = arg('seconds', 30);
const WARMUP = arg('warmup', 5);
const MAX_INFLIGHT = arg('max-inflight', 128);
const BACKLOG = arg('backlog', 20000);
const ORDERS = Math.min(arg('orders', 2000), BACKLOG);
const DRAIN_TIMEOUT_S = arg('drain-timeout', 600);
const SKU = 'TSHIRT-BLK-M';
const CUSTOMERS = 1000;
const GROUPS = ['orders', 'inventory', 'loyalty'] as const;
type Group = (typeof GROUPS)[number];

// ------------------------------------------------------------------------------------------ observing effects
interface Seen {
  occurredAt: number;
  kafkaTs: number;
}
type Effect = 'paid' | 'committed' | 'points';
/** Intermediate hops, to show where the lag goes: payment_intent.succeeded on stripe.events.v1, payment.succeeded on payments.events.v1. */
type Hop = 'stripe' | 'payment';

/** Reads orders/inventory/loyalty events from the beginning and keeps, per order, when each effect happened. */
class EffectObserver {
  readonly seen: Record<Effect | Hop, Map<string, Seen>> = { paid: new Map(), committed: new Map(), points: new Map(), stripe: new Map(), payment: new Map() };
  private consumer?: Consumer;

  constructor(
    private readonly kafka: Kafka,
    private readonly prefix: string,
  ) {}

  async start(): Promise<void> {
    const topics = [Topics.stripeEvents, Topics.paymentsEvents, Topics.ordersEvents, Topics.inventoryEvents, Topics.loyaltyEvents].map((t) => `${this.prefix}${t}`);
    const admin = this.kafka.admin();
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const absent = topics.filter((t) => !existing.has(t));
    if (absent.length) await admin.createTopics({ waitForLeaders: true, topics: absent.map((topic) => ({ topic, numPartitions: 6 })) }).catch(() => undefined);
    await admin.disconnect();
    const consumer = this.kafka.consumer({ groupId: `${this.prefix}bench-observer`, maxWaitTimeInMs: 20 });
    this.consumer = consumer;
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const env = JSON.parse(m.value?.toString() ?? '{}') as Json;
          const d = (env.data ?? {}) as Json;
          const stripeObject = (env.type === 'stripe.event_received' ? d.event?.data?.object : undefined) as Json | undefined;
          if (stripeObject && d.event?.type === 'payment_intent.succeeded') {
            const orderId = stripeObject.metadata?.orderId as string | undefined;
            if (orderId && !this.seen.stripe.has(orderId)) this.seen.stripe.set(orderId, { occurredAt: Date.parse(env.occurredAt as string), kafkaTs: Number(m.timestamp) });
            continue;
          }
          const effect: Effect | Hop | undefined =
            env.type === 'payment.succeeded'
              ? 'payment'
              : env.type === 'order.status_changed' && d.to === 'paid'
              ? 'paid'
              : env.type === 'stock.changed' && d.change === 'committed'
                ? 'committed'
                : env.type === 'loyalty.points_changed' && d.reason === 'accrual'
                  ? 'points'
                  : undefined;
          if (!effect || typeof d.orderId !== 'string' || this.seen[effect].has(d.orderId)) continue;
          this.seen[effect].set(d.orderId, { occurredAt: Date.parse(env.occurredAt as string), kafkaTs: Number(m.timestamp) });
        }
      },
    });
    await joined;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}

/** payment_intent.succeeded deliveries that got a 2xx: PaymentIntent id → when the 2xx arrived (epoch ms). */
function collectWebhook2xx(stack: Stack, into: Map<string, number>, done: Set<string>): void {
  for (const d of stack.emulator.deliveries()) {
    if (d.type !== 'payment_intent.succeeded' || d.status !== 'succeeded' || done.has(d.id)) continue;
    done.add(d.id);
    const ok = d.attempts.find((a) => a.status !== null && a.status >= 200 && a.status < 300);
    const pi = (stack.emulator.emulator.store.events.get(d.event)?.data as Json | undefined)?.object?.id as string | undefined;
    if (ok && pi && !into.has(pi)) into.set(pi, ok.at + ok.duration_ms);
  }
}

// ------------------------------------------------------------------------------------------ (a) steady rate

/** Lag from each payment's webhook 2xx to each effect, on both clocks, as one table. */
function reportLags(measured: { orderId: string; paymentIntentId: string }[], twoxx: Map<string, number>, observer: EffectObserver): void {
  const lag = (effect: Effect | Hop, clock: keyof Seen) => {
    const xs: number[] = [];
    let missing = 0;
    for (const x of measured) {
      const t = twoxx.get(x.paymentIntentId);
      const e = observer.seen[effect].get(x.orderId);
      if (t === undefined || !e) missing++;
      else xs.push(e[clock] - t);
    }
    return { ...summarize(xs), missing };
  };
  const last = (clock: keyof Seen) => {
    const xs: number[] = [];
    for (const x of measured) {
      const t = twoxx.get(x.paymentIntentId);
      const es = (['paid', 'committed', 'points'] as const).map((e) => observer.seen[e].get(x.orderId));
      if (t !== undefined && es.every(Boolean)) xs.push(Math.max(...es.map((e) => (e as Seen)[clock])) - t);
    }
    return summarize(xs);
  };
  const rows: Record<string, string | number>[] = [];
  for (const [name, effect] of [['order paid (order.status_changed)', 'paid'], ['stock committed (stock.changed)', 'committed'], ['points credited (loyalty.points_changed)', 'points']] as const) {
    for (const [clockName, clock] of [['written', 'occurredAt'], ['on Kafka', 'kafkaTs']] as const) {
      const r = lag(effect, clock);
      rows.push({ effect: name, clock: clockName, n: r.n, p50: r.p50, p99: r.p99, max: r.max, missing: r.missing });
    }
  }
  for (const [name, hop] of [['hop: payment_intent.succeeded on stripe.events.v1', 'stripe'], ['hop: payment.succeeded on payments.events.v1', 'payment']] as const) {
    const r = lag(hop, 'kafkaTs');
    rows.push({ effect: name, clock: 'on Kafka', n: r.n, p50: r.p50, p99: r.p99, max: r.max, missing: r.missing });
  }
  for (const [clockName, clock] of [['written', 'occurredAt'], ['on Kafka', 'kafkaTs']] as const) {
    const r = last(clock);
    rows.push({ effect: 'last of the three', clock: clockName, n: r.n, p50: r.p50, p99: r.p99, max: r.max, missing: measured.length - r.n });
  }
  printTable(`(a) Lag from webhook 2xx (payment_intent.succeeded) to each effect, ms — ${measured.length} payments after warm-up`, rows);
}

interface Paid {
  orderId: string;
  paymentIntentId: string;
  measured: boolean;
  checkoutMs: number;
  confirmMs: number;
}

async function steady(p: Platform, observer: EffectObserver): Promise<void> {
  const { stack } = p;
  const tokens = Array.from({ length: CUSTOMERS }, (_, i) => p.token(`cust_fanout_${i}`));
  const browser = new Stripe(stack.emulator.publishableKey, { ...stack.emulator.stripeConfig, maxNetworkRetries: 0 });
  const twoxx = new Map<string, number>();
  const doneDeliveries = new Set<string>();
  const paid: Paid[] = [];
  const failures = new Map<string, number>();
  const fail = (what: string) => failures.set(what, (failures.get(what) ?? 0) + 1);
  let inflight = 0;
  let launched = 0;

  const onePayment = async (i: number, measured: boolean): Promise<void> => {
    inflight++;
    try {
      paid.push({ ...(await checkoutAndConfirm(stack, browser, tokens[i % CUSTOMERS], SKU)), measured });
    } catch (e) {
      fail(`error ${(e as Error).message.slice(0, 80)}`);
    } finally {
      inflight--;
    }
  };

  const total = RATE * (SECONDS + WARMUP);
  await setStock(stack, SKU, Math.min(1_000_000, total + ORDERS + 10000));
  console.log(`(a) steady: ${RATE} payments/s for ${WARMUP} s warm-up + ${SECONDS} s measured …`);
  const cpuBefore = cpuSnapshot(stack);
  const benchBefore = benchCpuSeconds();
  const tasks: Promise<void>[] = [];
  const started = performance.now();
  let measuredFrom = 0;
  const collector = setInterval(() => collectWebhook2xx(stack, twoxx, doneDeliveries), 2000);
  try {
    for (;;) {
      const elapsed = (performance.now() - started) / 1000;
      if (elapsed >= SECONDS + WARMUP) break;
      const due = Math.floor(elapsed * RATE);
      while (launched < due && inflight < MAX_INFLIGHT) {
        const measured = elapsed >= WARMUP;
        if (measured && !measuredFrom) measuredFrom = launched;
        tasks.push(onePayment(launched++, measured));
      }
      await sleep(5);
    }
    const notSent = total - launched;
    const loadSeconds = (performance.now() - started) / 1000;
    await Promise.all(tasks);
    const measured = paid.filter((x) => x.measured);
    console.log(`    sent ${launched} (${notSent} not sent: generator at ${MAX_INFLIGHT} in flight); waiting for every effect …`);

    // Wait until every measured payment has its 2xx and all three effects, or give up after 60 s.
    const waitUntil = Date.now() + 60000;
    const complete = () => measured.every((x) => twoxx.has(x.paymentIntentId) && observer.seen.paid.has(x.orderId) && observer.seen.committed.has(x.orderId) && observer.seen.points.has(x.orderId));
    while (Date.now() < waitUntil) {
      collectWebhook2xx(stack, twoxx, doneDeliveries);
      if (complete()) break;
      await sleep(250);
    }
    const benchCpu = benchCpuSeconds() - benchBefore;

    reportLags(measured, twoxx, observer);
    const achieved = measured.length / SECONDS;
    const co = summarize(measured.map((x) => x.checkoutMs));
    const cf = summarize(measured.map((x) => x.confirmMs));
    console.log(
      `    target ${RATE}/s, achieved ${achieved.toFixed(1)} payments/s confirmed (load ran ${loadSeconds.toFixed(1)} s); ` +
        `checkout p50/p99 ${co.p50.toFixed(1)}/${co.p99.toFixed(1)} ms, confirm p50/p99 ${cf.p50.toFixed(1)}/${cf.p99.toFixed(1)} ms` +
        (failures.size ? `; failures: ${[...failures].map(([k, n]) => `${k} × ${n}`).join(', ')}` : '; no failures'),
    );
    console.log(`    (issue target: 500 payments/s with p99 ≤ 150 ms; "written" = envelope occurredAt inside the consumer's transaction, "on Kafka" = message timestamp set by the outbox relay)`);
    printTable(`(a) Resources during the steady run and its wait for effects (warm-up included)`, resourceRows(stack, cpuBefore, paid.length, 'payments confirmed', benchCpu));
  } finally {
    clearInterval(collector);
  }
}

/** (a) with Stripe's side prepared beforehand and only its webhooks timed (fanout-signed.ts says why). */
async function steadySigned(p: Platform, observer: EffectObserver): Promise<void> {
  const { stack } = p;
  const total = RATE * (SECONDS + WARMUP);
  await setStock(stack, SKU, Math.min(1_000_000, total + ORDERS + 10000));
  console.log(`(a) steady, signed webhooks: preparing ${total} payments (orders API, payments API, confirmed on the emulator with delivery parked) …`);
  const prepStarted = performance.now();
  const orders = await placeOrders(stack, total, 'cust_fanout_');
  const prepared = await preparePayments(stack, orders, (url, body) => http(url, 'POST', body));
  const perPayment = summarize(prepared.map((x) => x.events.length));
  console.log(`    prepared in ${((performance.now() - prepStarted) / 1000).toFixed(1)} s; ${perPayment.p50} Stripe events per payment (${[...new Set(prepared[0].events.map((e) => e.type))].join(', ')})`);
  await settle(stack, p.db, 120000, { webhooks: false });
  console.log(`    sending them at ${RATE} payments/s for ${WARMUP} s warm-up + ${SECONDS} s measured …`);
  const cpuBefore = cpuSnapshot(stack);
  const benchBefore = benchCpuSeconds();
  const run = await sendSigned(stack, prepared, RATE);
  const measured = prepared.slice(RATE * WARMUP);
  const waitUntil = Date.now() + 60000;
  const complete = () => measured.every((x) => run.twoxx.has(x.paymentIntentId) && observer.seen.paid.has(x.orderId) && observer.seen.committed.has(x.orderId) && observer.seen.points.has(x.orderId));
  while (Date.now() < waitUntil && !complete()) await sleep(250);
  const benchCpu = benchCpuSeconds() - benchBefore;
  reportLags(measured, run.twoxx, observer);
  const d = summarize(run.deliveryMs);
  console.log(
    `    target ${RATE}/s: ${run.sent} payments sent in ${run.loadSeconds.toFixed(1)} s (${(run.sent / run.loadSeconds).toFixed(1)}/s), ` +
      `${run.deliveryMs.length} webhook deliveries, time to 2xx p50/p99 ${d.p50.toFixed(1)}/${d.p99.toFixed(1)} ms` +
      (run.failures.size ? `; failures: ${[...run.failures].map(([k, n]) => `${k} × ${n}`).join(', ')}` : '; no failures'),
  );
  console.log(`    (issue target: 500 payments/s with p99 ≤ 150 ms; "written" = envelope occurredAt inside the consumer's transaction, "on Kafka" = message timestamp set by the outbox relay)`);
  printTable(`(a) Resources during the steady run and its wait for effects (warm-up included; the bench process signs and sends)`, resourceRows(stack, cpuBefore, run.sent, 'payments', benchCpu));
}

// ------------------------------------------------------------------------------------------ (b) backlog
interface PlacedOrder {
  id: string;
  total: number;
  currency: string;
  storeId: string;
  customerId: string;
}

async function placeOrders(stack: Stack, n: number, customerPrefix = 'cust_backlog_'): Promise<PlacedOrder[]> {
  const out: PlacedOrder[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < n) {
        const i = next++;
        const customerId = `${customerPrefix}${i % CUSTOMERS}`;
        const res = await http(`${stack.urls.orders}/orders`, 'POST', { channel: 'web', customerId, fulfilment: 'ship', currency: 'usd', lines: [{ sku: SKU, quantity: 1 }] });
        if (res.status !== 201) throw new Error(`placing order ${i} failed: ${res.status} ${JSON.stringify(res.body)}`);
        out.push({ id: res.body.id as string, total: Number(res.body.total), currency: res.body.currency as string, storeId: res.body.storeId as string, customerId });
      }
    }),
  );
  return out;
}

/** The backlog: one payment.succeeded per order, then duplicates by content with fresh message ids. */
function backlogMessages(orders: PlacedOrder[]): { key: string; value: string }[] {
  const base = orders.map((o, i) =>
    createEnvelope(
      PaymentSucceeded,
      {
        paymentId: `pay_bench_${i}`,
        orderId: o.id,
        paymentIntentId: `pi_bench_${o.id.replace(/[^A-Za-z0-9]/g, '')}`,
        channel: 'web',
        storeId: o.storeId,
        customerId: o.customerId,
        amount: o.total,
        amountReceived: o.total,
        currency: o.currency,
        chargeId: null,
      } as never,
      'bench',
    ),
  );
  return Array.from({ length: BACKLOG }, (_, j) => {
    const env = base[j % base.length];
    return { key: (env.data as { orderId: string }).orderId, value: JSON.stringify({ ...env, id: j < base.length ? env.id : randomUUID() }) };
  });
}

async function produceAll(kafka: Kafka, topic: string, messages: { key: string; value: string }[]): Promise<number> {
  const producer = kafka.producer();
  await producer.connect();
  const t = performance.now();
  const chunk = 2000;
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < messages.length; i += chunk) {
    sends.push(producer.send({ topic, acks: -1, messages: messages.slice(i, i + chunk) }));
    if (sends.length >= 4) await sends.shift();
  }
  await Promise.all(sends);
  const seconds = (performance.now() - t) / 1000;
  await producer.disconnect();
  return seconds;
}

/** Seconds from `t0` until `count(group)` reaches `target` for every group; NaN for a group that timed out. */
async function waitPerGroup(t0: number, count: () => Promise<Record<Group, number>>, target: number): Promise<Record<Group, number>> {
  const done = {} as Record<Group, number>;
  const deadline = t0 + DRAIN_TIMEOUT_S * 1000;
  let last = {} as Record<Group, number>;
  while (GROUPS.some((g) => done[g] === undefined)) {
    last = await count();
    const now = performance.now();
    for (const g of GROUPS) if (done[g] === undefined && last[g] >= target) done[g] = (now - t0) / 1000;
    if (now > deadline) {
      for (const g of GROUPS) if (done[g] === undefined) {
        console.log(`    ${g}: timed out after ${DRAIN_TIMEOUT_S} s with ${last[g]} of ${target}`);
        done[g] = NaN;
      }
      break;
    }
    await sleep(100);
  }
  return done;
}

// Baseline: the same three effects in set-based SQL, one transaction per batch, raw kafkajs, no framework.
const BASELINE_SQL: Record<Group, (c: PoolClient, s: string, fresh: { orderId: string; amount: number; id: string }[]) => Promise<void>> = {
  async orders(c, s, fresh) {
    const rows = [...new Map(fresh.map((f) => [f.orderId, f])).values()].sort((a, b) => a.orderId.localeCompare(b.orderId));
    const paid = await c.query<{ id: string }>(
      `UPDATE ${s}.orders o SET status = 'paid', amount_paid = v.amt FROM unnest($1::text[], $2::int[]) AS v(id, amt)
        WHERE o.id = v.id AND o.status = 'pending_payment' AND o.total = v.amt RETURNING o.id`,
      [rows.map((r) => r.orderId), rows.map((r) => r.amount)],
    );
    if (paid.rowCount) {
      await c.query(`INSERT INTO ${s}.history (order_id, from_status, to_status) SELECT id, 'pending_payment', 'paid' FROM unnest($1::text[]) id`, [paid.rows.map((r) => r.id)]);
      await c.query(`INSERT INTO ${s}.outbox (id, topic, key, payload) SELECT gen_random_uuid(), 'orders', id, 'paid' FROM unnest($1::text[]) id`, [paid.rows.map((r) => r.id)]);
    }
  },
  async inventory(c, s, fresh) {
    const ids = [...new Set(fresh.map((f) => f.orderId))].sort();
    const holds = await c.query<{ order_id: string; sku: string; qty: number }>(
      `UPDATE ${s}.holds SET status = 'committed' WHERE order_id = ANY($1) AND status = 'open' RETURNING order_id, sku, qty`,
      [ids],
    );
    if (!holds.rowCount) return;
    const bySku = new Map<string, number>();
    for (const h of holds.rows) bySku.set(h.sku, (bySku.get(h.sku) ?? 0) + h.qty);
    const skus = [...bySku.keys()].sort();
    await c.query(
      `UPDATE ${s}.stock st SET on_hand = on_hand - v.q, reserved = reserved - v.q FROM unnest($1::text[], $2::int[]) AS v(sku, q) WHERE st.sku = v.sku`,
      [skus, skus.map((k) => bySku.get(k))],
    );
    await c.query(`INSERT INTO ${s}.outbox (id, topic, key, payload) SELECT gen_random_uuid(), 'inventory', id, 'committed' FROM unnest($1::text[]) id`, [holds.rows.map((r) => r.order_id)]);
  },
  async loyalty(c, s, fresh) {
    const rows = [...new Map(fresh.map((f) => [f.orderId, f])).values()].sort((a, b) => a.orderId.localeCompare(b.orderId));
    const accrued = await c.query<{ order_id: string; customer_id: string; points: number }>(
      `UPDATE ${s}.loyalty_orders lo SET accrued_points = v.amt / 100 FROM unnest($1::text[], $2::int[]) AS v(id, amt)
        WHERE lo.order_id = v.id AND lo.accrued_points IS NULL RETURNING lo.order_id, lo.customer_id, lo.accrued_points AS points`,
      [rows.map((r) => r.orderId), rows.map((r) => r.amount)],
    );
    if (!accrued.rowCount) return;
    const a = accrued.rows;
    await c.query(`INSERT INTO ${s}.ledger (customer_id, order_id, points) SELECT * FROM unnest($1::text[], $2::text[], $3::int[])`, [a.map((r) => r.customer_id), a.map((r) => r.order_id), a.map((r) => r.points)]);
    await c.query(
      `INSERT INTO ${s}.balances SELECT c, sum(p) FROM unnest($1::text[], $2::int[]) AS t(c, p) GROUP BY c ORDER BY c
        ON CONFLICT (customer_id) DO UPDATE SET balance = balances.balance + EXCLUDED.balance`,
      [a.map((r) => r.customer_id), a.map((r) => r.points)],
    );
    await c.query(`INSERT INTO ${s}.outbox (id, topic, key, payload) SELECT gen_random_uuid(), 'loyalty', id, 'accrual' FROM unnest($1::text[]) id`, [a.map((r) => r.order_id)]);
  },
};

async function baselineDrain(kafka: Kafka, pool: Pool, schema: string, topic: string, orders: PlacedOrder[], messages: { key: string; value: string }[]): Promise<{ seconds: Record<Group, number>; produceSeconds: number }> {
  const s = schema;
  await pool.query(`CREATE SCHEMA ${s}`);
  await pool.query(`CREATE TABLE ${s}.inbox (consumer_group text, message_id uuid, PRIMARY KEY (consumer_group, message_id))`);
  await pool.query(`CREATE TABLE ${s}.orders (id text PRIMARY KEY, status text NOT NULL, total int NOT NULL, amount_paid int)`);
  await pool.query(`CREATE TABLE ${s}.history (id bigserial PRIMARY KEY, order_id text, from_status text, to_status text, at timestamptz DEFAULT now())`);
  await pool.query(`CREATE TABLE ${s}.holds (order_id text PRIMARY KEY, status text NOT NULL, sku text NOT NULL, qty int NOT NULL)`);
  await pool.query(`CREATE TABLE ${s}.stock (sku text PRIMARY KEY, on_hand int NOT NULL, reserved int NOT NULL)`);
  await pool.query(`CREATE TABLE ${s}.loyalty_orders (order_id text PRIMARY KEY, customer_id text NOT NULL, accrued_points int)`);
  await pool.query(`CREATE TABLE ${s}.ledger (id bigserial PRIMARY KEY, customer_id text, order_id text UNIQUE, points int)`);
  await pool.query(`CREATE TABLE ${s}.balances (customer_id text PRIMARY KEY, balance int NOT NULL)`);
  await pool.query(`CREATE TABLE ${s}.outbox (id uuid PRIMARY KEY, topic text, key text, payload text, created_at timestamptz DEFAULT clock_timestamp())`);
  const ids = orders.map((o) => o.id);
  await pool.query(`INSERT INTO ${s}.orders SELECT id, 'pending_payment', t FROM unnest($1::text[], $2::int[]) AS v(id, t)`, [ids, orders.map((o) => o.total)]);
  await pool.query(`INSERT INTO ${s}.holds SELECT id, 'open', $2, 1 FROM unnest($1::text[]) id`, [ids, SKU]);
  await pool.query(`INSERT INTO ${s}.stock VALUES ($1, $2, $2)`, [SKU, orders.length]);
  await pool.query(`INSERT INTO ${s}.loyalty_orders SELECT * FROM unnest($1::text[], $2::text[])`, [ids, orders.map((o) => o.customerId)]);

  const counts: Record<Group, number> = { orders: 0, inventory: 0, loyalty: 0 };
  const consumers: Consumer[] = [];
  const joined: Promise<void>[] = [];
  for (const g of GROUPS) {
    const consumer = kafka.consumer({ groupId: `${s}.${g}`, maxWaitTimeInMs: 100 });
    consumers.push(consumer);
    joined.push(new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve())));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch }) => {
        const parsed = batch.messages.map((m) => JSON.parse(m.value!.toString()) as { id: string; data: { orderId: string; amountReceived: number } });
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const fresh = await client.query<{ message_id: string }>(
            `INSERT INTO ${s}.inbox SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING message_id`,
            [g, parsed.map((p) => p.id)],
          );
          const freshIds = new Set(fresh.rows.map((r) => r.message_id));
          const apply = parsed.filter((p) => freshIds.has(p.id)).map((p) => ({ id: p.id, orderId: p.data.orderId, amount: p.data.amountReceived }));
          if (apply.length) await BASELINE_SQL[g](client, s, apply);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw e;
        } finally {
          client.release();
        }
        counts[g] += batch.messages.length;
      },
    });
  }
  await Promise.all(joined);
  const t0 = performance.now();
  const produceSeconds = await produceAll(kafka, topic, messages);
  const seconds = await waitPerGroup(t0, async () => ({ ...counts }), messages.length);
  await Promise.all(consumers.map((c) => c.disconnect().catch(() => undefined)));
  const check = await pool.query<{ paid: number; committed: number; entries: number }>(
    `SELECT (SELECT count(*)::int FROM ${s}.orders WHERE status = 'paid') paid, (SELECT count(*)::int FROM ${s}.holds WHERE status = 'committed') committed, (SELECT count(*)::int FROM ${s}.ledger) entries`,
  );
  console.log(`    baseline effects: ${check.rows[0].paid} paid, ${check.rows[0].committed} committed, ${check.rows[0].entries} ledger entries (of ${orders.length} orders)`);
  return { seconds, produceSeconds };
}

async function backlog(p: Platform, kafka: Kafka): Promise<void> {
  const { stack, db } = p;
  const schema = stack.schema('orders');
  const { onHand, reserved } = await stockOf(stack, SKU);
  if (onHand - reserved < ORDERS) await setStock(stack, SKU, reserved + ORDERS + 1000);
  console.log(`(b) backlog: placing ${ORDERS} orders through the orders API …`);
  const placeStarted = performance.now();
  const orders = await placeOrders(stack, ORDERS);
  console.log(`    placed in ${((performance.now() - placeStarted) / 1000).toFixed(1)} s; building ${BACKLOG} payment.succeeded messages …`);
  const messages = backlogMessages(orders);

  const inbox = async (): Promise<Record<Group, number>> => {
    const rows = await db.query<{ consumer_group: string; n: number }>(`SELECT consumer_group, count(*)::int AS n FROM "${schema}".inbox GROUP BY consumer_group`);
    const out = { orders: 0, inventory: 0, loyalty: 0 } as Record<Group, number>;
    for (const r of rows) for (const g of GROUPS) if (r.consumer_group.endsWith(`.orders.${g}`)) out[g] += r.n;
    return out;
  };
  const before = await inbox();
  const topic = `${stack.topicPrefix}${Topics.paymentsEvents}`;
  const cpuBefore = cpuSnapshot(stack);
  const t0 = performance.now();
  console.log(`    producing ${BACKLOG} messages to ${topic} and timing each consumer group …`);
  const producing = produceAll(kafka, topic, messages);
  const platformSeconds = await waitPerGroup(t0, async () => {
    const now = await inbox();
    return { orders: now.orders - before.orders, inventory: now.inventory - before.inventory, loyalty: now.loyalty - before.loyalty };
  }, BACKLOG);
  const produceSeconds = await producing;
  const resources = resourceRows(stack, cpuBefore, BACKLOG, 'events');

  const ids = orders.map((o) => o.id);
  const [check] = await db.query<{ paid: number; committed: number; entries: number }>(
    `SELECT (SELECT count(*)::int FROM "${schema}".orders WHERE id = ANY($1) AND status = 'paid') paid,
            (SELECT count(*)::int FROM "${schema}".inventory_holds WHERE order_id = ANY($1) AND status = 'committed') committed,
            (SELECT count(*)::int FROM "${schema}".loyalty_entries WHERE order_id = ANY($1)) entries`,
    [ids],
  );
  console.log(`    platform effects: ${check.paid} paid, ${check.committed} committed, ${check.entries} ledger entries (of ${ORDERS} orders; each must be exactly ${ORDERS})`);

  console.log(`    baseline: raw kafkajs consumers, set-based SQL per batch, same messages on a copy of the topic …`);
  const admin = kafka.admin();
  await admin.connect();
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  const baseTopic = `${stack.topicPrefix}bench.baseline.payments`;
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: baseTopic, numPartitions: meta.topics[0].partitions.length }] });
  await admin.disconnect();
  const pool = new Pool({ connectionString: stack.engines.DATABASE_URL, max: 9 });
  const baseSchema = `${stack.schema('orders')}_baseline`;
  let base: { seconds: Record<Group, number>; produceSeconds: number };
  try {
    base = await baselineDrain(kafka, pool, baseSchema, baseTopic, orders, messages);
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${baseSchema} CASCADE`).catch(() => undefined);
    await pool.end();
  }

  const rate = (s: number) => (Number.isFinite(s) ? Math.round(BACKLOG / s) : '-');
  printTable(`(b) Backlog of ${BACKLOG} payment.succeeded (${ORDERS} orders, ${meta.topics[0].partitions.length} partitions): seconds from the first send until each group has read and recorded all`, [
    ...GROUPS.map((g) => ({ consumer: `baseline: raw kafkajs + set-based SQL, group ${g}`, seconds: base.seconds[g], 'events/s': rate(base.seconds[g]) })),
    ...GROUPS.map((g) => ({ consumer: `platform: orders service, group ${g}`, seconds: platformSeconds[g], 'events/s': rate(platformSeconds[g]) })),
  ]);
  console.log(`    (sending took ${produceSeconds.toFixed(1)} s for the platform run and ${base.produceSeconds.toFixed(1)} s for the baseline, included above; issue target: 100,000 drained by every group in ≤ 30 s)`);
  printTable(`(b) Resources during the platform drain (per 1,000 backlog events; the three groups share the orders process)`, resources);
}

void withPlatform('fan-out bench', { env: { gateway: { RATE_LIMIT_PER_MINUTE: '100000000' } } }, async (p) => {
  const kafka = testKafka(p.stack.engines.KAFKA_BROKERS);
  const observer = new EffectObserver(kafka, p.stack.topicPrefix);
  await observer.start();
  try {
    if (!flag('skip-steady')) {
      if (flag('via-emulator')) {
        await steady(p, observer);
        await settle(p.stack, p.db);
      } else {
        await steadySigned(p, observer);
        await settle(p.stack, p.db, 120000, { webhooks: false });
      }
    }
    if (!flag('skip-backlog')) await backlog(p, kafka);
    const stock = await http(`${p.stack.urls.orders}/inventory/stock?sku=${SKU}&locationId=${ONLINE_FC}`, 'GET');
    console.log(`\nfinal stock of ${SKU} at ${ONLINE_FC}: ${JSON.stringify((stock.body.stock as Json[])[0])}`);
  } finally {
    await observer.stop();
  }
});
