// Fan-out at a steady rate with Stripe's side taken off this machine (fanout.bench.ts, default steady mode).
//
// In production Stripe confirms payments and delivers webhooks on its own machines; on this 2-core box the
// emulator would do that work on the same cores as the platform, and the gateway checkout before each payment
// (a separate benchmark) would cap the rate long before the fan-out does. So the payments are prepared first,
// through the real APIs, and only what Stripe would send is timed:
//   1. orders placed through the orders service, PaymentIntents created through the payments service (both at
//      the emulator, so payments knows them and their metadata is the platform's);
//   2. the emulator's webhook deliveries parked behind a one-hour delay, then every PaymentIntent confirmed with
//      pm_card_visa: the emulator records the events Stripe would send (charge.succeeded,
//      payment_intent.succeeded, …) but does not deliver them;
//   3. timed: for payment i at i / rate seconds, this process posts those recorded events, signed exactly as
//      the emulator signs them, to the webhooks service in the order Stripe created them, and notes when the
//      payment_intent.succeeded delivery got its 2xx.
// The lag is then measured from that 2xx to order paid, stock committed and points credited, as in the
// emulator-driven mode.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { signatureHeader } from '@omnipay/stripe-emulator';
import type { Stack } from '@omnipay/testing';
import Stripe from 'stripe';
import { sleep, type Json } from './platform';

export interface PreparedPayment {
  orderId: string;
  paymentIntentId: string;
  /** Stripe's events for this payment's confirmation, oldest first, as the emulator would deliver them. */
  events: { type: string; payload: string }[];
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** POST one signed delivery; resolves with the status (0 when the request failed). */
function deliver(url: string, payload: string, secret: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(payload),
          'stripe-signature': signatureHeader(payload, [secret]),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(payload);
  });
}

async function pool<T>(items: T[], concurrency: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i], i);
      }
    }),
  );
}

/**
 * Creates a PaymentIntent through the payments service for each order, parks webhook delivery, confirms them
 * all on the emulator and collects the events each confirmation produced.
 */
export async function preparePayments(
  stack: Stack,
  orders: { id: string; total: number; currency: string; storeId: string; customerId: string }[],
  post: (url: string, body: unknown) => Promise<{ status: number; body: Json }>,
): Promise<PreparedPayment[]> {
  const intents = new Map<string, string>(); // order id → PaymentIntent id
  await pool(orders, 24, async (o) => {
    const res = await post(`${stack.urls.payments}/payments`, {
      orderId: o.id,
      amount: o.total,
      currency: o.currency,
      channel: 'web',
      storeId: o.storeId,
      customerId: o.customerId,
      attempt: 1,
    });
    if (res.status !== 201 && res.status !== 200) throw new Error(`creating the payment of ${o.id}: ${res.status} ${JSON.stringify(res.body)}`);
    intents.set(o.id, res.body.paymentIntentId as string);
  });
  // Let payment_intent.created reach the platform before parking deliveries.
  await stack.emulator.webhooksIdle();
  stack.emulator.addWebhookFault({ delay_ms: 3_600_000 });
  const store = stack.emulator.emulator.store;
  const before = new Set<string>();
  for (const e of store.events.values()) before.add(e.id);
  const stripe = new Stripe(stack.emulator.secretKey, { ...stack.emulator.stripeConfig, maxNetworkRetries: 2 });
  await pool(orders, 16, async (o) => {
    await stripe.paymentIntents.confirm(intents.get(o.id) as string, { payment_method: 'pm_card_visa' });
  });
  const byIntent = new Map<string, { type: string; payload: string }[]>();
  for (const e of store.events.values()) {
    if (before.has(e.id)) continue;
    const object = (e as Json).data?.object as Json | undefined;
    const pi = object?.object === 'payment_intent' ? (object.id as string) : (object?.payment_intent as string | undefined);
    if (!pi) continue;
    const list = byIntent.get(pi) ?? [];
    list.push({ type: (e as Json).type as string, payload: JSON.stringify(e) });
    byIntent.set(pi, list);
  }
  return orders.map((o) => {
    const paymentIntentId = intents.get(o.id) as string;
    const events = byIntent.get(paymentIntentId) ?? [];
    if (!events.some((e) => e.type === 'payment_intent.succeeded'))
      throw new Error(`confirming ${paymentIntentId} produced no payment_intent.succeeded (${events.map((e) => e.type).join(', ')})`);
    return { orderId: o.id, paymentIntentId, events };
  });
}

export interface SignedRun {
  /** PaymentIntent id → epoch ms of the 2xx to its payment_intent.succeeded. */
  twoxx: Map<string, number>;
  sent: number;
  failures: Map<string, number>;
  loadSeconds: number;
  /** 2xx latency of every delivery, ms. */
  deliveryMs: number[];
}

/** Posts each payment's events at `rate` payments/s (open loop: a slow platform does not slow the schedule). */
export async function sendSigned(stack: Stack, payments: PreparedPayment[], rate: number): Promise<SignedRun> {
  const url = `${stack.urls.webhooks}/stripe/webhooks`;
  const secret = stack.secrets.webhook;
  const run: SignedRun = { twoxx: new Map(), sent: 0, failures: new Map(), loadSeconds: 0, deliveryMs: [] };
  const fail = (what: string) => run.failures.set(what, (run.failures.get(what) ?? 0) + 1);
  const tasks: Promise<void>[] = [];
  const started = performance.now();
  const one = async (p: PreparedPayment): Promise<void> => {
    for (const e of p.events) {
      const t = performance.now();
      const status = await deliver(url, e.payload, secret);
      run.deliveryMs.push(performance.now() - t);
      if (status < 200 || status >= 300) return void fail(`${e.type} → ${status}`);
      if (e.type === 'payment_intent.succeeded') run.twoxx.set(p.paymentIntentId, Date.now());
    }
  };
  while (run.sent < payments.length) {
    const due = Math.min(payments.length, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    while (run.sent < due) tasks.push(one(payments[run.sent++]));
    await sleep(2);
  }
  run.loadSeconds = (performance.now() - started) / 1000;
  await Promise.all(tasks);
  return run;
}
