import { Client } from 'pg';
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
  republished,
  shuffle,
  startOrders,
  traceparentFor,
  type PlacedOrder,
} from './orders-harness';

/**
 * The orders service as a real process on real PostgreSQL and Kafka, fed payments.events.v1 the way the payments
 * service publishes them. Each test uses its own customers, SKUs and locations, so they share one process.
 */
describe('orders, inventory and loyalty driven by payment events', () => {
  const world = isolatedWorld('orders_it');
  const db = new TestDatabase(engines().databaseUrl);
  const q = new OrdersDb(db, world.schema);
  const payments = new PaymentsProducer(world);
  const recorder = new TopicRecorder(
    testKafka(engines().kafkaBrokers),
    ['orders', 'inventory', 'loyalty'].map((t) => `${world.topicPrefix}${t}.events.v1`),
  );
  let svc: ServiceProcess;

  beforeAll(async () => {
    svc = await startOrders(world, { DATABASE_LOCK_TIMEOUT_MS: '1000' });
    await payments.connect();
    await recorder.start();
  });

  afterAll(async () => {
    await recorder.stop();
    await payments.disconnect();
    await svc?.stop();
    await db.dropSchema(world.schema);
    await db.close();
  });

  async function setStock(location: string, sku: string, onHand: number): Promise<void> {
    const r = await fetch(`${svc.url}/inventory/stock/${location}/${sku}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ onHand }),
    });
    expect(r.status).toBe(200);
  }

  async function place(body: Record<string, unknown>): Promise<PlacedOrder> {
    const r = await svc.post<PlacedOrder>('/orders', body);
    if (r.status !== 201) throw new Error(`place order: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  const statusOf = (id: string, want: string) =>
    eventually(
      () => q.status(id),
      (s) => s === want,
      { what: `order ${id} ${want}` },
    );

  it('pays an order once: status paid, stock committed at the fulfilment location, points credited once', async () => {
    await setStock('online_fc', 'CAP-NVY', 20);
    const order = await place({
      channel: 'web',
      customerId: 'cus_once',
      fulfilment: 'ship',
      currency: 'usd',
      lines: [{ sku: 'CAP-NVY', quantity: 3 }],
    });
    expect(order).toMatchObject({
      status: 'pending_payment',
      total: 5997,
      stockLocationId: 'online_fc',
      storeId: 'online_fc',
    });
    expect(await q.stock('CAP-NVY', 'online_fc')).toEqual({ on_hand: 20, reserved: 3 });

    const pi = newPi();
    const ok = events.succeeded(order, pi);
    await payments.send([ok, ok, ok]); // one message delivered three times
    await statusOf(order.id, 'paid');
    await eventually(
      () => q.stock('CAP-NVY', 'online_fc'),
      (s) => s.reserved === 0,
      { what: 'stock committed' },
    );
    await eventually(
      () => q.ledger('cus_once'),
      (l) => l.length === 1,
      { what: 'points credited' },
    );

    // The same fact re-published under a new message id (a retried producer) changes nothing either.
    await payments.send([events.succeeded(order, pi)]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await q.stock('CAP-NVY', 'online_fc')).toEqual({ on_hand: 17, reserved: 0 });
    expect(await q.ledger('cus_once')).toEqual([{ order_id: order.id, reason: 'accrual', points: 59 }]);
    expect(await q.balances('cus_once')).toEqual({ sum: 59, account: 59 });
    const view = (
      await svc.get<{ status: string; payment: Record<string, unknown>; history: { to: string }[] }>(
        `/orders/${order.id}`,
      )
    ).body;
    expect(view.payment).toMatchObject({
      paymentIntentId: pi,
      paymentId: `pay_${pi.slice(3)}`,
      status: 'succeeded',
      amountPaid: 5997,
      currency: 'usd',
    });
    expect(view.history.map((h) => h.to)).toEqual(['pending_payment', 'paid']);
    const loyalty = (await svc.get<{ balance: number }>('/loyalty/customers/cus_once')).body;
    expect(loyalty.balance).toBe(59);

    // The ledger is append-only, whoever asks: a correction is a new entry.
    await expect(db.query(`UPDATE ${world.schema}.loyalty_entries SET points = 1000 WHERE customer_id = 'cus_once'`)).rejects.toThrow(
      /loyalty_entries is append-only: UPDATE refused/,
    );
    await expect(db.query(`DELETE FROM ${world.schema}.loyalty_entries WHERE customer_id = 'cus_once'`)).rejects.toThrow(
      /loyalty_entries is append-only: DELETE refused/,
    );
    expect(await q.balances('cus_once')).toEqual({ sum: 59, account: 59 });
  });

  it('ends in exactly the right order, stock and points when every event arrives three times, shuffled', async () => {
    await setStock('store_paris', 'TSHIRT-BLK-M', 50);
    await setStock('store_nyc', 'TSHIRT-BLK-M', 0);
    const customer = 'cus_shuffle';
    const orders: PlacedOrder[] = [];
    for (let i = 0; i < 6; i++) {
      orders.push(
        await place({
          channel: 'app',
          customerId: customer,
          storeId: 'store_paris',
          fulfilment: 'pickup',
          currency: 'eur',
          lines: [{ sku: 'TSHIRT-BLK-M', quantity: 2 }],
        }),
      );
    }
    // Orders 0-1: paid. 2-3: paid, refunded 1000 then fully with one shirt returned to New York. 4: failed then paid.
    // 5: failed only (stays payable, stock held).
    const all = orders.flatMap((o, i) => {
      const pi = newPi();
      if (i <= 1) return [events.succeeded(o, pi)];
      if (i <= 3)
        return [
          events.succeeded(o, pi),
          events.refunded(o, pi, { refundId: `re_a${i}`, amount: 1000, totalRefunded: 1000 }),
          events.refunded(o, pi, {
            refundId: `re_b${i}`,
            amount: o.total - 1000,
            totalRefunded: o.total,
            returnedItems: [{ sku: 'TSHIRT-BLK-M', quantity: 1 }],
            returnStoreId: 'store_nyc',
          }),
        ];
      if (i === 4) return [events.failed(o, newPi()), events.succeeded(o, pi)];
      return [events.failed(o, pi)];
    });
    await payments.send(shuffle([...all, ...all, ...all]));

    const want = ['paid', 'paid', 'refunded', 'refunded', 'paid', 'payment_failed'];
    await eventually(
      () => Promise.all(orders.map((o) => q.status(o.id))),
      (s) => s.join() === want.join(),
      { what: 'final statuses' },
    );
    // 5 paid orders × 2 shirts committed, order 5's 2 still reserved; 2 shirts returned to New York.
    await eventually(
      () => q.stock('TSHIRT-BLK-M', 'store_nyc'),
      (s) => s.on_hand === 2,
      { what: 'returns restocked' },
    );
    // How many reversal entries a refunded order gets depends on arrival order; what they add up to does not.
    await eventually(
      () => q.balances(customer),
      (b) => b.sum === 3 * 46,
      { what: 'ledger complete' },
    );
    await new Promise((r) => setTimeout(r, 1500)); // let any duplicate that would (wrongly) apply do so
    expect(await q.stock('TSHIRT-BLK-M', 'store_paris')).toEqual({ on_hand: 40, reserved: 2 });
    expect(await q.stock('TSHIRT-BLK-M', 'store_nyc')).toEqual({ on_hand: 2, reserved: 0 });
    const ledger = await q.ledger(customer);
    expect(ledger.filter((e) => e.reason === 'accrual')).toHaveLength(5); // one per paid order
    for (const o of orders.slice(2, 4)) {
      // Each order is 4600 (46 points). Whichever refund event came first, the reversals add up to all 46.
      expect(ledger.filter((e) => e.order_id === o.id).reduce((s, e) => s + e.points, 0)).toBe(0);
    }
    expect(await q.balances(customer)).toEqual({ sum: 3 * 46, account: 3 * 46 });
  });

  it('applies a burst with several events per order (one chunk or many) as one event at a time, and emits each effect caused by its own payment event', async () => {
    await setStock('store_berlin', 'STICKER-PACK', 30);
    await setStock('store_paris', 'STICKER-PACK', 0);
    const customer = 'cus_burst';
    const placeOne = (quantity: number) =>
      place({
        channel: 'app',
        customerId: customer,
        storeId: 'store_berlin',
        fulfilment: 'pickup',
        currency: 'eur',
        lines: [{ sku: 'STICKER-PACK', quantity }],
      });
    const [created, refunded, mismatched, failedThenPaid] = [
      await placeOne(2),
      await placeOne(4),
      await placeOne(1),
      await placeOne(3),
    ];
    const [pa, pb, pc, pd] = [newPi(), newPi(), newPi(), newPi()];
    const paidA = events.succeeded(created, pa);
    const paidB = events.succeeded(refunded, pb);
    const refundB = events.refunded(refunded, pb, {
      refundId: `re_burst_${pb}`,
      amount: refunded.total,
      totalRefunded: refunded.total,
      returnedItems: [{ sku: 'STICKER-PACK', quantity: 1 }],
      returnStoreId: 'store_paris',
    });
    const unknown = events.succeeded({ ...created, id: 'ord_not_ours' }, newPi());
    // Sent together, partition by partition in this order (all keyed by order id).
    await payments.send([
      events.created(created, pa),
      paidA,
      republished(paidA),
      paidB,
      refundB,
      republished(refundB),
      unknown,
      events.succeeded(mismatched, pc, { amount: mismatched.total + 1 }),
      events.failed(failedThenPaid, newPi()),
      events.created(failedThenPaid, pd),
      events.succeeded(failedThenPaid, pd),
    ]);

    const order = [created.id, refunded.id, mismatched.id, failedThenPaid.id];
    const want = {
      [created.id]: 'paid',
      [refunded.id]: 'refunded',
      [mismatched.id]: 'payment_mismatch',
      [failedThenPaid.id]: 'paid',
    };
    for (const [id, status] of Object.entries(want)) await statusOf(id, status);
    // 2 + 4 + 3 sold from Berlin, 1 still held for the flagged order; one returned sticker in Paris.
    await eventually(
      () => Promise.all([q.stock('STICKER-PACK', 'store_berlin'), q.stock('STICKER-PACK', 'store_paris')]),
      ([berlin, paris]) => berlin.on_hand === 21 && paris?.on_hand === 1,
      { what: 'stock committed and the return restocked' },
    );
    // 450 × 2 → 9 points, 450 × 4 → 18 points (fully reversed), 450 × 3 → 13 points.
    await eventually(
      () => q.balances(customer),
      (b) => b.sum === 22 && b.account === 22,
      { what: 'ledger' },
    );
    await new Promise((r) => setTimeout(r, 1500)); // let any duplicate that would (wrongly) apply do so
    expect(await q.stock('STICKER-PACK', 'store_berlin')).toEqual({ on_hand: 21, reserved: 1 });
    expect(await q.stock('STICKER-PACK', 'store_paris')).toEqual({ on_hand: 1, reserved: 0 });
    // Orders live on different partitions: no order between them, only within one (a stable sort keeps it).
    const ledger = (await q.ledger(customer)).sort(
      (a, b) => order.indexOf(a.order_id) - order.indexOf(b.order_id),
    );
    expect(ledger.map((e) => [e.order_id, e.reason, e.points])).toEqual([
      [created.id, 'accrual', 9],
      [refunded.id, 'accrual', 18],
      [refunded.id, 'refund_reversal', -18],
      [failedThenPaid.id, 'accrual', 13],
    ]);
    const history = async (id: string) =>
      (await svc.get<{ history: { to: string }[] }>(`/orders/${id}`)).body.history.map((h) => h.to);
    expect(await history(refunded.id)).toEqual(['pending_payment', 'paid', 'refunded']);
    expect(await history(failedThenPaid.id)).toEqual([
      'pending_payment',
      'payment_failed',
      'pending_payment',
      'paid',
    ]);
    expect(
      await db.scalar(
        `SELECT count(*) FROM ${world.schema}.inbox WHERE outcome <> 'applied' AND message_type LIKE 'payment.%'`,
      ),
    ).toBe(0);
    // Inventory and loyalty pass over the kinds they never act on: no inbox row, no transaction for them.
    const kindsRead = async (group: string) =>
      (
        await db.query<{ message_type: string }>(
          `SELECT DISTINCT message_type FROM ${world.schema}.inbox WHERE consumer_group LIKE '%.' || $1`,
          [group],
        )
      ).map((r) => r.message_type);
    expect(await kindsRead('orders')).toEqual(expect.arrayContaining(['payment.created', 'payment.failed', 'payment.succeeded']));
    for (const group of ['inventory', 'loyalty']) {
      const kinds = await kindsRead(group);
      expect(kinds).toEqual(expect.arrayContaining(['payment.succeeded', 'payment.refunded']));
      expect(kinds).not.toContain('payment.created');
      expect(kinds).not.toContain('payment.failed');
    }

    // Each emitted event names the payment event that caused it and carries its correlation id and trace.
    const emitted = await eventually(
      () =>
        Promise.resolve(
          recorder.messages
            .map((m) => ({
              ...(m.json as {
                type: string;
                causationId: string;
                correlationId: string;
                data: Record<string, unknown>;
              }),
              traceId: String(m.headers.traceparent).split('-')[1],
            }))
            .filter(
              // Effects of payment events (placement's own events have no cause).
              (e) => e?.causationId && (e.data.orderId === created.id || e.data.orderId === refunded.id),
            ),
        ),
      (es) => es.length === 9,
      { what: 'emitted events' },
    );
    const causes = (type: string, orderId: string) =>
      emitted
        .filter((e) => e.type === type && e.data.orderId === orderId)
        .map((e) => [e.causationId, e.correlationId]);
    const by = (e: { id: string; correlationId: string }) => [e.id, e.correlationId];
    expect(causes('order.status_changed', created.id)).toEqual([by(paidA)]);
    expect(causes('stock.changed', created.id)).toEqual([by(paidA)]);
    expect(causes('loyalty.points_changed', created.id)).toEqual([by(paidA)]);
    expect(causes('order.status_changed', refunded.id)).toEqual([by(paidB), by(refundB)]);
    expect(
      emitted
        .filter((e) => e.type === 'stock.changed' && e.data.orderId === refunded.id)
        .map((e) => `${String(e.data.change)}@${String(e.data.locationId)} by ${e.causationId}`)
        .sort(), // different SKU@location keys: no order between them on the wire
    ).toEqual([`committed@store_berlin by ${paidB.id}`, `restocked@store_paris by ${refundB.id}`].sort());
    const points = emitted.filter(
      (e) => e.type === 'loyalty.points_changed' && e.data.orderId === refunded.id,
    );
    expect(points.map((e) => [e.data.reason, e.data.points, e.causationId])).toEqual([
      ['accrual', 18, paidB.id],
      ['refund_reversal', -18, refundB.id],
    ]);
    const causesById = new Map([paidA, paidB, refundB].map((e) => [e.id, traceparentFor(e).split('-')[1]]));
    expect(emitted.map((e) => e.traceId)).toEqual(emitted.map((e) => causesById.get(e.causationId)));
  });

  it('flags a payment whose amount differs from the order: not paid, no points, stock still held', async () => {
    await setStock('store_berlin', 'MUG-WHT', 10);
    const order = await place({
      channel: 'web',
      customerId: 'cus_mismatch',
      storeId: 'store_berlin',
      fulfilment: 'pickup',
      currency: 'eur',
      lines: [{ sku: 'MUG-WHT', quantity: 1 }],
    });
    const short = newPi();
    await payments.send([events.succeeded(order, short, { amount: order.total - 1 })]);
    await statusOf(order.id, 'payment_mismatch');
    const other = await place({
      channel: 'web',
      customerId: 'cus_mismatch',
      storeId: 'store_berlin',
      fulfilment: 'pickup',
      currency: 'eur',
      lines: [{ sku: 'MUG-WHT', quantity: 1 }],
    });
    await payments.send([events.succeeded(other, newPi(), { currency: 'usd' })]);
    await statusOf(other.id, 'payment_mismatch');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await q.ledger('cus_mismatch')).toEqual([]);
    expect(await q.stock('MUG-WHT', 'store_berlin')).toEqual({ on_hand: 10, reserved: 2 });
    const view = (await svc.get<{ history: { to: string; reason: string }[] }>(`/orders/${order.id}`)).body;
    expect(view.history.at(-1)?.reason).toContain('differs from order');
    // A partial refund moves it on (partially_refunded), but the goods still do not leave for a payment short.
    await payments.send([events.refunded(order, short, { refundId: `re_${order.id}`, amount: 1, totalRefunded: 1 })]);
    await statusOf(order.id, 'partially_refunded');
    const pickup = await svc.post<{ error?: string }>(`/orders/${order.id}/ready-for-pickup`, { actor: 'alice' });
    expect({ status: pickup.status, code: pickup.body.error }).toEqual({ status: 409, code: 'payment_mismatch' });
    expect((await svc.post(`/orders/${order.id}/picked-up`, { actor: 'alice' })).status).toBe(409);
  });

  it('places exactly 10 of 100 concurrent orders for the last 10 units, and the rest get 409 out_of_stock', async () => {
    await setStock('store_berlin', 'HOODIE-GRY-L', 10);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        svc.post<{ error?: string }>('/orders', {
          channel: 'pos',
          customerId: i % 2 ? null : `cus_rush_${i}`,
          storeId: 'store_berlin',
          fulfilment: 'in_store',
          currency: 'eur',
          lines: [{ sku: 'HOODIE-GRY-L', quantity: 1 }],
        }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(10);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(90);
    expect(refused.every((r) => r.status === 409 && r.body.error === 'out_of_stock')).toBe(true);
    expect(await q.stock('HOODIE-GRY-L', 'store_berlin')).toEqual({ on_hand: 10, reserved: 10 });
    expect(
      await db.scalar(`SELECT count(*) FROM ${world.schema}.order_lines WHERE sku = 'HOODIE-GRY-L'`),
    ).toBe(10);
    expect(
      await db.scalar(
        `SELECT count(*) FROM ${world.schema}.stock WHERE on_hand < 0 OR reserved < 0 OR reserved > on_hand`,
      ),
    ).toBe(0);
  });

  it('moves to partially_refunded then refunded, reverses points pro rata and restocks returns at the return store', async () => {
    await setStock('online_fc', 'HOODIE-GRY-L', 10);
    await setStock('store_paris', 'HOODIE-GRY-L', 0);
    const order = await place({
      channel: 'web',
      customerId: 'cus_refund',
      fulfilment: 'ship',
      currency: 'usd',
      lines: [{ sku: 'HOODIE-GRY-L', quantity: 3 }],
    });
    expect(order.total).toBe(18000);
    const pi = newPi();
    await payments.send([events.succeeded(order, pi)]);
    await statusOf(order.id, 'paid');
    await eventually(
      () => q.ledger('cus_refund'),
      (l) => l.length === 1,
      { what: 'accrual' },
    );

    await payments.send([
      events.refunded(order, pi, {
        refundId: 're_1',
        amount: 5000,
        totalRefunded: 5000,
        returnedItems: [{ sku: 'HOODIE-GRY-L', quantity: 1 }],
        returnStoreId: 'store_paris',
      }),
    ]);
    await statusOf(order.id, 'partially_refunded');
    await eventually(
      () => q.ledger('cus_refund'),
      (l) => l.length === 2,
      { what: 'first reversal' },
    );
    // 180 points; 5000/18000 refunded → floor(180 × 5000 / 18000) = 50
    expect((await q.ledger('cus_refund')).map((e) => [e.reason, e.points])).toEqual([
      ['accrual', 180],
      ['refund_reversal', -50],
    ]);
    await eventually(
      () => q.stock('HOODIE-GRY-L', 'store_paris'),
      (s) => s.on_hand === 1,
      { what: 'first return restocked' },
    );

    await payments.send([
      events.refunded(order, pi, {
        refundId: 're_2',
        amount: 13000,
        totalRefunded: 18000,
        returnedItems: [{ sku: 'HOODIE-GRY-L', quantity: 2 }],
        returnStoreId: 'store_paris',
      }),
    ]);
    await statusOf(order.id, 'refunded');
    await eventually(
      () => q.ledger('cus_refund'),
      (l) => l.length === 3,
      { what: 'second reversal' },
    );
    expect((await q.ledger('cus_refund')).map((e) => e.points)).toEqual([180, -50, -130]);
    expect(await q.balances('cus_refund')).toEqual({ sum: 0, account: 0 });
    await eventually(
      () => q.stock('HOODIE-GRY-L', 'store_paris'),
      (s) => s.on_hand === 3,
      { what: 'second return restocked' },
    );
    expect(await q.stock('HOODIE-GRY-L', 'online_fc')).toEqual({ on_hand: 7, reserved: 0 });
    const view = (
      await svc.get<{ history: { to: string }[]; payment: { amountRefunded: number } }>(`/orders/${order.id}`)
    ).body;
    expect(view.history.map((h) => h.to)).toEqual([
      'pending_payment',
      'paid',
      'partially_refunded',
      'refunded',
    ]);
    expect(view.payment.amountRefunded).toBe(18000);
  });

  it('reverses points for a dispute without ever taking back more than was accrued', async () => {
    const order = await place({
      channel: 'app',
      customerId: 'cus_dispute',
      fulfilment: 'ship',
      currency: 'usd',
      lines: [{ sku: 'MUG-WHT', quantity: 1 }],
    });
    const pi = newPi();
    await payments.send([
      events.succeeded(order, pi),
      events.refunded(order, pi, { refundId: 're_d', amount: 625, totalRefunded: 625 }),
      events.disputed(order, pi, 1250),
    ]);
    await eventually(
      () => q.ledger('cus_dispute'),
      (l) => l.length === 3,
      { what: 'accrual and reversals' },
    );
    expect((await q.ledger('cus_dispute')).map((e) => [e.reason, e.points])).toEqual([
      ['accrual', 12],
      ['refund_reversal', -6],
      ['dispute_reversal', -6],
    ]);
  });

  it('gives the points of a won dispute back once and shows the outcome; a failed refund gives its points back and marks the order', async () => {
    const order = await place({
      channel: 'web',
      customerId: 'cus_won',
      fulfilment: 'ship',
      currency: 'usd',
      lines: [{ sku: 'MUG-WHT', quantity: 2 }],
    });
    const pi = newPi();
    const opened = events.disputed(order, pi, 2500);
    const won = events.disputeClosed(order, pi, 'won');
    await payments.send([events.succeeded(order, pi), opened, won, won, republished(opened)]);
    await eventually(
      () => q.ledger('cus_won'),
      (l) => l.length === 3,
      { what: 'accrual, reversal and its return' },
    );
    const view = async () =>
      (await svc.get<{ status: string; history: { to: string; reason: string }[]; payment: Record<string, unknown> }>(`/orders/${order.id}`))
        .body;
    expect((await view()).payment).toMatchObject({ disputeId: `dp_${pi.slice(3)}`, disputeStatus: 'won' });

    // Then a refund, which fails after succeeding: the order says so and the points come back again.
    await payments.send([
      events.refunded(order, pi, { refundId: 're_w', amount: 1000, totalRefunded: 1000 }),
      events.refundFailed(order, pi, { refundId: 're_w', amount: 1000, totalRefunded: 0 }),
    ]);
    await statusOf(order.id, 'refund_failed');
    await eventually(
      () => q.ledger('cus_won'),
      (l) => l.length === 5,
      { what: 'refund reversal and its return' },
    );
    expect((await q.ledger('cus_won')).map((e) => [e.reason, e.points])).toEqual([
      ['accrual', 25],
      ['dispute_reversal', -25],
      ['dispute_reversal', 25],
      ['refund_reversal', -10],
      ['refund_reversal', 10],
    ]);
    expect(await q.balances('cus_won')).toEqual({ sum: 25, account: 25 });
    const after = await view();
    expect(after.history.map((h) => h.to)).toEqual(['pending_payment', 'paid', 'partially_refunded', 'refund_failed']);
    expect(after.payment).toMatchObject({ amountRefunded: 0, disputeStatus: 'won' });
  });

  it('answers 503 busy with Retry-After while an order row stays locked past the lock timeout, and the retry succeeds', async () => {
    await setStock('online_fc', 'CAP-NVY', 5);
    const order = await place({ channel: 'web', customerId: 'cus_locked', fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'CAP-NVY', quantity: 1 }] });
    // Another transaction holds the order's row (a long one, or a stuck one) for longer than the lock timeout.
    const holder = new Client({ connectionString: engines().databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM ${world.schema}.orders WHERE id = $1 FOR UPDATE`, [order.id]);
      const started = Date.now();
      const res = await fetch(`${svc.url}/orders/${order.id}/cancel`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ actor: 'alice' }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('busy');
      expect(Date.now() - started).toBeLessThan(10000); // the lock timeout (1 s here), not the statement timeout (15 s)
      expect(await q.status(order.id)).toBe('pending_payment');
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    const retried = await svc.post(`/orders/${order.id}/cancel`, { actor: 'alice' });
    expect(retried.status).toBe(200);
    expect(await q.status(order.id)).toBe('cancelled');
  });

  it('cancels an unpaid order at its deadline (also after a failed payment) and releases its stock; a late payment is honoured', async () => {
    await setStock('store_nyc', 'STICKER-PACK', 5);
    const unpaid = await place({
      channel: 'web',
      customerId: 'cus_exp',
      storeId: 'store_nyc',
      fulfilment: 'pickup',
      currency: 'usd',
      lines: [{ sku: 'STICKER-PACK', quantity: 2 }],
    });
    const failed = await place({
      channel: 'web',
      customerId: 'cus_exp',
      storeId: 'store_nyc',
      fulfilment: 'pickup',
      currency: 'usd',
      lines: [{ sku: 'STICKER-PACK', quantity: 3 }],
    });
    // The deadline comes from ORDER_PAYMENT_TTL_S (600 s in this world).
    const ttl = await db.scalar<number>(
      `SELECT extract(epoch FROM expires_at - created_at)::int FROM ${world.schema}.orders WHERE id = $1`,
      [unpaid.id],
    );
    expect(ttl).toBe(600);
    await payments.send([events.failed(failed, newPi())]);
    await statusOf(failed.id, 'payment_failed');
    expect(await q.stock('STICKER-PACK', 'store_nyc')).toEqual({ on_hand: 5, reserved: 5 });

    // Jump to the deadline rather than waiting 10 minutes; the running sweeper does the rest.
    await db.query(
      `UPDATE ${world.schema}.orders SET expires_at = now() - interval '1 second' WHERE id = ANY($1)`,
      [[unpaid.id, failed.id]],
    );
    await statusOf(unpaid.id, 'cancelled');
    await statusOf(failed.id, 'cancelled');
    expect(await q.stock('STICKER-PACK', 'store_nyc')).toEqual({ on_hand: 5, reserved: 0 });
    const view = (
      await svc.get<{ history: { to: string; reason: string; actor: string }[] }>(`/orders/${failed.id}`)
    ).body;
    expect(view.history.map((h) => h.to)).toEqual(['pending_payment', 'payment_failed', 'cancelled']);
    expect(view.history[2]).toMatchObject({ reason: 'payment_expired', actor: 'system:expiry' });

    // The customer's payment lands after the expiry: the order is paid and the stock taken again (it is still there).
    await payments.send([events.succeeded(unpaid, newPi())]);
    await statusOf(unpaid.id, 'paid');
    await eventually(
      () => q.stock('STICKER-PACK', 'store_nyc'),
      (s) => s.on_hand === 3,
      { what: 'stock re-taken' },
    );
    expect(await q.stock('STICKER-PACK', 'store_nyc')).toEqual({ on_hand: 3, reserved: 0 });
  });

  it('runs the pickup flow for staff, refuses illegal transitions with 409, and lists a store pickup queue', async () => {
    const order = await place({
      channel: 'web',
      customerId: 'cus_pickup',
      storeId: 'store_paris',
      fulfilment: 'pickup',
      currency: 'eur',
      lines: [{ sku: 'CAP-NVY', quantity: 1 }],
    });
    expect((await svc.post(`/orders/${order.id}/ready-for-pickup`, {})).status).toBe(409); // not paid yet
    await payments.send([events.succeeded(order, newPi())]);
    await statusOf(order.id, 'paid');
    expect((await svc.post<{ error: string }>(`/orders/${order.id}/fulfilled`, {})).body.error).toBe(
      'illegal_transition',
    ); // pickup orders are picked up
    expect((await svc.post(`/orders/${order.id}/cancel`, {})).status).toBe(409); // paid: refund instead
    const ready = await svc.post<{ status: string }>(`/orders/${order.id}/ready-for-pickup`, {
      actor: 'staff_42',
    });
    expect(ready).toMatchObject({ status: 200, body: { status: 'ready_for_pickup' } });

    const queue = await svc.get<{ orders: { id: string }[] }>(
      '/stores/store_paris/orders?status=ready_for_pickup',
    );
    expect(queue.body.orders.map((o) => o.id)).toContain(order.id);
    const paidOnly = await svc.get<{ orders: { id: string }[] }>('/stores/store_paris/orders?status=paid');
    expect(paidOnly.body.orders.map((o) => o.id)).not.toContain(order.id);

    const done = await svc.post<{ status: string; history: { to: string; actor: string }[] }>(
      `/orders/${order.id}/picked-up`,
      {},
    );
    expect(done.body.status).toBe('completed');
    expect(done.body.history.map((h) => h.to)).toEqual([
      'pending_payment',
      'paid',
      'ready_for_pickup',
      'completed',
    ]);
    expect(done.body.history[2].actor).toBe('staff:staff_42');

    const mine = await svc.get<{ orders: { id: string }[] }>('/customers/cus_pickup/orders');
    expect(mine.body.orders.map((o) => o.id)).toEqual([order.id]);
    expect((await svc.get('/orders/ord_missing')).status).toBe(404);

    // Cancel by staff releases the reservation at once.
    await setStock('store_paris', 'MUG-WHT', 4);
    const toCancel = await place({
      channel: 'web',
      customerId: 'cus_pickup',
      storeId: 'store_paris',
      fulfilment: 'pickup',
      currency: 'eur',
      lines: [{ sku: 'MUG-WHT', quantity: 4 }],
    });
    expect(await q.stock('MUG-WHT', 'store_paris')).toEqual({ on_hand: 4, reserved: 4 });
    expect(
      (
        await svc.post<{ status: string }>(`/orders/${toCancel.id}/cancel`, {
          reason: 'customer changed mind',
        })
      ).body.status,
    ).toBe('cancelled');
    expect(await q.stock('MUG-WHT', 'store_paris')).toEqual({ on_hand: 4, reserved: 0 });
  });

  it('rejects client-sent prices and unknown SKUs or currencies with 400, and answers a retried Idempotency-Key with the same order', async () => {
    const base = {
      channel: 'web',
      customerId: 'cus_bad',
      fulfilment: 'ship',
      currency: 'usd',
      lines: [{ sku: 'MUG-WHT', quantity: 1 }],
    };
    const priced = await svc.post<{ error: string; message: string }>('/orders', {
      ...base,
      lines: [{ sku: 'MUG-WHT', quantity: 1, unitAmount: 1 }],
    });
    expect(priced.status).toBe(400);
    expect(priced.body).toMatchObject({ error: 'client_price_rejected' });
    expect(priced.body.message).toContain('lines[0].unitAmount');
    expect(
      (await svc.post<{ error: string }>('/orders', { ...base, lines: [{ sku: 'NOPE', quantity: 1 }] })).body
        .error,
    ).toBe('unknown_sku');
    expect((await svc.post<{ error: string }>('/orders', { ...base, currency: 'chf' })).body.error).toBe(
      'unsupported_currency',
    );
    expect(await db.scalar(`SELECT count(*) FROM ${world.schema}.orders WHERE customer_id = 'cus_bad'`)).toBe(
      0,
    );

    const key = { 'idempotency-key': `k-${world.run}` };
    const [a, b] = await Promise.all([
      svc.post<{ id: string }>('/orders', base, key),
      svc.post<{ id: string }>('/orders', base, key),
    ]);
    expect(a.body.id).toBe(b.body.id);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    expect(
      (await svc.post('/orders', { ...base, lines: [{ sku: 'MUG-WHT', quantity: 2 }] }, key)).status,
    ).toBe(422);

    // The product loses its price after the keyed order was placed: a retry still gets that order, while a new
    // request is refused (once the catalog cache has expired).
    await db.query(`DELETE FROM ${world.schema}.product_prices WHERE sku = 'MUG-WHT' AND currency = 'usd'`);
    await eventually(
      async () => (await svc.post<{ error: string }>('/orders', base)).body.error,
      (error) => error === 'unknown_sku',
      { timeoutMs: 15000, intervalMs: 500, what: 'the catalog cache to see the retired price' },
    );
    const retried = await svc.post<{ id: string }>('/orders', base, key);
    expect(retried.status).toBe(200);
    expect(retried.body.id).toBe(a.body.id);
  });
});
