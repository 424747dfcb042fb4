// Checkout through the gateway on the whole platform (issue #5, bench B6): price + reserve in orders, PaymentIntent
// through payments on the Stripe emulator (no injected delay), at a fixed concurrency, beside a baseline measured
// in the same run: a direct `stripe.paymentIntents.create` against the same emulator at the same concurrency.
//
//   node -r @swc-node/register bench/platform/checkout.bench.ts [--concurrency 32] [--seconds 30]
//        [--baseline-seconds 15] [--warmup 4] [--light-seconds 5] [--scarce 10] [--scarce-every 10]
//        [--idempotency-keys]
//
// Load: each worker loops checkout after checkout (closed loop), as one of 1,000 customers, buying one
// TSHIRT-BLK-M (stock given: plenty), except every `--scarce-every`-th checkout buys one MUG-WHT, of which only
// `--scarce` units are given, so out-of-stock answers (409) and oversell are measured under the same load.
// Between phases the bench waits for the platform to go quiet (every PaymentIntent created, directly or not,
// sends webhooks that the services process; that work must not spill into the next phase).
// Before the loaded run, `--light-seconds` of each at concurrency 1 give the overhead without queueing (what a
// checkout costs in hops and commits when the cores are free; 0 skips it).
// Prints checkouts/s, p50/p99/max of successful checkouts and of the direct emulator call, our overhead at p50,
// 409s vs stock given, the stock check (reserved = successful checkouts, onHand − reserved ≥ 0), and CPU per
// 1,000 checkouts and peak RSS per service. Asserts nothing. Payments are not confirmed: orders stay
// pending_payment (the default 15-minute expiry never fires during a run). `--idempotency-keys`: every checkout
// sends a fresh Idempotency-Key, as a real client should (the gateway, orders and payments then record and check
// it); without it, the run measures checkouts that skip that work.
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import Stripe from 'stripe';
import { arg, percentile, printTable, summarize } from '../lib';
import { cpuDelta, cpuOfCommand, kafkaCpu, postgresCpu } from '../processes';
import { benchCpuSeconds, cpuSnapshot, flag, http, resourceRows, setStock, settle, stockOf, withPlatform } from './platform';

const CONCURRENCY = arg('concurrency', 32);
const SECONDS = arg('seconds', 30);
const BASELINE_SECONDS = arg('baseline-seconds', Math.min(SECONDS, 15));
const WARMUP = arg('warmup', 4);
const LIGHT_SECONDS = arg('light-seconds', 5);
const SCARCE = arg('scarce', 10);
const SCARCE_EVERY = arg('scarce-every', 10);
const IDEMPOTENCY_KEYS = flag('idempotency-keys');
const CUSTOMERS = 1000;
const MAIN_SKU = 'TSHIRT-BLK-M';
const SCARCE_SKU = 'MUG-WHT';

interface Outcome {
  ms: number;
  status: number;
  error?: string;
  sku: string;
}

/** `workers` loops calling `fn` until `seconds` have passed; returns every call's outcome. */
async function closedLoop(workers: number, seconds: number, fn: (i: number) => Promise<Outcome>): Promise<{ outcomes: Outcome[]; seconds: number }> {
  const outcomes: Outcome[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) outcomes.push(await fn(next++));
    }),
  );
  return { outcomes, seconds: (performance.now() - started) / 1000 };
}

void withPlatform('checkout bench', { env: { gateway: { RATE_LIMIT_PER_MINUTE: '100000000' } } }, async ({ stack, db, token }) => {
  const tokens = Array.from({ length: CUSTOMERS }, (_, i) => token(`cust_bench_${i}`));
  const direct = new Stripe(stack.emulator.secretKey, { ...stack.emulator.stripeConfig, maxNetworkRetries: 0 });

  let scarceOn = false; // the warm-up buys only the main SKU, so the whole scarce stock meets the measured load
  const checkout = async (i: number): Promise<Outcome> => {
    const sku = scarceOn && SCARCE_EVERY > 0 && i % SCARCE_EVERY === SCARCE_EVERY - 1 ? SCARCE_SKU : MAIN_SKU;
    const t = performance.now();
    try {
      const res = await http(
        `${stack.urls.gateway}/v1/checkout`,
        'POST',
        { fulfilment: 'ship', currency: 'usd', lines: [{ sku, quantity: 1 }] },
        {
          authorization: `Bearer ${tokens[i % CUSTOMERS]}`,
          ...(IDEMPOTENCY_KEYS ? { 'idempotency-key': randomUUID() } : {}),
        },
      );
      return { ms: performance.now() - t, status: res.status, error: res.body.error as string | undefined, sku };
    } catch (e) {
      return { ms: performance.now() - t, status: 0, error: (e as Error).message, sku };
    }
  };
  // The same PaymentIntent the payments service creates for a web order, minus our metadata (so the webhook
  // events it causes are ignored by payments rather than applied).
  const createDirect = async (i: number): Promise<Outcome> => {
    const t = performance.now();
    try {
      await direct.paymentIntents.create(
        { amount: 2500, currency: 'usd', capture_method: 'automatic', automatic_payment_methods: { enabled: true }, metadata: { bench: String(i) } },
        { idempotencyKey: `bench-direct-${i}-${t}` },
      );
      return { ms: performance.now() - t, status: 200, sku: '-' };
    } catch (e) {
      return { ms: performance.now() - t, status: (e as { statusCode?: number }).statusCode ?? 0, error: (e as Error).message, sku: '-' };
    }
  };

  // Plenty of the main SKU: ~2,000 checkouts/s would still not run out.
  const mainStock = Math.min(1_000_000, Math.max(10000, 2000 * (SECONDS + WARMUP)));
  await setStock(stack, MAIN_SKU, mainStock);
  await setStock(stack, SCARCE_SKU, SCARCE);

  console.log(`warm-up: ${WARMUP} s of checkouts and direct creates (discarded) …`);
  await closedLoop(CONCURRENCY, WARMUP / 2, createDirect);
  const warm = await closedLoop(CONCURRENCY, WARMUP / 2, checkout);
  await settle(stack, db);

  let light: { direct: Outcome[]; checkout: Outcome[] } | undefined;
  if (LIGHT_SECONDS > 0) {
    console.log(`light load: direct creates, then checkouts, one at a time for ${LIGHT_SECONDS} s each …`);
    const direct = await closedLoop(1, LIGHT_SECONDS, createDirect);
    await settle(stack, db);
    const through = await closedLoop(1, LIGHT_SECONDS, checkout);
    await settle(stack, db);
    light = { direct: direct.outcomes, checkout: through.outcomes };
  }
  const before = [...warm.outcomes, ...(light?.checkout ?? [])];
  const warmOk = { main: before.filter((o) => o.status === 201 && o.sku === MAIN_SKU).length, scarce: before.filter((o) => o.status === 201 && o.sku === SCARCE_SKU).length };
  const startStock = { main: await stockOf(stack, MAIN_SKU), scarce: await stockOf(stack, SCARCE_SKU) };
  await settle(stack, db);

  console.log(`baseline: direct paymentIntents.create at concurrency ${CONCURRENCY} for ${BASELINE_SECONDS} s …`);
  const base = await closedLoop(CONCURRENCY, BASELINE_SECONDS, createDirect);

  await settle(stack, db);
  console.log(`checkout through the gateway at concurrency ${CONCURRENCY} for ${SECONDS} s …`);
  const cpuBefore = cpuSnapshot(stack);
  const benchBefore = benchCpuSeconds();
  const enginesBefore = engineCpu();
  scarceOn = true;
  const run = await closedLoop(CONCURRENCY, SECONDS, checkout);
  const benchCpu = benchCpuSeconds() - benchBefore;
  const enginesAfter = engineCpu();

  const ok = run.outcomes.filter((o) => o.status === 201);
  const outOfStock = run.outcomes.filter((o) => o.status === 409 && o.error === 'out_of_stock');
  const others = run.outcomes.filter((o) => o.status !== 201 && !(o.status === 409 && o.error === 'out_of_stock'));
  const baseOk = base.outcomes.filter((o) => o.status === 200);
  const s = summarize(ok.map((o) => o.ms));
  const b = summarize(baseOk.map((o) => o.ms));
  const p90 = (xs: Outcome[]) => percentile(xs.map((o) => o.ms).sort((x, y) => x - y), 90);

  printTable(`Checkout at concurrency ${CONCURRENCY} (closed loop), ms`, [
    { path: 'baseline: direct paymentIntents.create on the emulator', calls: baseOk.length, 'per s': Math.round(baseOk.length / base.seconds), p50: b.p50, p90: p90(baseOk), p99: b.p99, max: b.max, errors: base.outcomes.length - baseOk.length },
    { path: 'gateway checkout (201)', calls: ok.length, 'per s': Math.round(ok.length / run.seconds), p50: s.p50, p90: p90(ok), p99: s.p99, max: s.max, errors: others.length },
    { path: 'gateway checkout, 409 out_of_stock', calls: outOfStock.length, 'per s': Math.round(outOfStock.length / run.seconds), ...(() => { const o = summarize(outOfStock.map((x) => x.ms)); return { p50: o.p50, p90: p90(outOfStock), p99: o.p99, max: o.max }; })(), errors: '-' },
  ]);
  console.log(`our overhead over a direct emulator call at p50: ${(s.p50 - b.p50).toFixed(1)} ms (target ≤ 25 ms); checkouts/s: ${Math.round(ok.length / run.seconds)} (target ≥ 400, p99 ≤ 150 ms)`);
  if (light) {
    const lightOk = light.checkout.filter((o) => o.status === 201);
    const lightBase = light.direct.filter((o) => o.status === 200);
    const ls = summarize(lightOk.map((o) => o.ms));
    const lb = summarize(lightBase.map((o) => o.ms));
    printTable('Light load, one request at a time (no queueing), ms', [
      { path: 'baseline: direct paymentIntents.create on the emulator', calls: lightBase.length, p50: lb.p50, p90: p90(lightBase), p99: lb.p99, max: lb.max, errors: light.direct.length - lightBase.length },
      { path: 'gateway checkout (201)', calls: lightOk.length, p50: ls.p50, p90: p90(lightOk), p99: ls.p99, max: ls.max, errors: light.checkout.length - lightOk.length },
    ]);
    console.log(`our overhead over a direct emulator call at p50, one at a time: ${(ls.p50 - lb.p50).toFixed(1)} ms (target ≤ 25 ms)`);
  }
  if (others.length) {
    const byKind = new Map<string, number>();
    for (const o of others) byKind.set(`${o.status} ${o.error ?? ''}`.trim(), (byKind.get(`${o.status} ${o.error ?? ''}`.trim()) ?? 0) + 1);
    console.log(`other answers: ${[...byKind].map(([k, n]) => `${k} × ${n}`).join(', ')}`);
  }

  const endStock = { main: await stockOf(stack, MAIN_SKU), scarce: await stockOf(stack, SCARCE_SKU) };
  const okBySku = (sku: string) => ok.filter((o) => o.sku === sku).length;
  printTable('Stock (online_fc): zero oversell means reserved = successful checkouts and onHand − reserved ≥ 0', [
    { sku: MAIN_SKU, 'stock given': mainStock, 'checkouts 201': okBySku(MAIN_SKU) + warmOk.main, '409 out_of_stock': outOfStock.filter((o) => o.sku === MAIN_SKU).length, onHand: endStock.main.onHand, reserved: endStock.main.reserved, 'onHand − reserved': endStock.main.available, 'reserved = 201s': endStock.main.reserved === okBySku(MAIN_SKU) + warmOk.main ? 'yes' : 'NO' },
    { sku: SCARCE_SKU, 'stock given': SCARCE, 'checkouts 201': okBySku(SCARCE_SKU) + warmOk.scarce, '409 out_of_stock': outOfStock.filter((o) => o.sku === SCARCE_SKU).length, onHand: endStock.scarce.onHand, reserved: endStock.scarce.reserved, 'onHand − reserved': endStock.scarce.available, 'reserved = 201s': endStock.scarce.reserved === okBySku(SCARCE_SKU) + warmOk.scarce ? 'yes' : 'NO' },
  ]);
  console.log(`(201s include ${warmOk.main + warmOk.scarce} from the warm-up and the light-load phase; stock before the measured run: ${MAIN_SKU} reserved ${startStock.main.reserved}, ${SCARCE_SKU} reserved ${startStock.scarce.reserved})`);

  const rows = resourceRows(stack, cpuBefore, ok.length, 'checkouts', benchCpu);
  for (const name of Object.keys(enginesAfter) as (keyof typeof enginesAfter)[]) {
    const cpu = cpuDelta(enginesBefore[name], enginesAfter[name]);
    rows.push({ process: name, 'cpu s': cpu.toFixed(2), 'cpu s / 1k checkouts': ok.length > 0 ? ((cpu / ok.length) * 1000).toFixed(3) : '-', 'peak RSS MB': '-' });
  }
  printTable(`Resources during the ${SECONDS} s checkout run (per 1,000 successful checkouts)`, rows);
  // What the machine can do at most with this much CPU per checkout, whatever the queueing: every core busy.
  const perCheckoutMs = (rows.reduce((sum, r) => sum + Number(r['cpu s']), 0) / Math.max(1, ok.length)) * 1000;
  console.log(
    `CPU per checkout, every process above: ${perCheckoutMs.toFixed(1)} ms; with all ${cpus().length} cores busy that is at most ` +
      `${Math.round((cpus().length * 1000) / perCheckoutMs)} checkouts/s on this machine (target ≥ 400 needs ≤ ${((cpus().length * 1000) / 400).toFixed(1)} ms)`,
  );
});

/** CPU seconds per pid of the engines the checkout uses (backends that exit meanwhile are not counted). */
function engineCpu() {
  return { PostgreSQL: postgresCpu(), Kafka: kafkaCpu(), Redis: cpuOfCommand((c) => c === 'redis-server') };
}
