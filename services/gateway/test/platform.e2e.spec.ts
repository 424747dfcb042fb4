import { randomUUID } from 'node:crypto';
import { mintToken, type Role } from '@omnipay/auth';
import { Topics } from '@omnipay/contracts';
import { TestDatabase, TopicRecorder, engines, eventually, freePort, startStack, testKafka, type Stack } from '@omnipay/testing';
import Redis from 'ioredis';
import Stripe from 'stripe';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The platform as one system, driven through the gateway only (plus the browser-side Stripe SDK with the
 * publishable key, as a real client would): emulator → webhooks → Kafka → payments → orders/inventory/loyalty.
 */
describe('checkout to fulfilment through the gateway', () => {
  let stack: Stack;
  let recorder: TopicRecorder;
  let browser: Stripe;
  const db = new TestDatabase(engines().databaseUrl);

  beforeAll(async () => {
    stack = await startStack({
      isolated: true,
      services: ['webhooks', 'payments', 'orders', 'gateway'],
      // A generous upstream timeout: 100 concurrent checkouts on a loaded 2-core machine must not turn into 504s.
      // A slow cancellation poll: a cancelled order's PaymentIntent is cancelled because the consumer wakes the worker.
      env: { gateway: { RATE_LIMIT_PER_MINUTE: '1000', UPSTREAM_TIMEOUT_MS: '30000' }, payments: { PAYMENT_CANCELLATIONS_POLL_MS: '60000', PAYOUTS_RETRY_MS: '200' } },
    });
    recorder = await new TopicRecorder(
      testKafka(engines().kafkaBrokers),
      [Topics.paymentsEvents, Topics.ordersEvents, Topics.inventoryEvents, Topics.loyaltyEvents, Topics.financeReconciliation].map(
        (t) => `${stack.topicPrefix}${t}`,
      ),
    ).start();
    browser = new Stripe(stack.emulator.publishableKey, { ...(stack.emulator.stripeConfig as object), maxNetworkRetries: 0 });
  }, 180000);

  afterAll(async () => {
    await recorder?.stop();
    await stack?.stop();
    for (const s of ['webhooks', 'payments', 'orders', 'gateway'] as const) await db.dropSchema(stack.schema(s));
    await db.close();
  }, 60000);

  const token = (sub: string, role: Role, extra: { storeId?: string; channel?: 'app' | 'web' } = {}) =>
    mintToken({ sub, role, ...extra }, stack.secrets.jwt);

  async function api(tok: string | null, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${stack.urls.gateway}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(tok ? { authorization: `Bearer ${tok}` } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Json };
  }

  const orderState = (tok: string, id: string, statuses: string[]) =>
    eventually(
      async () => (await api(tok, 'GET', `/v1/orders/${id}`)).body,
      (o) => statuses.includes(o.status as string),
      { timeoutMs: 30000, what: `order ${id} to reach ${statuses.join('|')}` },
    );

  const stock = async (sku: string, location: string) => {
    const res = await fetch(`${stack.urls.orders}/inventory/stock?sku=${sku}&locationId=${location}`);
    const body = (await res.json()) as { stock: { onHand: number; reserved: number }[] };
    return body.stock[0];
  };

  const onTopic = (topic: string, orderId: string) =>
    recorder.on(`${stack.topicPrefix}${topic}`).filter((m) => (m.json?.data as Json | undefined)?.orderId === orderId);

  /** A web checkout of mugs paid in the browser, once finance has its charge entry. */
  async function paidMugs(sub: string, quantity: number) {
    const buyer = token(sub, 'customer', { channel: 'web' });
    const checkout = await api(buyer, 'POST', '/v1/checkout', { fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'MUG-WHT', quantity }] });
    expect(checkout.status).toBe(201);
    await browser.paymentIntents.confirm(checkout.body.paymentIntentId as string, {
      payment_method: 'pm_card_visa',
      client_secret: checkout.body.clientSecret,
    } as Stripe.PaymentIntentConfirmParams);
    await eventually(async () => onTopic(Topics.financeReconciliation, checkout.body.orderId as string), (m) => m.length === 1, {
      what: 'the charge entry of the order',
    });
    return { buyer, checkout };
  }

  it('pays a web order once when Stripe delivers every event three times, shuffled: order, stock and points exactly right', async () => {
    stack.emulator.addWebhookFault({ duplicate: 3, shuffle_window_ms: 300 });
    const alice = token('cust_e2e_alice', 'customer', { channel: 'web' });
    const before = await stock('TSHIRT-BLK-M', 'online_fc');
    const checkout = await api(alice, 'POST', '/v1/checkout', {
      fulfilment: 'ship',
      currency: 'usd',
      lines: [{ sku: 'TSHIRT-BLK-M', quantity: 2 }, { sku: 'MUG-WHT', quantity: 1 }],
    });
    expect(checkout.status).toBe(201);
    expect(checkout.body).toMatchObject({ amount: 2 * 2500 + 1250, currency: 'usd', publishableKey: stack.emulator.publishableKey });
    expect(checkout.body.clientSecret).toMatch(/^pi_.+_secret_/);

    await browser.paymentIntents.confirm(checkout.body.paymentIntentId, {
      payment_method: 'pm_card_visa',
      client_secret: checkout.body.clientSecret,
    } as Stripe.PaymentIntentConfirmParams);
    const order = await orderState(alice, checkout.body.orderId, ['paid']);
    await new Promise((r) => setTimeout(r, 3000)); // let every duplicate arrive before counting
    stack.emulator.clearFaults();

    expect(order.payment).toMatchObject({ amountPaid: 6250, currency: 'usd' });
    const after = await stock('TSHIRT-BLK-M', 'online_fc');
    expect(after.onHand).toBe(before.onHand - 2);
    expect(after.reserved).toBe(before.reserved);
    const loyalty = await api(alice, 'GET', '/v1/me/loyalty');
    expect(loyalty.body.balance).toBe(62);
    expect(onTopic(Topics.paymentsEvents, checkout.body.orderId).filter((m) => m.json?.type === 'payment.succeeded')).toHaveLength(1);
    expect(onTopic(Topics.loyaltyEvents, checkout.body.orderId)).toHaveLength(1);
    expect(onTopic(Topics.financeReconciliation, checkout.body.orderId)).toHaveLength(1);
    expect(
      await db.scalar(`SELECT count(*) FROM ${stack.schema('orders')}.inbox WHERE consumer_group LIKE '%.orders.orders'`),
    ).toBeGreaterThan(0);
  });

  it('keeps a refund that failed after succeeding visible: order refund_failed, points given back, stock kept; a new refund settles it', async () => {
    const carol = token('cust_e2e_carol', 'customer', { channel: 'web' });
    const admin = token('ops_e2e', 'admin');
    const checkout = await api(carol, 'POST', '/v1/checkout', {
      fulfilment: 'ship',
      currency: 'usd',
      lines: [{ sku: 'HOODIE-GRY-L', quantity: 1 }, { sku: 'MUG-WHT', quantity: 2 }],
    });
    expect(checkout.status).toBe(201);
    const { orderId, amount } = checkout.body as { orderId: string; amount: number };
    await browser.paymentIntents.confirm(checkout.body.paymentIntentId, {
      payment_method: 'pm_card_visa',
      client_secret: checkout.body.clientSecret,
    } as Stripe.PaymentIntentConfirmParams);
    await orderState(carol, orderId, ['paid']);
    const points = Math.floor(amount / 100);
    const balance = () => api(carol, 'GET', '/v1/me/loyalty').then((r) => r.body.balance as number);
    await eventually(balance, (b) => b === points, { what: 'points for the order' });
    const mugs = await stock('MUG-WHT', 'online_fc');

    // The customer sends both mugs back; the refund succeeds, then fails days later (closed card).
    const refund = await api(admin, 'POST', `/v1/orders/${orderId}/refunds`, { amount: 2500, items: [{ sku: 'MUG-WHT', quantity: 2 }] }, { 'idempotency-key': 'carol-return-1' });
    expect(refund.status).toBe(201);
    await orderState(carol, orderId, ['partially_refunded']);
    const reversed = points - Math.floor((points * 2500) / amount);
    await eventually(balance, (b) => b === reversed, { what: 'points reversed for the return' });
    await eventually(() => stock('MUG-WHT', 'online_fc').then((x) => x.onHand), (n) => n === mugs.onHand + 2, { what: 'mugs restocked' });

    const fail = await fetch(`${stack.emulator.url}/_emulator/refunds/${refund.body.refundId}/fail`, { method: 'POST' });
    expect(fail.status).toBe(200);
    const failed = await orderState(carol, orderId, ['refund_failed']);
    expect(failed.payment).toMatchObject({ amountRefunded: 0 });
    expect((failed.history as Json[]).at(-1)).toMatchObject({ from: 'partially_refunded', to: 'refund_failed' });
    expect((failed.history as Json[]).at(-1)?.reason).toContain(`refund ${refund.body.refundId as string} of 2500 usd failed`);
    // The customer paid in full again, so the points come back; the mugs stay on the shelf they were returned to.
    await eventually(balance, (b) => b === points, { what: 'points given back' });
    expect((await stock('MUG-WHT', 'online_fc')).onHand).toBe(mugs.onHand + 2);

    // Staff refund another way... here, through Stripe again: the order ends partially refunded, points reversed once more.
    const again = await api(admin, 'POST', `/v1/orders/${orderId}/refunds`, { amount: 2500 }, { 'idempotency-key': 'carol-return-2' });
    expect(again.status).toBe(201);
    const settled = await orderState(carol, orderId, ['partially_refunded']);
    expect(settled.payment).toMatchObject({ amountRefunded: 2500 });
    await eventually(balance, (b) => b === reversed, { what: 'points reversed for the second refund' });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await stock('MUG-WHT', 'online_fc')).onHand).toBe(mugs.onHand + 2); // the second refund returned no items
    const kinds = onTopic(Topics.paymentsEvents, orderId).map((m) => m.json?.type);
    expect(kinds.filter((k) => k === 'payment.refund_failed')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'payment.refunded')).toHaveLength(2);
    expect(onTopic(Topics.loyaltyEvents, orderId).map((m) => (m.json?.data as Json).points)).toEqual([
      points,
      reversed - points,
      points - reversed,
      reversed - points,
    ]);
    expect(onTopic(Topics.financeReconciliation, orderId).map((m) => (m.json?.data as Json).gross).sort()).toEqual(
      [amount, -2500, 2500, -2500].sort(),
    );
  });

  it('cancels the order and frees its stock at once when Stripe refuses its PaymentIntent for good', async () => {
    const dan = token('cust_e2e_dan', 'customer', { channel: 'web' });
    const before = await stock('CAP-NVY', 'online_fc');
    const fault = await fetch(`${stack.emulator.url}/_emulator/faults/api`, {
      method: 'POST',
      body: JSON.stringify({ method: 'POST', path: '^/v1/payment_intents$', status: 400, code: 'amount_too_large', times: 1 }),
    });
    expect(fault.status).toBe(200);
    const refused = await api(dan, 'POST', '/v1/checkout', { fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'CAP-NVY', quantity: 3 }] });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.body)).toContain('amount_too_large');
    const [order] = (await api(dan, 'GET', '/v1/orders')).body.orders as Json[];
    const cancelled = await orderState(dan, order.id as string, ['cancelled']);
    expect((cancelled.history as Json[]).at(-1)).toMatchObject({ to: 'cancelled', reason: 'payment_not_created: amount_too_large' });
    expect(await stock('CAP-NVY', 'online_fc')).toEqual(before);
    // Payments knows the attempt has no PaymentIntent to cancel: its cancellation settles at once, not in a day.
    const payments = `"${stack.schema('payments')}"`;
    const settled = () =>
      db.query<{ outcome: string | null }>(`SELECT c.outcome FROM ${payments}.payment_cancellations c JOIN ${payments}.payments p ON p.id = c.payment_id WHERE p.order_id = $1`, [order.id]);
    await eventually(settled, (rows) => rows[0]?.outcome === 'never_created', { what: 'the cancellation of a payment never created' });
    // Stripe answers a repeat with its refusal for a day (same key); a repeat of that create reaching payments after
    // that, when Stripe accepts it, is refused by payments, and the cancellation is back on (the worker cancels the
    // PaymentIntent at its next poll, a minute in this stack).
    stack.emulator.expireIdempotencyKeys();
    const repeat = await fetch(`${stack.urls.payments}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderId: order.id, amount: order.total, currency: 'usd', channel: 'web', storeId: order.storeId, customerId: 'cust_e2e_dan', attempt: 1 }),
    });
    expect(repeat.status).toBe(409);
    const intents = ([...stack.emulator.emulator.store.paymentIntents.values()] as unknown as Stripe.PaymentIntent[]).filter((pi) => pi.metadata?.orderId === order.id);
    expect(intents).toHaveLength(1);
    expect(await settled()).toEqual([{ outcome: null }]);
    // The next checkout (Stripe accepts it again) goes through.
    const next = await api(dan, 'POST', '/v1/checkout', { fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'CAP-NVY', quantity: 3 }] });
    expect(next.status).toBe(201);
  });

  it('refunds a second payment that paid an already paid order, and leaves the order, its stock and its points as the first payment made them', async () => {
    const dana = token('cust_e2e_dana', 'customer', { channel: 'web' });
    const before = await stock('MUG-WHT', 'online_fc');
    const checkout = await api(dana, 'POST', '/v1/checkout', { fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'MUG-WHT', quantity: 2 }] });
    expect(checkout.status).toBe(201);
    const { orderId, paymentIntentId, clientSecret, amount } = checkout.body as { orderId: string; paymentIntentId: string; clientSecret: string; amount: number };
    // A second attempt at the same order (another tab, another device), and both get paid.
    const second = await fetch(`${stack.urls.payments}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderId, amount, currency: 'usd', channel: 'web', customerId: 'cust_e2e_dana', attempt: 2 }),
    });
    expect(second.status).toBe(201);
    const duplicate = (await second.json()) as { paymentIntentId: string; clientSecret: string };
    for (const pi of [{ id: paymentIntentId, secret: clientSecret }, { id: duplicate.paymentIntentId, secret: duplicate.clientSecret }])
      await browser.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa', client_secret: pi.secret } as Stripe.PaymentIntentConfirmParams);

    // The order keeps whichever success the orders service applied first: the two PaymentIntents' events travel on
    // different partitions, so that need not be the one confirmed first. The other one is refunded.
    const paid = await orderState(dana, orderId, ['paid']);
    const kept = (paid.payment as Json).paymentIntentId as string;
    expect([paymentIntentId, duplicate.paymentIntentId]).toContain(kept);
    const other = kept === paymentIntentId ? duplicate.paymentIntentId : paymentIntentId;
    const stripe = new Stripe(stack.emulator.secretKey, { ...(stack.emulator.stripeConfig as object), maxNetworkRetries: 0 });
    const refunded = await eventually(
      async () => (await stripe.paymentIntents.retrieve(other, { expand: ['latest_charge'] })).latest_charge as Stripe.Charge,
      (charge) => charge?.amount_refunded === amount,
      { timeoutMs: 30000, what: 'the payment the order did not keep to be refunded in full' },
    );
    expect(refunded.refunded).toBe(true);
    const first = await stripe.paymentIntents.retrieve(kept, { expand: ['latest_charge'] });
    expect((first.latest_charge as Stripe.Charge).amount_refunded).toBe(0);
    await eventually(
      async () => onTopic(Topics.paymentsEvents, orderId).filter((m) => m.json?.type === 'payment.refunded').length,
      (n) => n === 1,
      { what: 'payment.refunded of the duplicate' },
    );
    await new Promise((r) => setTimeout(r, 1000)); // let every consumer apply the refund before looking
    const order = (await api(dana, 'GET', `/v1/orders/${orderId}`)).body;
    expect(order.status).toBe('paid');
    expect(order.payment).toMatchObject({ paymentIntentId: kept, amountPaid: amount });
    expect(onTopic(Topics.ordersEvents, orderId).filter((m) => m.json?.type === 'order.payment_duplicated')).toHaveLength(1);
    const after = await stock('MUG-WHT', 'online_fc');
    expect(after.onHand).toBe(before.onHand - 2);
    expect(after.reserved).toBe(before.reserved);
    expect((await api(dana, 'GET', '/v1/me/loyalty')).body.balance).toBe(Math.floor(amount / 100));
  });

  it('cancels the PaymentIntent when the customer cancels the order, so the card can no longer be charged', async () => {
    const fay = token('cust_e2e_fay', 'customer', { channel: 'web' });
    const before = await stock('MUG-WHT', 'online_fc');
    const checkout = await api(fay, 'POST', '/v1/checkout', { fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'MUG-WHT', quantity: 1 }] });
    expect(checkout.status).toBe(201);
    const { orderId, paymentIntentId, clientSecret } = checkout.body as { orderId: string; paymentIntentId: string; clientSecret: string };

    const cancelled = await api(fay, 'POST', `/v1/orders/${orderId}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(await stock('MUG-WHT', 'online_fc')).toEqual(before);

    const stripe = new Stripe(stack.emulator.secretKey, { ...(stack.emulator.stripeConfig as object), maxNetworkRetries: 0 });
    const pi = await eventually(
      () => stripe.paymentIntents.retrieve(paymentIntentId),
      (p) => p.status === 'canceled',
      { timeoutMs: 30000, what: 'the PaymentIntent of the cancelled order to be canceled' },
    );
    expect(pi.cancellation_reason).toBe('requested_by_customer');
    // The customer still holds the client secret: paying now is refused by Stripe, so no money is taken.
    await expect(
      browser.paymentIntents.confirm(paymentIntentId, { payment_method: 'pm_card_visa', client_secret: clientSecret } as Stripe.PaymentIntentConfirmParams),
    ).rejects.toMatchObject({ code: 'payment_intent_unexpected_state' });
    await eventually(
      async () => onTopic(Topics.paymentsEvents, orderId).filter((m) => m.json?.type === 'payment.canceled').length,
      (n) => n === 1,
      { what: 'payment.canceled of the cancelled order' },
    );
    const order = await eventually(
      async () => (await api(fay, 'GET', `/v1/orders/${orderId}`)).body,
      (o) => (o.payment as Json | undefined)?.status === 'canceled',
      { what: "the cancelled order to show its payment as canceled" },
    );
    expect(order.status).toBe('cancelled');
    // Payments reads only the cancellations among the orders' transitions (paid orders' are passed over unread), and
    // the announcements of duplicate payments.
    const cancellations = () =>
      recorder
        .on(`${stack.topicPrefix}${Topics.ordersEvents}`)
        .filter(
          (m) =>
            (m.json?.type === 'order.status_changed' && (m.json?.data as Json).to === 'cancelled') ||
            m.json?.type === 'order.payment_duplicated',
        ).length;
    expect(recorder.on(`${stack.topicPrefix}${Topics.ordersEvents}`).some((m) => (m.json?.data as Json | undefined)?.to === 'paid')).toBe(true);
    await eventually(
      () => db.scalar(`SELECT count(*) FROM ${stack.schema('payments')}.inbox WHERE consumer_group LIKE '%.payments.cancellations'`),
      (n) => n === cancellations(),
      { what: "payments' cancellations group to have read exactly the cancellations" },
    );
  });

  it('answers 503 with Retry-After while Stripe rate-limits us, keeps the order payable, and the retried checkout completes it', async () => {
    const erin = token('cust_e2e_erin', 'customer', { channel: 'web' });
    const fault = await fetch(`${stack.emulator.url}/_emulator/faults/api`, {
      method: 'POST',
      body: JSON.stringify({ method: 'POST', path: '^/v1/payment_intents$', status: 429, times: 1 }),
    });
    expect(fault.status).toBe(200);
    const body = { fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'CAP-NVY', quantity: 1 }] };
    const limited = await api(erin, 'POST', '/v1/checkout', body, { 'idempotency-key': 'erin-checkout-1' });
    expect(limited.status).toBe(503);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(JSON.stringify(limited.body)).toContain('payments is busy (stripe_rate_limited)');
    const [order] = (await api(erin, 'GET', '/v1/orders')).body.orders as Json[];
    expect(order.status).toBe('pending_payment'); // not cancelled: a rate limit is not a refusal
    const retried = await api(erin, 'POST', '/v1/checkout', body, { 'idempotency-key': 'erin-checkout-1' });
    expect(retried.status).toBe(201);
    expect(retried.body.orderId).toBe(order.id);
    expect((await api(erin, 'GET', '/v1/orders')).body.orders).toHaveLength(1);
  });

  it('answers a retried checkout with the same order and PaymentIntent', async () => {
    const bob = token('cust_e2e_bob', 'customer', { channel: 'web' });
    const body = { fulfilment: 'ship', currency: 'eur', lines: [{ sku: 'CAP-NVY', quantity: 1 }] };
    const [a, b] = await Promise.all([
      api(bob, 'POST', '/v1/checkout', body, { 'idempotency-key': 'bob-checkout-1' }),
      new Promise((r) => setTimeout(r, 50)).then(() => api(bob, 'POST', '/v1/checkout', body, { 'idempotency-key': 'bob-checkout-1' })),
    ]);
    const retried = await api(bob, 'POST', '/v1/checkout', body, { 'idempotency-key': 'bob-checkout-1' });
    expect(a.status).toBe(201);
    expect([201, 409]).toContain(b.status); // a concurrent duplicate is told to retry, never served twice
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(retried.body.orderId).toBe(a.body.orderId);
    expect(retried.body.paymentIntentId).toBe(a.body.paymentIntentId);
    const other = await api(bob, 'POST', '/v1/checkout', { ...body, lines: [{ sku: 'CAP-NVY', quantity: 2 }] }, { 'idempotency-key': 'bob-checkout-1' });
    expect(other.status).toBe(422);
    // The answer is kept a day; a claim in progress only minutes, so a gateway dying mid-request does not leave the
    // key "in progress" (409) for a day.
    const redis = new Redis(engines().redisUrl, { keyPrefix: `${stack.topicPrefix.slice(0, -1)}:` });
    try {
      const ttl = (key: string) => redis.ttl(`idem:checkout:cust_e2e_bob:${key}`);
      expect(await ttl('bob-checkout-1')).toBeGreaterThan(23 * 3600);
      // Only that the key was used, and for which body: never the answer with its client secret.
      expect(await redis.get('idem:checkout:cust_e2e_bob:bob-checkout-1')).not.toContain('_secret_');
      expect(retried.body.clientSecret).toBe(a.body.clientSecret);
      const slow = stack.emulator.addApiFault({ method: 'POST', path: '^/v1/payment_intents$', delay_ms: 1500, times: 1 });
      try {
        const pending = api(bob, 'POST', '/v1/checkout', body, { 'idempotency-key': 'bob-checkout-2' });
        await eventually(async () => slow.hits, (n) => n === 1, { what: 'the checkout at Stripe' });
        const running = await ttl('bob-checkout-2');
        expect(running).toBeGreaterThan(0);
        expect(running).toBeLessThanOrEqual(3 * 30 + 30); // three upstream timeouts of this stack and 30 s
        expect((await pending).status).toBe(201);
      } finally {
        stack.emulator.emulator.faults.remove(slow.id);
      }
    } finally {
      redis.disconnect();
    }
    const orders = await api(bob, 'GET', '/v1/orders');
    expect(orders.status).toBe(200);
    expect((orders.body.orders as Json[]).map((o) => o.total)).toEqual([1899, 1899]);
    expect((orders.body.orders as Json[]).map((o) => o.id)).toContain(a.body.orderId);
  });

  it('checks out once per Idempotency-Key and still limits rates while Redis is unreachable: the services answer a repeat from their own keys', async () => {
    // A gateway and a payments replica whose Redis is gone (nothing listens on the port).
    const deadRedis = `redis://127.0.0.1:${await freePort()}`;
    const payments = await stack.startReplica('payments', { REDIS_URL: deadRedis });
    const gateway = await stack.startReplica('gateway', { REDIS_URL: deadRedis, PAYMENTS_URL: payments.url, RATE_LIMIT_PER_MINUTE: '4' });
    try {
      const ready = await fetch(`${gateway.url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'degraded', checks: { redis: { status: 'down' } } });
      expect((await fetch(`${payments.url}/health/ready`)).status).toBe(200);

      const carol = token('cust_e2e_carol_noredis', 'customer', { channel: 'web' });
      const via = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
        fetch(`${gateway.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${carol}`, ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
        }).then(async (res) => ({ status: res.status, body: (await res.json()) as Json }));
      const body = { fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'MUG-WHT', quantity: 1 }] };
      const key = { 'idempotency-key': 'carol-checkout-1' };
      const first = await via('POST', '/v1/checkout', body, key);
      const repeat = await via('POST', '/v1/checkout', body, key);
      expect([first.status, repeat.status]).toEqual([201, 201]);
      expect(repeat.body).toMatchObject({ orderId: first.body.orderId, paymentIntentId: first.body.paymentIntentId });
      expect((await via('POST', '/v1/checkout', { ...body, lines: [{ sku: 'MUG-WHT', quantity: 2 }] }, key)).status).toBe(422);
      const intents = [...stack.emulator.emulator.store.paymentIntents.values()] as unknown as Stripe.PaymentIntent[];
      expect(intents.filter((pi) => pi.metadata?.orderId === first.body.orderId)).toHaveLength(1);
      // Four calls per route and minute on this replica; the fifth is refused, counted in its own memory. All five
      // in one minute: not in its last seconds.
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 50_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
      const listed = await via('GET', '/v1/orders');
      expect(listed.status).toBe(200);
      expect((listed.body.orders as Json[]).map((o) => o.id)).toEqual([first.body.orderId]);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await via('GET', '/v1/orders')).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      await gateway.stop();
      await payments.stop();
    }
  });

  it('checks out through internal APIs that answer only callers holding the service token (decision 0024)', async () => {
    const SERVICE_TOKEN = `svc-${randomUUID()}`;
    const orders = await stack.startReplica('orders', { SERVICE_TOKEN });
    const payments = await stack.startReplica('payments', { SERVICE_TOKEN });
    const gateway = await stack.startReplica('gateway', { SERVICE_TOKEN, ORDERS_URL: orders.url, PAYMENTS_URL: payments.url });
    try {
      const gus = token('cust_e2e_gus_svc', 'customer', { channel: 'web' });
      const res = await fetch(`${gateway.url}/v1/checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${gus}` },
        body: JSON.stringify({ fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'MUG-WHT', quantity: 1 }] }),
      });
      const checkout = (await res.json()) as Json;
      expect(res.status).toBe(201);
      // Straight to the services, as anyone on their network could: refused without the token, answered with it.
      const direct = (url: string, init: RequestInit = {}) => fetch(url, init).then(async (r) => ({ status: r.status, body: (await r.json()) as Json }));
      const refund = `${payments.url}/payments/${checkout.paymentId as string}/refunds`;
      const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refundRequestId: 'rr_svc_probe' }) };
      expect(await direct(refund, post)).toMatchObject({ status: 401, body: { error: { code: 'service_token_required' } } });
      expect((await direct(`${payments.url}/customers/cust_e2e_gus_svc/ephemeral-keys`, { ...post, body: '{}' })).status).toBe(401);
      expect((await direct(`${orders.url}/orders/${checkout.orderId as string}`)).status).toBe(401);
      const withToken = await direct(`${orders.url}/orders/${checkout.orderId as string}`, { headers: { authorization: `Bearer ${SERVICE_TOKEN}` } });
      expect(withToken).toMatchObject({ status: 200, body: { id: checkout.orderId } });
      // Probes stay open to the orchestrator.
      expect((await fetch(`${payments.url}/health/live`)).status).toBe(200);
      expect((await fetch(`${orders.url}/health/ready`)).status).toBe(200);
      // A gateway with another token (a rotation done out of order): an outage (502, logged), not the client's
      // login refused (401) nor its order missing (404).
      const stale = await stack.startReplica('gateway', { SERVICE_TOKEN: `svc-${randomUUID()}`, ORDERS_URL: orders.url, PAYMENTS_URL: payments.url });
      try {
        const read = await fetch(`${stale.url}/v1/orders/${checkout.orderId as string}`, { headers: { authorization: `Bearer ${gus}` } });
        expect(read.status).toBe(502);
        await eventually(async () => stale.logs.some((l) => l.includes('"level":"error"') && l.includes("refused the gateway's SERVICE_TOKEN")), Boolean, {
          what: 'the refused token logged as an error',
        });
      } finally {
        await stale.stop();
      }
    } finally {
      await gateway.stop();
      await payments.stop();
      await orders.stop();
    }
  });

  it('rejects any price sent by a client, naming the field', async () => {
    const carol = token('cust_e2e_carol', 'customer');
    const res = await api(carol, 'POST', '/v1/checkout', {
      fulfilment: 'ship',
      currency: 'usd',
      lines: [{ sku: 'TSHIRT-BLK-M', quantity: 1, unitAmount: 1 }],
      total: 1,
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('client_price_rejected');
    expect(res.body.issues.map((i: { path: string }) => i.path)).toEqual(['lines[0].unitAmount', 'total']);
  });

  it("hides every other customer's and store's orders (404) and keeps roles to their routes", async () => {
    const owner = token('cust_e2e_owner', 'customer');
    const placed = await api(owner, 'POST', '/v1/checkout', {
      fulfilment: 'pickup',
      storeId: 'store_berlin',
      currency: 'eur',
      lines: [{ sku: 'STICKER-PACK', quantity: 1 }],
    });
    expect(placed.status).toBe(201);
    const id = placed.body.orderId as string;
    const cases: [string, string | null, number][] = [
      ['owner', owner, 200],
      ['another customer', token('cust_e2e_other', 'customer'), 404],
      ['cashier of the pickup store', token('c1', 'cashier', { storeId: 'store_berlin' }), 200],
      ['cashier of another store', token('c2', 'cashier', { storeId: 'store_paris' }), 404],
      ['manager of another store', token('m2', 'manager', { storeId: 'store_paris' }), 404],
      ['finance', token('f1', 'finance'), 403],
      ['admin', token('a1', 'admin'), 200],
      ['no token', null, 401],
      ['a forged token', `${owner.slice(0, -4)}AAAA`, 401],
    ];
    for (const [who, tok, status] of cases) {
      expect([who, (await api(tok, 'GET', `/v1/orders/${id}`)).status]).toEqual([who, status]);
    }
    expect((await api(token('cust_e2e_other', 'customer'), 'GET', '/v1/orders/ord_does_not_exist')).status).toBe(404);
    expect((await api(owner, 'POST', `/v1/orders/${id}/refunds`, {}, { 'idempotency-key': 'x' })).status).toBe(403);
    expect((await api(token('c1', 'cashier', { storeId: 'store_berlin' }), 'POST', `/v1/orders/${id}/refunds`, {}, { 'idempotency-key': 'x' })).status).toBe(403);
    expect((await api(owner, 'GET', '/v1/finance/reconciliation')).status).toBe(403);
    expect((await api(token('f1', 'finance'), 'GET', '/v1/finance/reconciliation')).status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    expect((await api(owner, 'GET', `/v1/finance/reconciliation/summary?day=${today}`)).status).toBe(403);
    const summary = await api(token('f1', 'finance'), 'GET', `/v1/finance/reconciliation/summary?day=${today}`);
    expect(summary.status).toBe(200);
    expect(summary.body).toMatchObject({ day: today, currencies: expect.any(Array) });
    expect((await api(token('f1', 'finance'), 'GET', '/v1/finance/reconciliation/summary')).status).toBe(400);
    expect((await api(token('c1', 'cashier', { storeId: 'store_berlin' }), 'POST', '/v1/checkout', {})).status).toBe(403);
  });

  it("lets finance and admins audit a day's entries against Stripe, and no one else", async () => {
    await paidMugs('cust_e2e_audit', 1);
    // An audit of today covers what happened before the second it starts.
    await new Promise((r) => setTimeout(r, 1100));
    const today = new Date().toISOString().slice(0, 10);
    const finance = token('f1', 'finance');
    for (const [who, tok] of [
      ['customer', token('cust_e2e_audit', 'customer')],
      ['manager', token('m1', 'manager', { storeId: 'store_berlin' })],
    ] as const) {
      expect([who, (await api(tok, 'POST', '/v1/finance/reconciliation/audits', { day: today })).status]).toEqual([who, 403]);
      expect([who, (await api(tok, 'GET', `/v1/finance/reconciliation/audits/${today}`)).status]).toEqual([who, 403]);
    }
    expect((await api(finance, 'POST', '/v1/finance/reconciliation/audits', { day: 'today' })).status).toBe(400);
    type Audit = { status: string; outcome: string; requestedBy: string; runs: number; result: { currencies: { currency: string; stripe: { count: number }; difference: Json }[] } };
    const audit = async (): Promise<Audit> => {
      const asked = await api(finance, 'POST', '/v1/finance/reconciliation/audits', { day: today });
      expect(asked.status).toBe(202);
      expect(asked.body).toMatchObject({ day: today, requestedBy: 'finance:f1' });
      return eventually(
        async () => (await api(finance, 'GET', `/v1/finance/reconciliation/audits/${today}`)).body as unknown as Audit,
        (a) => a.status === 'done' && a.runs > (asked.body.runs as number),
        { what: 'the audit of today' },
      );
    };
    // Earlier tests' entries may still be being written: then the audit says pending, and is asked for again.
    const done = await eventually(audit, (a) => a.outcome !== 'pending', { what: 'an audit with nothing pending' });
    expect(done.outcome).toBe('clean');
    const usd = done.result.currencies.find((c) => c.currency === 'usd')!;
    expect(usd.stripe.count).toBeGreaterThanOrEqual(1);
    expect(usd.difference).toEqual({ count: 0, gross: 0, fee: 0, net: 0 });
    expect((await api(token('a1', 'admin'), 'GET', `/v1/finance/reconciliation/audits/${today}`)).status).toBe(200);
  });

  it("lets finance and admins read each payout matched with the orders it paid out, and no one else", async () => {
    const { buyer, checkout } = await paidMugs('cust_e2e_payout', 2);
    // Stripe's payout schedule, run now by the emulator: one payout per currency of everything not paid out yet.
    const run = await fetch(`${stack.emulator.url}/_emulator/payouts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"currency":"usd"}' });
    const [paidOut] = ((await run.json()) as { data: { id: string; amount: number }[] }).data;
    expect(paidOut.id).toMatch(/^po_/);
    const finance = token('f1', 'finance');
    for (const [who, tok] of [
      ['customer', buyer],
      ['cashier', token('c1', 'cashier', { storeId: 'store_berlin' })],
      ['manager', token('m1', 'manager', { storeId: 'store_berlin' })],
    ] as const) {
      for (const path of ['/v1/finance/payouts', `/v1/finance/payouts/${paidOut.id}`, `/v1/finance/payouts/${paidOut.id}/lines`])
        expect([who, path, (await api(tok, 'GET', path)).status]).toEqual([who, path, 403]);
    }
    expect((await api(null, 'GET', `/v1/finance/payouts/${paidOut.id}`)).status).toBe(401);
    expect((await api(finance, 'GET', '/v1/finance/payouts/ch_not_a_payout')).status).toBe(400);
    expect((await api(finance, 'GET', '/v1/finance/payouts/po_never_seen')).status).toBe(404);
    expect((await api(finance, 'GET', '/v1/finance/payouts?limit=0')).status).toBe(400);

    const payout = await eventually(
      async () => (await api(finance, 'GET', `/v1/finance/payouts/${paidOut.id}`)).body,
      (p) => p.reconciliation?.state === 'done',
      { what: `the reconciliation of ${paidOut.id}` },
    );
    expect(payout).toMatchObject({ payoutId: paidOut.id, amount: paidOut.amount, currency: 'usd', status: 'paid', automatic: true });
    expect(payout.reconciliation).toMatchObject({ outcome: 'balanced', result: { difference: 0, problems: { missing_entry: 0, differs: 0 } } });
    expect((await api(finance, 'GET', '/v1/finance/payouts?currency=usd')).body.data.map((p: Json) => p.payoutId)).toContain(paidOut.id);

    // Every line, two pages at a time: their nets are the payout, and the order's charge names the order.
    const lines: Json[] = [];
    let cursor: string | null = null;
    do {
      const page = await api(token('a1', 'admin'), 'GET', `/v1/finance/payouts/${paidOut.id}/lines?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      lines.push(...(page.body.data as Json[]));
      cursor = page.body.nextCursor as string | null;
    } while (cursor);
    expect(lines).toHaveLength(payout.reconciliation.result.lines.count);
    expect(lines.reduce((sum, l) => sum + (l.net as number), 0)).toBe(paidOut.amount);
    const ours = lines.find((l) => l.entry?.orderId === checkout.body.orderId);
    expect(ours).toMatchObject({ type: 'charge', gross: checkout.body.amount, entry: { kind: 'charge', channel: 'web' } });
    const onKafka = await eventually(
      async () => recorder.on(`${stack.topicPrefix}${Topics.financeReconciliation}`).filter((m) => m.key === paidOut.id),
      (m) => m.length >= 1,
      { what: 'payout.reconciled on Kafka' },
    );
    const envelopes = onKafka.map((m) => m.json as { id: string; type: string });
    expect(new Set(envelopes.map((e) => `${e.type}:${e.id}`))).toEqual(new Set([`payout.reconciled:${envelopes[0].id}`]));
    expect(onKafka[0].json?.data).toMatchObject({ payoutId: paidOut.id, outcome: 'balanced', amount: paidOut.amount });
  });

  it('sells the last 10 units to exactly 10 of 100 concurrent checkouts', async () => {
    const put = await fetch(`${stack.urls.orders}/inventory/stock/online_fc/HOODIE-GRY-L`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ onHand: 10 }),
    });
    expect(put.status).toBeLessThan(300);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        api(token(`cust_rush_${i}`, 'customer'), 'POST', '/v1/checkout', {
          fulfilment: 'ship',
          currency: 'usd',
          lines: [{ sku: 'HOODIE-GRY-L', quantity: 1 }],
        }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(90);
    const after = await stock('HOODIE-GRY-L', 'online_fc');
    expect(after).toMatchObject({ onHand: 10, reserved: 10 });
  });
});
