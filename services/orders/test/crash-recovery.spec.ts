import {
  TestDatabase,
  TopicRecorder,
  engines,
  eventually,
  testKafka,
  type ServiceProcess,
} from '@omnipay/testing';
import {
  OrdersDb,
  PaymentsProducer,
  events,
  isolatedWorld,
  newPi,
  shuffle,
  startOrders,
  type PlacedOrder,
} from './orders-harness';

const ORDERS = 400;

describe('orders service killed with SIGKILL mid-burst of payment events', () => {
  const world = isolatedWorld('orders_kill');
  const db = new TestDatabase(engines().databaseUrl);
  const q = new OrdersDb(db, world.schema);
  const payments = new PaymentsProducer(world);
  const recorder = new TopicRecorder(testKafka(engines().kafkaBrokers), [
    `${world.topicPrefix}orders.events.v1`,
  ]);
  let svc: ServiceProcess | undefined;

  afterAll(async () => {
    await recorder.stop();
    await payments.disconnect();
    await svc?.stop();
    await db.dropSchema(world.schema);
    await db.close();
  });

  const count = (sql: string) => db.scalar<number>(sql.replaceAll('$S', world.schema));

  it('loses and doubles nothing: every order paid once, stock committed once, one accrual per payment', async () => {
    svc = await startOrders(world);
    const port = svc.options.port;
    await payments.connect();
    await recorder.start();
    for (const [loc, sku] of [
      ['online_fc', 'MUG-WHT'],
      ['online_fc', 'CAP-NVY'],
    ]) {
      await fetch(`${svc.url}/inventory/stock/${loc}/${sku}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ onHand: 1000 }),
      });
    }
    const orders: PlacedOrder[] = [];
    for (let i = 0; i < ORDERS; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          svc!.post<PlacedOrder>('/orders', {
            channel: 'web',
            customerId: `cus_k${(i + j) % 7}`,
            fulfilment: 'ship',
            currency: 'usd',
            lines: [
              { sku: 'MUG-WHT', quantity: 1 },
              { sku: 'CAP-NVY', quantity: 1 },
            ],
          }),
        ),
      );
      orders.push(...batch.map((r) => r.body));
    }
    expect(orders.every((o) => o.status === 'pending_payment')).toBe(true);

    // Every success twice (same message) plus once re-published under a new id, shuffled.
    const pis = orders.map(() => newPi());
    const succeeded = orders.map((o, i) => events.succeeded(o, pis[i]));
    const burst = shuffle([...succeeded, ...succeeded, ...orders.map((o, i) => events.succeeded(o, pis[i]))]);

    const progress = async () => ({
      paid: await count(`SELECT count(*) FROM $S.orders WHERE status = 'paid'`),
      accruals: await count(`SELECT count(*) FROM $S.loyalty_entries WHERE reason = 'accrual'`),
      committed: await count(`SELECT count(*) FROM $S.inventory_holds WHERE status = 'committed'`),
    });
    const unfinished = (p: { paid: number; accruals: number; committed: number }) =>
      Math.min(p.paid, p.accruals, p.committed) < ORDERS;

    await payments.send(burst.slice(0, burst.length / 2));
    await eventually(progress, (p) => p.paid + p.accruals + p.committed > 0, {
      intervalMs: 10,
      what: 'first effects',
    });
    await svc.kill();
    const atKill = await progress();
    // The kill must have landed in the middle of the work, or this test would prove nothing.
    expect(unfinished(atKill)).toBe(true);

    await payments.send(burst.slice(burst.length / 2)); // the rest arrives while the service is down
    svc = await startOrders(world, {}, port);

    const want = { paid: ORDERS, accruals: ORDERS, committed: ORDERS };
    await eventually(progress, (p) => !unfinished(p), {
      timeoutMs: 90000,
      what: 'all effects after restart',
    });
    await new Promise((r) => setTimeout(r, 2000)); // redelivered duplicates would land now
    expect(await progress()).toEqual(want);

    // Nothing was parked on a dead-letter topic: every message was applied (or recognised as a duplicate).
    expect(await count(`SELECT count(*) FROM $S.inbox WHERE outcome <> 'applied'`)).toBe(0);
    expect(await q.stock('MUG-WHT', 'online_fc')).toEqual({ on_hand: 1000 - ORDERS, reserved: 0 });
    expect(await q.stock('CAP-NVY', 'online_fc')).toEqual({ on_hand: 1000 - ORDERS, reserved: 0 });
    expect(await count(`SELECT count(*) FROM $S.order_status_history WHERE to_status = 'paid'`)).toBe(ORDERS);
    // 1250 + 1999 = 3249 cents → 32 points per order
    expect(await count(`SELECT COALESCE(SUM(points), 0)::int FROM $S.loyalty_entries`)).toBe(ORDERS * 32);
    for (let c = 0; c < 7; c++) {
      const b = await q.balances(`cus_k${c}`);
      expect(b.account).toBe(b.sum);
    }

    // Downstream sees one OrderStatusChanged → paid per order (the relay may resend a row after the kill, under
    // the same message id, which consumers' inboxes drop).
    await eventually(
      async () =>
        new Set(
          recorder.messages
            .filter(
              (m) => m.json?.type === 'order.status_changed' && (m.json.data as { to: string }).to === 'paid',
            )
            .map((m) => m.json!.id),
        ).size,
      (n) => n === ORDERS,
      { timeoutMs: 30000, what: 'OrderStatusChanged(paid) on the wire' },
    );
    const paidEvents = recorder.messages.filter(
      (m) => m.json?.type === 'order.status_changed' && (m.json.data as { to: string }).to === 'paid',
    );
    const perOrder = new Map<string, Set<unknown>>();
    for (const m of paidEvents) {
      const id = (m.json!.data as { orderId: string }).orderId;
      perOrder.set(id, (perOrder.get(id) ?? new Set()).add(m.json!.id));
    }
    expect([...perOrder.values()].every((ids) => ids.size === 1)).toBe(true);
  });
});
