// Soak (reliability catalogue F-PR-02, goal L4): the whole platform at a steady, moderate rate for a long time,
// watching for leaks rather than speed.
//
//   node -r @swc-node/register bench/platform/soak.bench.ts [--minutes 30] [--rate 20] [--sample-seconds 60] [--warmup-minutes 2]
//
// Every payment is a gateway checkout and a browser-style confirm with pm_card_visa on the emulator, so each brings
// Stripe's webhooks (stored by webhooks, applied by payments) and the fan-out to orders, inventory and loyalty.
// Each sample window prints, per service: RSS now, CPU used in the window, and the event-loop delay p99 its
// /metrics reports for the window (prom-client's histogram restarts at every scrape); plus the payments and
// webhooks of the window and the checkout's p99. The baseline is the first window after the warm-up, in the same
// run: RSS growth is measured from it, and the load generator's own process (emulator + load) is shown beside the
// services as a control. At the end, after the platform went quiet, exactly-once totals: orders paid, stock
// committed and accruals against payments confirmed. Prints numbers, asserts nothing.
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import Stripe from 'stripe';
import { arg, printTable, summarize } from '../lib';
import { SERVICES, benchCpuSeconds, checkoutAndConfirm, cpuSnapshot, setStock, settle, sleep, stockOf, withPlatform, type Platform } from './platform';

const MINUTES = arg('minutes', 30);
const RATE = arg('rate', 20);
const SAMPLE_S = arg('sample-seconds', 60);
const WARMUP_MIN = arg('warmup-minutes', 2);
const MAX_INFLIGHT = arg('max-inflight', 64);
const SKU = 'MUG-WHT';
const CUSTOMERS = 200;

type Row = Record<string, string | number>;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * Event-loop delay from a service's /metrics, in ms, over the window since the last scrape (prom-client resets its
 * histogram on every collect). Each sample is a whole timer period, 10 ms plus the delay: the window's minimum
 * (about the period) is taken off, so an idle loop reads about 0.
 */
async function loopDelayMs(baseUrl: string): Promise<{ p99: number; max: number }> {
  // The services inherit this environment: with METRICS_TOKEN set, /metrics asks for it.
  const auth: Record<string, string> = process.env.METRICS_TOKEN ? { authorization: `Bearer ${process.env.METRICS_TOKEN}` } : {};
  const text = await (await fetch(`${baseUrl}/metrics`, { headers: auth })).text();
  const read = (name: string) => Number(new RegExp(`^nodejs_eventloop_lag_${name}_seconds (\\S+)`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  const min = read('min');
  return { p99: read('p99') - min, max: read('max') - min };
}

async function soak({ stack, db, token }: Platform): Promise<void> {
  const tokens = Array.from({ length: CUSTOMERS }, (_, i) => token(`cust_soak_${i}`));
  const browser = new Stripe(stack.emulator.publishableKey, { ...stack.emulator.stripeConfig, maxNetworkRetries: 0 });
  const total = Math.ceil(RATE * MINUTES * 60);
  await setStock(stack, SKU, total + 1000);
  const stockBefore = await stockOf(stack, SKU);
  const confirmed: string[] = [];
  const failures = new Map<string, number>();
  const fail = (what: string) => failures.set(what, (failures.get(what) ?? 0) + 1);
  let checkoutMs: number[] = [];
  let inflight = 0;
  let launched = 0;

  const onePayment = async (i: number): Promise<void> => {
    inflight++;
    try {
      const paid = await checkoutAndConfirm(stack, browser, tokens[i % CUSTOMERS], SKU);
      checkoutMs.push(paid.checkoutMs);
      confirmed.push(paid.orderId);
    } catch (e) {
      fail(`error ${(e as Error).message.slice(0, 60)}`);
    } finally {
      inflight--;
    }
  };

  console.log(`soak: ${RATE} payments/s for ${MINUTES} min (${WARMUP_MIN} min warm-up), a sample every ${SAMPLE_S} s …`);
  const rows: Row[] = [];
  const tasks = new Set<Promise<void>>();
  const started = performance.now();
  let windowStart = started;
  let cpuBefore = { ...cpuSnapshot(stack), bench: benchCpuSeconds() };
  let confirmedBefore = 0;
  let deliveriesBefore = stack.emulator.deliveries().length;
  for (const s of SERVICES) await loopDelayMs(stack.urls[s]); // restart each service's window now
  for (;;) {
    const now = performance.now();
    const elapsed = (now - started) / 1000;
    if (elapsed >= MINUTES * 60) break;
    const due = Math.floor(elapsed * RATE);
    while (launched < due && inflight < MAX_INFLIGHT) {
      const t = onePayment(launched++);
      tasks.add(t);
      void t.finally(() => tasks.delete(t));
    }
    if (now - windowStart >= SAMPLE_S * 1000) {
      const seconds = (now - windowStart) / 1000;
      const cpuNow = { ...cpuSnapshot(stack), bench: benchCpuSeconds() };
      const deliveries = stack.emulator.deliveries().length;
      const co = summarize(checkoutMs);
      const row: Row = {
        min: (elapsed / 60).toFixed(1),
        'payments/s': ((confirmed.length - confirmedBefore) / seconds).toFixed(1),
        'webhooks/s': ((deliveries - deliveriesBefore) / seconds).toFixed(1),
        'checkout p99 ms': co.p99.toFixed(0),
      };
      for (const s of SERVICES) {
        const pid = stack.services[s].pid as number;
        row[`${s} MB`] = Math.round(rssMb(pid));
        row[`${s} cpu%`] = Math.round(((cpuNow[s] - cpuBefore[s]) / seconds) * 100);
        const delay = await loopDelayMs(stack.urls[s]);
        row[`${s} lag p99`] = delay.p99.toFixed(0);
        row[`${s} lag max`] = delay.max.toFixed(0);
      }
      row['bench MB'] = Math.round(rssMb(process.pid));
      // A window counts as warm only if it started after the warm-up.
      row.warm = (windowStart - started) / 1000 >= WARMUP_MIN * 60 ? 1 : 0;
      rows.push(row);
      console.log(`  ${JSON.stringify(row)}`);
      windowStart = now;
      cpuBefore = cpuNow;
      confirmedBefore = confirmed.length;
      deliveriesBefore = deliveries;
      checkoutMs = [];
    }
    await sleep(5);
  }
  await Promise.all(tasks);
  console.log(`  sent ${launched} of ${total}; waiting for the platform to go quiet …`);
  await settle(stack, db, 300000);

  // Wide tables print badly: memory and event loop per window, one table each.
  const pick = (suffix: string) =>
    rows.map((r) => ({ min: r.min, ...Object.fromEntries(Object.entries(r).filter(([k]) => k.endsWith(suffix))) }));
  // The bench process holds the emulator's whole Stripe state in memory (every PaymentIntent, charge, event and
  // delivery): it grows with the run by design, so it is a control for the machine, not for leaks.
  printTable('RSS per process, MB (bench = emulator + load generator)', pick(' MB'));
  printTable('CPU per service, % of one core in the window', pick(' cpu%'));
  printTable('Event-loop delay per service in the window, p99 and max, ms (timer period taken off)', pick(' lag p99').map((r, i) => ({ ...r, ...pick(' lag max')[i] })));
  printTable('Load per window', rows.map((r) => ({ min: r.min, 'payments/s': r['payments/s'], 'webhooks/s': r['webhooks/s'], 'checkout p99 ms': r['checkout p99 ms'] })));

  // RSS moves by tens of MB with each major GC: the first and the last windows after the warm-up are averaged
  // (up to five each) rather than compared one sample against one.
  const warm = rows.filter((r) => r.warm === 1);
  const n = Math.min(5, Math.floor(warm.length / 2));
  if (n > 0) {
    const mean = (rs: Row[], s: string) => rs.reduce((sum, r) => sum + Number(r[`${s} MB`]), 0) / rs.length;
    printTable(
      `RSS growth after the ${WARMUP_MIN} min warm-up: mean of the first ${n} windows (baseline) against the last ${n} (goal L4: ≤ 10 %)`,
      [...SERVICES, 'bench'].map((s) => {
        const first = mean(warm.slice(0, n), s);
        const last = mean(warm.slice(-n), s);
        return { process: s, 'baseline MB': Math.round(first), 'last MB': Math.round(last), growth: `${(((last - first) / first) * 100).toFixed(1)} %` };
      }),
    );
  }
  const worst = (kind: string) => Math.max(...warm.flatMap((r) => SERVICES.map((s) => Number(r[`${s} lag ${kind}`]))));
  console.log(
    `\nafter the warm-up, the worst event-loop delay of any service in any window: p99 ${worst('p99').toFixed(0)} ms ` +
      `(goal L4: ≤ 100 ms), max ${worst('max').toFixed(0)} ms`,
  );

  // Over every order of the run, not only those whose confirm answered: the three effects must agree with each other
  // and with the payments confirmed (a confirm whose answer was lost may still have paid an order).
  const orders = stack.schema('orders');
  const ofRun = `SELECT id FROM "${orders}".orders WHERE customer_id LIKE 'cust_soak_%'`;
  const placed = await db.scalar<number>(`SELECT count(*) FROM (${ofRun}) o`);
  const paid = await db.scalar<number>(`SELECT count(*) FROM "${orders}".orders WHERE customer_id LIKE 'cust_soak_%' AND status = 'paid'`);
  const accruals = await db.scalar<number>(`SELECT count(*) FROM "${orders}".loyalty_entries WHERE order_id IN (${ofRun}) AND reason = 'accrual'`);
  const stockAfter = await stockOf(stack, SKU);
  console.log(
    `exactly once: ${confirmed.length} payments confirmed of ${placed} orders placed; ${paid} orders paid, ${accruals} accruals, ` +
      `stock on hand down by ${stockBefore.onHand - stockAfter.onHand} (${stockAfter.reserved} still reserved)` +
      (failures.size ? `; failures: ${[...failures].map(([k, n]) => `${k} × ${n}`).join(', ')}` : '; no failures'),
  );
}

void withPlatform('soak bench', {}, soak);
