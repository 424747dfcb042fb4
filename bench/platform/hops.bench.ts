// Where a checkout's time goes when nothing queues: each hop of the checkout path timed on its own, one request at
// a time, on the whole platform (isolated stack), beside baselines from the same run: a trivial route of a service
// (`/health/live`: HTTP + framework, no I/O) and a direct `paymentIntents.create` on the same emulator.
//
//   node -r @swc-node/register bench/platform/hops.bench.ts [--requests 300] [--rounds 2] [--gap-ms 0]
//
// Hops: orders' internal place-order API (price, reserve, outbox), payments' internal create API (a PaymentIntent
// on the emulator, state, outbox) for orders placed beforehand, and the gateway's checkout (both, plus auth, rate
// limit and the client's answer). The platform is left to go quiet between hops so one hop's background work (its
// outbox relay, the consumers of its events) does not land on the next one's clock; `--gap-ms` also leaves that
// long between two requests of a hop, so a request's own background work does not land on the next request's
// clock either (0: back to back, as a client that waits for each answer). Asserts nothing.
import { performance } from 'node:perf_hooks';
import Stripe from 'stripe';
import { arg, percentile, printTable } from '../lib';
import { http, setStock, settle, withPlatform, type Json } from './platform';

const REQUESTS = arg('requests', 300);
const ROUNDS = arg('rounds', 2);
const GAP_MS = arg('gap-ms', 0);
const SKU = 'TSHIRT-BLK-M';

type Row = Record<string, string | number>;

async function timed(label: string, fn: (i: number) => Promise<void>): Promise<Row> {
  const ms: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    if (GAP_MS > 0) await new Promise((resolve) => setTimeout(resolve, GAP_MS));
    const started = performance.now();
    await fn(i);
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  return { hop: label, n: ms.length, p50: percentile(ms, 50), p90: percentile(ms, 90), min: ms[0] };
}

function expectStatus(res: { status: number; body: Json }, status: number, what: string): void {
  if (res.status !== status) throw new Error(`${what} answered ${res.status}: ${JSON.stringify(res.body)}`);
}

void withPlatform('hops bench', {}, async ({ stack, db, token }) => {
  const bearer = { authorization: `Bearer ${token('cust_hops_gateway')}` };
  const direct = new Stripe(stack.emulator.secretKey, { ...stack.emulator.stripeConfig, maxNetworkRetries: 0 });
  const place = (customerId: string) =>
    http(`${stack.urls.orders}/orders`, 'POST', {
      channel: 'web',
      customerId,
      fulfilment: 'ship',
      currency: 'usd',
      lines: [{ sku: SKU, quantity: 1 }],
    });
  await setStock(stack, SKU, (REQUESTS * 3 + 50) * ROUNDS);

  for (let round = 1; round <= ROUNDS; round++) {
    const rows: Row[] = [];
    rows.push(await timed('baseline: gateway GET /health/live', async () => void (await http(`${stack.urls.gateway}/health/live`, 'GET'))));
    rows.push(await timed('baseline: orders GET /health/live', async () => void (await http(`${stack.urls.orders}/health/live`, 'GET'))));
    rows.push(
      await timed('baseline: direct paymentIntents.create', async () => {
        await direct.paymentIntents.create({ amount: 2500, currency: 'usd', automatic_payment_methods: { enabled: true } });
      }),
    );
    await settle(stack, db);
    rows.push(await timed('orders: POST /orders', async () => expectStatus(await place('cust_hops_orders'), 201, 'place order')));
    const orders: Json[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const res = await place('cust_hops_payments');
      expectStatus(res, 201, 'place order');
      orders.push(res.body);
    }
    await settle(stack, db);
    rows.push(
      await timed('payments: POST /payments', async (i) => {
        const o = orders[i];
        const res = await http(`${stack.urls.payments}/payments`, 'POST', {
          orderId: o.id,
          amount: o.total,
          currency: o.currency,
          channel: 'web',
          storeId: o.storeId,
          customerId: 'cust_hops_payments',
          attempt: 1,
        });
        expectStatus(res, 201, 'create payment');
      }),
    );
    await settle(stack, db);
    rows.push(
      await timed('gateway: POST /v1/checkout', async () => {
        const res = await http(
          `${stack.urls.gateway}/v1/checkout`,
          'POST',
          { fulfilment: 'ship', currency: 'usd', lines: [{ sku: SKU, quantity: 1 }] },
          bearer,
        );
        expectStatus(res, 201, 'checkout');
      }),
    );
    await settle(stack, db);
    printTable(`Round ${round} of ${ROUNDS}: one request at a time, ${REQUESTS} per hop, ${GAP_MS} ms between, ms`, rows);
  }
});
