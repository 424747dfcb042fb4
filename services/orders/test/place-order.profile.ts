// Measures the place-order HTTP path of the orders service alone (what the gateway's checkout calls): N orders at
// a fixed concurrency on a real process, the service's CPU ms per order (from /proc) and, with SERVICE_NODE_ARGS,
// a CPU profile written when it stops. Not a test; prints numbers, asserts nothing.
//
//   export $(cat .cache/infra/env | xargs)
//   SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" \
//     node -r @swc-node/register services/orders/test/place-order.profile.ts [orders=2000] [concurrency=16]
//   PROFILE_ENTRY=<path of another copy's main.ts, relative to the repository root> measures that copy instead.
import { readFileSync } from 'node:fs';
import { TestDatabase, engines } from '@omnipay/testing';
import { isolatedWorld, startOrders } from './orders-harness';

const N = Number(process.argv[2] ?? 2000);
const CONCURRENCY = Number(process.argv[3] ?? 16);

/** utime + stime of a process, in ms (clock ticks are 10 ms on Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function main(): Promise<void> {
  const world = isolatedWorld('orders_place_prof');
  // PROFILE_ENTRY: the same measurement on another copy of the service (e.g. an older commit's, for a before/after).
  const entry = process.env.PROFILE_ENTRY;
  const svc = await startOrders(world, { LOG_LEVEL: 'info' }, undefined, entry);
  const db = new TestDatabase(engines().databaseUrl);
  try {
    await svc.post('/orders', {}); // warm the route
    const put = await fetch(`${svc.url}/inventory/stock/online_fc/TSHIRT-BLK-M`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ onHand: N * 2 }),
    });
    if (put.status !== 200) throw new Error(`set stock: ${put.status}`);
    const place = (i: number) =>
      svc.post<{ id?: string }>(
        '/orders',
        {
          channel: 'web',
          customerId: `cus_prof_${i % 500}`,
          fulfilment: 'ship',
          currency: 'usd',
          lines: [{ sku: 'TSHIRT-BLK-M', quantity: 1 }],
        },
        { 'idempotency-key': `${world.run}-${i}` },
      );
    for (let i = 0; i < 200; i++) await place(-1 - i); // warm-up (JIT, pools)
    const pid = svc.pid as number;
    const cpu0 = cpuMs(pid);
    const t0 = performance.now();
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < N) {
          const r = await place(next++);
          if (r.status !== 201) failed++;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuMs(pid) - cpu0;
    console.log(
      JSON.stringify({
        orders: N,
        concurrency: CONCURRENCY,
        failed,
        seconds: +seconds.toFixed(2),
        perSecond: Math.round(N / seconds),
        serviceCpuMsPerOrder: +(cpu / N).toFixed(2),
      }),
    );
  } finally {
    await svc.stop();
    await db.dropSchema(world.schema);
    await db.close();
  }
}

void main();
