import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { stripeIdempotencyKey } from '@omnipay/stripe';
import { engines, eventually } from '@omnipay/testing';
import { Client } from 'pg';
import {
  get,
  paymentEvents,
  post,
  publishOrderCancelled,
  reconciliationEntries,
  startPayments,
  startStack,
  stopStack,
  type Stack,
} from './harness';

jest.setTimeout(180_000);

let s: Stack;
beforeAll(async () => {
  s = await startStack('pay_e2e');
});
afterAll(async () => {
  await stopStack(s);
});

const order = () => `ord_${randomUUID().slice(0, 12)}`;
const types = (orderId: string) => paymentEvents(s, orderId).map((e) => e.type);
const count = (orderId: string, type: string) => types(orderId).filter((t) => t === type).length;

async function createWeb(orderId: string, amount = 4200, extra: Record<string, unknown> = {}) {
  const res = await post(s, '/payments', {
    orderId,
    amount,
    currency: 'usd',
    channel: 'web',
    storeId: 'store_1',
    customerId: 'cust_1',
    ...extra,
  });
  expect(res.status).toBe(201);
  return res.body as { paymentId: string; paymentIntentId: string; clientSecret: string; status: string };
}

/** Confirms like Stripe.js in a browser: publishable key + client secret, never our secret key. */
function confirmInBrowser(pi: { paymentIntentId: string; clientSecret: string }, paymentMethod: string) {
  return s.browser.paymentIntents.confirm(pi.paymentIntentId, {
    payment_method: paymentMethod,
    client_secret: pi.clientSecret,
  } as Stripe.PaymentIntentConfirmParams);
}

async function waitForEvent(orderId: string, type: string, what = `${type} of ${orderId}`) {
  await eventually(
    async () => count(orderId, type),
    (n) => n >= 1,
    { timeoutMs: 30_000, what },
  );
}

describe('payments end to end (emulator → events → payments → Kafka)', () => {
  it('serves the publishable key and never the secret key', async () => {
    const res = await get(s, '/config/publishable-key');
    expect(res.body).toEqual({ publishableKey: s.emu.publishableKey });
  });

  it('rejects invalid create requests with a 400 naming the fields', async () => {
    const res = await post(s, '/payments', { orderId: 'o1', amount: 12.5, currency: 'USD', channel: 'fax' });
    expect(res.status).toBe(400);
    const fields = (res.body.error.details as { field: string }[]).map((d) => d.field).sort();
    expect(fields).toEqual(['amount', 'channel', 'currency']);
  });

  it('takes a web card payment to one succeeded event and one reconciliation entry equal to the balance transaction, then refunds partially and fully, refusing an over-refund', async () => {
    const orderId = order();
    const created = await createWeb(orderId, 4200);
    expect(created.clientSecret).toContain('_secret_');
    const pi = await s.stripe.paymentIntents.retrieve(created.paymentIntentId);
    expect(pi.metadata).toMatchObject({
      platform: 'omnipay',
      orderId,
      paymentId: created.paymentId,
      channel: 'web',
      storeId: 'store_1',
    });
    expect(pi.capture_method).toBe('automatic');

    await confirmInBrowser(created, 'pm_card_visa');
    await waitForEvent(orderId, 'payment.succeeded');
    const entries = await eventually(
      async () => reconciliationEntries(s, orderId),
      (e) => e.length >= 1,
      { what: 'charge entry' },
    );
    const charge = await s.stripe.charges.retrieve(String(entries[0].chargeId), {
      expand: ['balance_transaction'],
    });
    const txn = charge.balance_transaction as Stripe.BalanceTransaction;
    expect(entries[0]).toMatchObject({
      kind: 'charge',
      entryId: txn.id,
      balanceTransactionId: txn.id,
      gross: txn.amount,
      fee: txn.fee,
      net: txn.net,
      currency: 'usd',
      channel: 'web',
      storeId: 'store_1',
      paymentIntentId: created.paymentIntentId,
    });
    expect(txn.fee).toBe(Math.round(4200 * 0.029 + 30));
    const succeeded = paymentEvents(s, orderId).find((e) => e.type === 'payment.succeeded')!;
    expect(succeeded.data).toMatchObject({
      amount: 4200,
      amountReceived: 4200,
      currency: 'usd',
      chargeId: charge.id,
    });
    expect((await get(s, `/payments/${created.paymentId}`)).body).toMatchObject({
      status: 'succeeded',
      amountReceived: 4200,
    });
    expect((await get(s, `/payments/by-order/${orderId}`)).body.latest).toMatchObject({
      paymentId: created.paymentId,
    });

    const first = await post(s, `/payments/${created.paymentId}/refunds`, {
      refundRequestId: `rr_${orderId}_1`,
      amount: 1000,
      reason: 'requested_by_customer',
      returnedItems: [{ sku: 'sku_1', quantity: 1 }],
      returnStoreId: 'store_2',
    });
    expect(first.status).toBe(201);
    // the same refund request again: the same refund, not a second one
    const again = await post(s, `/payments/${created.paymentId}/refunds`, {
      refundRequestId: `rr_${orderId}_1`,
      amount: 1000,
      reason: 'requested_by_customer',
      returnedItems: [{ sku: 'sku_1', quantity: 1 }],
      returnStoreId: 'store_2',
    });
    expect(again.body.refundId).toBe(first.body.refundId);
    const over = await post(s, `/payments/${created.paymentId}/refunds`, {
      refundRequestId: `rr_${orderId}_2`,
      amount: 3201,
    });
    expect(over.status).toBe(422);
    expect(over.body.error).toMatchObject({ code: 'refund_exceeds_captured' });
    expect(over.body.error.message).toContain('3200 usd');
    const full = await post(s, `/payments/${created.paymentId}/refunds`, {
      refundRequestId: `rr_${orderId}_3`,
    });
    expect(full.status).toBe(201);
    expect(full.body.amount).toBe(3200);
    const none = await post(s, `/payments/${created.paymentId}/refunds`, {
      refundRequestId: `rr_${orderId}_4`,
      amount: 1,
    });
    expect(none.status).toBe(422);

    await eventually(
      async () => count(orderId, 'payment.refunded'),
      (n) => n >= 2,
      { what: 'two refunds' },
    );
    const refunds = paymentEvents(s, orderId)
      .filter((e) => e.type === 'payment.refunded')
      .map((e) => e.data);
    refunds.sort((a, b) => Number(a.totalRefunded) - Number(b.totalRefunded));
    expect(refunds[0]).toMatchObject({
      amount: 1000,
      totalRefunded: 1000,
      fullyRefunded: false,
      returnedItems: [{ sku: 'sku_1', quantity: 1 }],
      returnStoreId: 'store_2',
    });
    expect(refunds[1]).toMatchObject({ amount: 3200, totalRefunded: 4200, fullyRefunded: true });
    const stripeRefunds = await s.stripe.refunds.list({ payment_intent: created.paymentIntentId });
    expect(stripeRefunds.data).toHaveLength(2);
    const all = await eventually(
      async () => reconciliationEntries(s, orderId),
      (e) => e.length >= 3,
      { what: 'refund entries' },
    );
    expect(
      all
        .filter((e) => e.kind === 'refund')
        .map((e) => e.gross)
        .sort(),
    ).toEqual([-1000, -3200].sort());
    await new Promise((r) => setTimeout(r, 500));
    expect(reconciliationEntries(s, orderId)).toHaveLength(3);
    expect(count(orderId, 'payment.succeeded')).toBe(1);
    expect(count(orderId, 'payment.created')).toBe(1);

    const day = String(entries[0].occurredAt).slice(0, 10);
    const page = await get(
      s,
      `/reconciliation?day=${day}&currency=usd&channel=web&storeId=store_1&limit=100`,
    );
    expect(page.status).toBe(200);
    expect((page.body.data as { orderId: string }[]).filter((e) => e.orderId === orderId)).toHaveLength(3);
  });

  it('announces a refund that fails after succeeding once, lowers the refunded total and lets the amount be refunded again', async () => {
    const orderId = order();
    const created = await createWeb(orderId, 3000);
    await confirmInBrowser(created, 'pm_card_visa');
    await waitForEvent(orderId, 'payment.succeeded');
    const kept = await post(s, `/payments/${created.paymentId}/refunds`, { refundRequestId: `rr_${orderId}_1`, amount: 500 });
    const failing = await post(s, `/payments/${created.paymentId}/refunds`, { refundRequestId: `rr_${orderId}_2` });
    expect([kept.status, failing.status]).toEqual([201, 201]);
    expect(failing.body.amount).toBe(2500);
    await eventually(async () => count(orderId, 'payment.refunded'), (n) => n >= 2, { what: 'two refunds' });

    // The card was closed: Stripe gives the 2500 back to the merchant (refund.failed, refund.updated, ...).
    // Its events held back at first: a repeat of the request before payments hears of it is refused all the same.
    const held = s.emu.addWebhookFault({ delay_ms: 3_600_000 });
    try {
      const res = await fetch(`${s.emu.url}/_emulator/refunds/${failing.body.refundId}/fail`, { method: 'POST' });
      expect(res.status).toBe(200);
      const repeated = await post(s, `/payments/${created.paymentId}/refunds`, { refundRequestId: `rr_${orderId}_2` });
      expect(repeated.status).toBe(422);
      expect(repeated.body.error.code).toBe('refund_failed');
    } finally {
      s.emu.emulator.faults.remove(held.id);
      s.emu.releaseWebhooks();
    }
    await waitForEvent(orderId, 'payment.refund_failed');
    const failed = paymentEvents(s, orderId).find((e) => e.type === 'payment.refund_failed')!;
    expect(failed.data).toMatchObject({
      refundId: failing.body.refundId,
      amount: 2500,
      totalRefunded: 500,
      amountCaptured: 3000,
      currency: 'usd',
      failureReason: 'declined',
    });
    // The reconciliation worker books the money coming back as its own entry.
    const entries = await eventually(
      async () => reconciliationEntries(s, orderId),
      (e) => e.some((x) => x.gross === 2500),
      { what: 'refund failure entry' },
    );
    expect(entries.filter((e) => e.kind === 'refund').map((e) => e.gross).sort()).toEqual([-2500, -500, 2500].sort());

    // What failed can be refunded again (and no more).
    const over = await post(s, `/payments/${created.paymentId}/refunds`, { refundRequestId: `rr_${orderId}_3`, amount: 2501 });
    expect(over.status).toBe(422);
    const retry = await post(s, `/payments/${created.paymentId}/refunds`, { refundRequestId: `rr_${orderId}_4`, amount: 2500 });
    expect(retry.status).toBe(201);
    await eventually(async () => count(orderId, 'payment.refunded'), (n) => n >= 3, { what: 'the new refund' });
    const last = paymentEvents(s, orderId).filter((e) => e.type === 'payment.refunded').pop()!;
    expect(last.data).toMatchObject({ amount: 2500, totalRefunded: 3000, fullyRefunded: true });
    await new Promise((r) => setTimeout(r, 500));
    expect(count(orderId, 'payment.refund_failed')).toBe(1);
    expect((await get(s, `/payments/${created.paymentId}`)).body).toMatchObject({ amountRefunded: 3000 });
    // Every refund fact carries its place among the payment's, in the order payments decided them (decision 0011).
    const facts = paymentEvents(s, orderId).filter((e) => e.type === 'payment.refunded' || e.type === 'payment.refund_failed');
    const bySeq = [...facts].sort((a, b) => Number(a.data.refundSeq) - Number(b.data.refundSeq));
    expect(bySeq.map((e) => e.data.refundSeq)).toEqual([1, 2, 3, 4]);
    expect(bySeq.slice(2).map((e) => [e.type, e.data.refundId])).toEqual([
      ['payment.refund_failed', failing.body.refundId],
      ['payment.refunded', retry.body.refundId],
    ]);
  });

  it('refunds once when a refund request is repeated after Stripe forgot its idempotency key, whether or not its first answer arrived', async () => {
    const orderId = order();
    const created = await createWeb(orderId, 4000);
    await confirmInBrowser(created, 'pm_card_visa');
    await waitForEvent(orderId, 'payment.succeeded');
    const refundsAtStripe = async () => (await s.stripe.refunds.list({ payment_intent: created.paymentIntentId })).data;

    // Answered: the repeat a day later reads the refund instead of making a second one.
    const body = { refundRequestId: `rr_${orderId}_day`, amount: 1000 };
    const first = await post(s, `/payments/${created.paymentId}/refunds`, body);
    expect(first.status).toBe(201);
    expect(s.emu.expireIdempotencyKeys()).toBeGreaterThan(0);
    const repeat = await post(s, `/payments/${created.paymentId}/refunds`, body);
    expect(repeat.status).toBe(201);
    expect(repeat.body).toMatchObject({ refundId: first.body.refundId, amount: 1000 });
    expect(await refundsAtStripe()).toHaveLength(1);

    // Not answered: payments died while Stripe was making the refund, and the refund's webhooks are late; a day
    // later the repeat finds the refund by the request id it carries.
    const parked = s.emu.addWebhookFault({ delay_ms: 3_600_000 });
    const slow = s.emu.addApiFault({ method: 'POST', path: '/v1/refunds', delay_ms: 1_500, times: 1 });
    const lostBody = { refundRequestId: `rr_${orderId}_lost`, amount: 700 };
    try {
      const unanswered = post(s, `/payments/${created.paymentId}/refunds`, lostBody).catch(() => undefined);
      await eventually(async () => slow.hits, (n) => n === 1, { what: 'the refund at Stripe' });
      await s.payments.kill();
      await unanswered;
      await eventually(refundsAtStripe, (r) => r.length === 2, { what: 'Stripe making the refund' });
      s.payments = await startPayments(s.w, s.emu, s.paymentsPort);
    } finally {
      for (const f of [parked, slow]) s.emu.emulator.faults.remove(f.id);
    }
    s.emu.expireIdempotencyKeys();
    try {
      // payments never learnt the refund's id: the repeat (or the janitor, for a request left unanswered past its
      // min age) has only the request id to find it by, and must not make it again now that Stripe forgot the key.
      const found = await post(s, `/payments/${created.paymentId}/refunds`, lostBody);
      expect(found.status).toBe(201);
      const atStripe = await refundsAtStripe();
      expect(atStripe).toHaveLength(2);
      expect(found.body).toMatchObject({ amount: 700, refundId: atStripe.find((r) => r.amount === 700)!.id });
      expect((await get(s, `/payments/${created.paymentId}`)).body).toMatchObject({ amountRefunded: 1700 });
    } finally {
      // The held deliveries go out now, so later tests waiting for the emulator to be idle do not wait an hour.
      s.emu.releaseWebhooks();
      await s.emu.webhooksIdle();
    }
  });

  it('answers 409, not 500, when a refund request id is taken by a request for another payment at the same moment', async () => {
    const [a, b] = [order(), order()];
    const [pa, pb] = [await createWeb(a, 1500), await createWeb(b, 1500)];
    for (const p of [pa, pb]) await confirmInBrowser(p, 'pm_card_visa');
    await waitForEvent(a, 'payment.succeeded');
    await waitForEvent(b, 'payment.succeeded');
    const id = `rr_shared_${a}`;
    // Another request takes the id for payment a and has not committed yet: b's insert waits on it.
    const other = new Client({ connectionString: engines().databaseUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO "${s.w.schema}_pay".refund_requests (id, payment_id, amount, reason, fingerprint, status)
         VALUES ($1, $2, 100, 'requested_by_customer', 'other', 'pending')`,
        [id, pa.paymentId],
      );
      const { rows: [{ pid }] } = await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const answer = post(s, `/payments/${pb.paymentId}/refunds`, { refundRequestId: id, amount: 100 });
      await eventually(
        () => s.db.scalar<number>(`SELECT count(*)::int FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, [pid]),
        (n) => n > 0,
        { what: "b's insert waiting for the other request's" },
      );
      await other.query('COMMIT');
      const res = await answer;
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('refund_request_conflict');
    } finally {
      // Not a request the janitor should complete.
      await other.query(`UPDATE "${s.w.schema}_pay".refund_requests SET status = 'failed' WHERE id = $1`, [id]).catch(() => undefined);
      await other.end();
    }
    expect(await s.stripe.refunds.list({ payment_intent: pb.paymentIntentId })).toMatchObject({ data: [] });
  });

  it('completes a refund request Stripe never answered through the janitor, once, and releases one Stripe then refuses', async () => {
    const orderId = order();
    const created = await createWeb(orderId, 3000);
    await confirmInBrowser(created, 'pm_card_visa');
    await waitForEvent(orderId, 'payment.succeeded');
    const refundsAtStripe = async () => (await s.stripe.refunds.list({ payment_intent: created.paymentIntentId })).data;
    const request = async (id: string) =>
      (await s.db.query<{ status: string; refund_id: string | null }>(
        `SELECT status, refund_id FROM "${s.w.schema}_pay".refund_requests WHERE id = $1`,
        [id],
      ))[0];

    // Stripe answers 500 to every try of the call, and the client never retries: the amount stays reserved.
    const down = s.emu.addApiFault({ method: 'POST', path: '/v1/refunds', status: 500 });
    const unanswered = await post(s, `/payments/${created.paymentId}/refunds`, { refundRequestId: `rr_${orderId}_stalled`, amount: 1200 });
    s.emu.emulator.faults.remove(down.id);
    expect(unanswered.status).toBeGreaterThanOrEqual(500);
    expect(await request(`rr_${orderId}_stalled`)).toEqual({ status: 'pending', refund_id: null });
    expect(await refundsAtStripe()).toEqual([]);

    // Past the janitor's min age (4 s here) the janitor makes the refund under the request's own key.
    const done = await eventually(() => request(`rr_${orderId}_stalled`), (r) => r.status === 'succeeded', {
      what: 'the janitor to complete the stalled refund',
      timeoutMs: 20_000,
    });
    const atStripe = await refundsAtStripe();
    expect(atStripe).toHaveLength(1);
    expect(atStripe[0]).toMatchObject({ id: done.refund_id, amount: 1200, metadata: { refundRequestId: `rr_${orderId}_stalled` } });
    await waitForEvent(orderId, 'payment.refunded');

    // Another request stalls the same way, and by the time the janitor tries it Stripe refuses it for good: the
    // reservation is released, so the rest of the payment can still be refunded.
    const down2 = s.emu.addApiFault({ method: 'POST', path: '/v1/refunds', status: 500 });
    await post(s, `/payments/${created.paymentId}/refunds`, { refundRequestId: `rr_${orderId}_refused`, amount: 1800 });
    s.emu.emulator.faults.remove(down2.id);
    const refused = s.emu.addApiFault({ method: 'POST', path: '/v1/refunds', status: 400, code: 'charge_already_refunded' });
    try {
      await eventually(() => request(`rr_${orderId}_refused`), (r) => r.status === 'failed', {
        what: 'the janitor to release the refused request',
        timeoutMs: 20_000,
      });
    } finally {
      s.emu.emulator.faults.remove(refused.id);
    }
    expect(await refundsAtStripe()).toHaveLength(1);
    const rest = await post(s, `/payments/${created.paymentId}/refunds`, { refundRequestId: `rr_${orderId}_rest`, amount: 1800 });
    expect(rest.status).toBe(201);
    await eventually(async () => count(orderId, 'payment.refunded'), (n) => n === 2, { what: 'two refunds announced' });
  });

  it('follows a dispute from opening to its outcome: one payment.disputed, one payment.dispute_closed, and the money out and back for finance', async () => {
    const won = order();
    const lost = order();
    const [a, b] = [await createWeb(won, 4000), await createWeb(lost, 1000)];
    await confirmInBrowser(a, 'pm_card_createDispute');
    await confirmInBrowser(b, 'pm_card_createDispute');
    await Promise.all([waitForEvent(won, 'payment.disputed'), waitForEvent(lost, 'payment.disputed')]);
    const disputeOf = (orderId: string) =>
      String(paymentEvents(s, orderId).find((e) => e.type === 'payment.disputed')!.data.disputeId);

    // The merchant wins one with evidence (Stripe's test-mode text) and accepts the other.
    expect((await s.stripe.disputes.update(disputeOf(won), { evidence: { uncategorized_text: 'winning_evidence' } })).status).toBe('won');
    expect((await s.stripe.disputes.close(disputeOf(lost))).status).toBe('lost');
    await Promise.all([waitForEvent(won, 'payment.dispute_closed'), waitForEvent(lost, 'payment.dispute_closed')]);
    const closed = (orderId: string) => paymentEvents(s, orderId).find((e) => e.type === 'payment.dispute_closed')!.data;
    expect(closed(won)).toMatchObject({ disputeId: disputeOf(won), outcome: 'won', amount: 4000, currency: 'usd' });
    expect(closed(lost)).toMatchObject({ outcome: 'lost', amount: 1000 });

    // Finance sees the withdrawal (with the dispute fee) and, for the won one, the money coming back.
    const disputeEntries = async (orderId: string) => reconciliationEntries(s, orderId).filter((e) => e.kind === 'dispute');
    const wonEntries = await eventually(() => disputeEntries(won), (e) => e.length >= 2, { what: 'withdrawal and reinstatement' });
    expect(wonEntries.map((e) => [e.gross, e.fee]).sort()).toEqual([[-4000, 1500], [4000, 0]].sort());
    await eventually(() => disputeEntries(lost), (e) => e.length >= 1, { what: 'withdrawal of the lost one' });
    await new Promise((r) => setTimeout(r, 500));
    expect(await disputeEntries(lost)).toHaveLength(1); // no reinstatement
    for (const o of [won, lost]) {
      expect(count(o, 'payment.disputed')).toBe(1);
      expect(count(o, 'payment.dispute_closed')).toBe(1);
    }
  });

  it("sums a day's reconciliation entries per currency and kind exactly as the entries add up, and refuses a summary without a day", async () => {
    type Entry = { kind: string; currency: string; channel: string; gross: number; fee: number; net: number; occurredAt: string };
    const readAll = async () => {
      const all: Entry[] = [];
      for (let cursor: string | null = null; ; ) {
        const page = await get(s, `/reconciliation?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        all.push(...(page.body.data as Entry[]));
        cursor = page.body.nextCursor as string | null;
        if (!cursor) return all;
      }
    };
    const expected = (all: Entry[], day: string, channel?: string) => {
      const out: Record<string, Record<string, number>> = {};
      for (const e of all.filter((x) => x.occurredAt.startsWith(day) && (!channel || x.channel === channel))) {
        for (const key of [e.currency, `${e.currency}.${e.kind}`]) {
          const t = (out[key] ??= { entries: 0, gross: 0, fee: 0, net: 0 });
          t.entries++;
          t.gross += e.gross;
          t.fee += e.fee;
          t.net += e.net;
        }
      }
      return out;
    };
    const flatten = (body: { currencies: (Record<string, number> & { currency: string; byKind: Record<string, Record<string, number>> })[] }) => {
      const out: Record<string, Record<string, number>> = {};
      for (const { currency, byKind, entries, gross, fee, net } of body.currencies) {
        out[currency] = { entries, gross, fee, net };
        for (const [kind, t] of Object.entries(byKind)) if (t.entries > 0) out[`${currency}.${kind}`] = t;
      }
      return out;
    };
    // The reconciliation worker may still be writing an earlier test's entry: compare a read of the entries with the
    // summary until both saw the same entries (two reads in a row that agree).
    const compared = await eventually(
      async () => {
        const all = await readAll();
        const day = all[all.length - 1].occurredAt.slice(0, 10);
        const summary = await get(s, `/reconciliation/summary?day=${day}`);
        const pos = await get(s, `/reconciliation/summary?day=${day}&channel=pos`);
        const again = await readAll();
        return { all, again, day, status: summary.status, got: flatten(summary.body as never), gotPos: flatten(pos.body as never) };
      },
      (c) => c.again.length === c.all.length,
      { what: 'a quiet moment of the reconciliation worker' },
    );
    expect(compared.status).toBe(200);
    expect(Object.keys(expected(compared.all, compared.day)).length).toBeGreaterThan(2); // charges and refunds at least
    expect(compared.got).toEqual(expected(compared.all, compared.day));
    expect(compared.gotPos).toEqual(expected(compared.all, compared.day, 'pos'));
    expect((await get(s, '/reconciliation/summary?day=2025-02-30')).status).toBe(400);
    expect((await get(s, '/reconciliation/summary')).status).toBe(400);
  });

  it("audits a day's entries against Stripe's balance transactions: clean when they agree, then names a missing, an unexpected and a different entry and an order paid twice", async () => {
    type Money = { count: number; gross: number; fee: number; net: number };
    type Line = { problem: string; balanceTransactionId: string; orderId: string | null; stripe: Money | null; entry: Money | null };
    type Audit = {
      day: string;
      status: string;
      outcome: string;
      runs: number;
      result: {
        outcome: string;
        dayComplete: boolean;
        stripeTransactions: number;
        problems: Record<string, number>;
        currencies: { currency: string; stripe: Money; entries: Money; difference: Money }[];
        otherStripeTransactions: Record<string, number>;
        details: Line[];
        ordersPaidTwice: { orderId: string; charges: number }[];
      };
    };
    const schema = `"${s.w.schema}_pay"`;
    const today = new Date().toISOString().slice(0, 10);
    const audit = async (): Promise<Audit> => {
      const asked = await post<Audit>(s, '/reconciliation/audits', { day: today, requestedBy: 'test' });
      expect(asked.status).toBe(202);
      return eventually(
        async () => (await get<Audit>(s, `/reconciliation/audits/${today}`)).body,
        (a) => a.status === 'done' && a.runs > asked.body.runs,
        { what: `audit of ${today}` },
      );
    };

    // An audit of today compares what happened before the second it starts: let earlier tests' last second pass,
    // so the list read below for comparison is the same.
    await new Promise((r) => setTimeout(r, 1100));
    // Clean: every entry of the day is a balance transaction Stripe lists, with the same money (an earlier test's
    // source may still be queued: then the audit says pending, and is asked for again).
    const clean = await eventually(audit, (a) => a.outcome !== 'pending', { what: 'an audit with nothing pending' });
    expect(clean.result.problems).toEqual({ missing: 0, pending: 0, unexpected: 0, differs: 0, order_paid_twice: 0 });
    expect(clean.outcome).toBe('clean');
    expect(clean.result.dayComplete).toBe(false);
    const usd = clean.result.currencies.find((c) => c.currency === 'usd')!;
    expect(usd.stripe.count).toBeGreaterThanOrEqual(3); // the first test's charge and two refunds at least
    expect(usd.entries).toEqual(usd.stripe);
    expect(usd.difference).toEqual({ count: 0, gross: 0, fee: 0, net: 0 });
    const listed: Stripe.BalanceTransaction[] = [];
    const start = Date.parse(`${today}T00:00:00Z`) / 1000;
    for await (const t of s.stripe.balanceTransactions.list({ created: { gte: start, lt: start + 86_400 }, limit: 100 }))
      listed.push(t);
    expect(clean.result.stripeTransactions).toBe(listed.length);
    const usdListed = listed.filter((t) => t.currency === 'usd');
    expect(usd.stripe.gross).toBe(usdListed.reduce((sum, t) => sum + t.amount, 0));
    expect(usd.stripe.fee).toBe(usdListed.reduce((sum, t) => sum + t.fee, 0));

    // An order two of whose payments took money (two attempts, each confirmed).
    const twice = order();
    for (const attempt of [1, 2]) await confirmInBrowser(await createWeb(twice, 1500, { attempt }), 'pm_card_visa');
    await eventually(async () => reconciliationEntries(s, twice), (e) => e.length === 2, { what: 'two charge entries' });

    // A ledger edited behind the worker's back (the append-only trigger is bypassed as only a superuser can).
    const [changed, removed] = await s.db.query<{ entry_id: string; fee: string; gross: string; net: string }>(
      `SELECT entry_id, fee, gross, net FROM ${schema}.reconciliation_entries
        WHERE occurred_at >= $1::date AND order_id <> $2 ORDER BY entry_id LIMIT 2`,
      [today, twice],
    );
    const saved = await s.db.query(`SELECT * FROM ${schema}.reconciliation_entries WHERE entry_id = $1`, [removed.entry_id]);
    const bypass = (sql: string) => s.db.query(`BEGIN; SET LOCAL session_replication_role = replica; ${sql}; COMMIT;`);
    await bypass(
      `UPDATE ${schema}.reconciliation_entries SET fee = fee + 1 WHERE entry_id = '${changed.entry_id}';
       DELETE FROM ${schema}.reconciliation_entries WHERE entry_id = '${removed.entry_id}';
       INSERT INTO ${schema}.reconciliation_entries (entry_id, kind, order_id, payment_id, payment_intent_id, source_id,
         balance_transaction_id, channel, gross, fee, net, currency, occurred_at, available_on)
       VALUES ('txn_audit_unknown', 'charge', 'ord_audit', 'pay_audit', 'pi_audit', 'ch_audit', 'txn_audit_unknown',
         'web', 700, 50, 650, 'usd', now() - interval '2 seconds', now())`,
    );
    // An audit of today compares up to the second it starts (both sides): let the last charge's second pass.
    await new Promise((r) => setTimeout(r, 1100));
    try {
      const found = await audit();
      expect(found.outcome).toBe('mismatches');
      expect(found.result.problems).toEqual({ missing: 1, pending: 0, unexpected: 1, differs: 1, order_paid_twice: 1 });
      const line = (problem: string) => found.result.details.find((d) => d.problem === problem)!;
      expect(line('missing').balanceTransactionId).toBe(removed.entry_id);
      expect(line('missing').entry).toBeNull();
      expect(line('missing').stripe).toEqual({ gross: Number(removed.gross), fee: Number(removed.fee), net: Number(removed.net) });
      expect(line('differs').balanceTransactionId).toBe(changed.entry_id);
      expect(line('differs').entry!.fee).toBe(line('differs').stripe!.fee + 1);
      expect(line('unexpected')).toMatchObject({ balanceTransactionId: 'txn_audit_unknown', stripe: null, orderId: 'ord_audit' });
      expect(found.result.ordersPaidTwice).toEqual([{ orderId: twice, charges: 2 }]);
      const diff = found.result.currencies.find((c) => c.currency === 'usd')!.difference;
      expect(diff).toEqual({
        count: 0,
        gross: 700 - Number(removed.gross),
        fee: 1 + 50 - Number(removed.fee),
        net: 650 - Number(removed.net),
      });
      expect(s.payments.logs.some((l) => l.includes('reconciliation audit found mismatches with Stripe'))).toBe(true);
    } finally {
      const r = saved[0];
      await bypass(
        `UPDATE ${schema}.reconciliation_entries SET fee = fee - 1 WHERE entry_id = '${changed.entry_id}';
         DELETE FROM ${schema}.reconciliation_entries WHERE entry_id = 'txn_audit_unknown'`,
      );
      await s.db.query(
        `INSERT INTO ${schema}.reconciliation_entries SELECT * FROM json_populate_record(NULL::${schema}.reconciliation_entries, $1)`,
        [JSON.stringify(r)],
      );
    }

    expect((await post(s, '/reconciliation/audits', { day: '2999-01-01' })).status).toBe(422);
    expect((await post(s, '/reconciliation/audits', { day: '2025-02-30' })).status).toBe(400);
    expect((await get(s, '/reconciliation/audits/2001-01-01')).status).toBe(404);
    expect((await get(s, '/reconciliation/audits/yesterday')).status).toBe(400);
  });

  it('matches a payout with every charge and refund it paid out, tells finance once though Stripe delivers each event three times, and once more when the payout fails', async () => {
    type Totals = { count: number; gross: number; fee: number; net: number };
    type View = {
      payoutId: string;
      amount: number;
      status: string;
      reconciliation: { state: string; outcome: string | null; result: { lines: Totals; platform: Totals & { byKind: Record<string, Totals> }; other: Totals; difference: number; problems: Record<string, number> } | null };
    };
    const admin = (p: string, body: unknown = {}) =>
      fetch(`${s.emu.url}/_emulator${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const orderId = order();
    const created = await createWeb(orderId, 3100);
    await confirmInBrowser(created, 'pm_card_visa');
    await waitForEvent(orderId, 'payment.succeeded');
    const refund = await post(s, `/payments/${created.paymentId}/refunds`, { refundRequestId: `rr_${orderId}`, amount: 1000 });
    expect(refund.status).toBe(201);
    // Someone else's charge on the same account (another integration): in the payout, not the platform's.
    await s.stripe.paymentIntents.create({ amount: 999, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, automatic_payment_methods: { enabled: true, allow_redirects: 'never' } });
    await eventually(async () => reconciliationEntries(s, orderId), (e) => e.length === 2, { what: 'the charge and refund entries' });

    s.emu.addWebhookFault({ duplicate: 3, shuffle_window_ms: 200 });
    try {
      const run = await admin('/payouts', { currency: 'usd' });
      expect(run.status).toBe(200);
      const [paid] = ((await run.json()) as { data: { id: string; amount: number }[] }).data;
      const view = await eventually(
        async () => (await get<View>(s, `/reconciliation/payouts/${paid.id}`)).body,
        (v) => v.reconciliation?.state === 'done',
        { what: `the reconciliation of ${paid.id}` },
      );
      expect(view).toMatchObject({ payoutId: paid.id, amount: paid.amount, status: 'paid' });
      const result = view.reconciliation.result!;
      expect(view.reconciliation.outcome).toBe('balanced');
      expect(result.difference).toBe(0);
      expect(result.problems).toEqual({ missing_entry: 0, differs: 0 });
      expect(result.lines.net).toBe(paid.amount);
      expect(result.other.count).toBeGreaterThanOrEqual(1);
      expect(result.platform.byKind.charge.count).toBeGreaterThanOrEqual(1);
      expect(result.platform.byKind.refund.count).toBeGreaterThanOrEqual(1);

      // What Stripe lists for the payout is what was copied and compared.
      const listed: Stripe.BalanceTransaction[] = [];
      for await (const t of s.stripe.balanceTransactions.list({ payout: paid.id, limit: 100 })) listed.push(t);
      const own = listed.filter((t) => (typeof t.source === 'string' ? t.source : t.source?.id) !== paid.id);
      expect(result.lines.count).toBe(own.length);
      const lines = (await get<{ data: { balanceTransactionId: string; entry: { orderId: string } | null }[] }>(s, `/reconciliation/payouts/${paid.id}/lines?limit=500`)).body.data;
      expect(lines.map((l) => l.balanceTransactionId).sort()).toEqual(own.map((t) => t.id).sort());
      expect(lines.filter((l) => l.entry?.orderId === orderId).map((l) => l.entry)).toEqual([
        expect.objectContaining({ kind: expect.stringMatching(/^(charge|refund)$/) }),
        expect.objectContaining({ kind: expect.stringMatching(/^(charge|refund)$/) }),
      ]);

      await s.emu.webhooksIdle();
      await admin(`/payouts/${paid.id}/fail`);
      await eventually(async () => (await get<View>(s, `/reconciliation/payouts/${paid.id}`)).body, (v) => v.status === 'failed', { what: 'the failed payout' });
      await s.emu.webhooksIdle();
      await new Promise((r) => setTimeout(r, 500)); // the last copies of the failure's deliveries
      const onKafka = new Map<string, { type: string; data: Record<string, unknown> }>();
      for (const m of s.recorder.on(`${s.w.topicPrefix}finance.reconciliation.v1`)) {
        const env = m.json as { id: string; type: string; data: Record<string, unknown> } | null;
        if (env && m.key === paid.id) onKafka.set(env.id, env);
      }
      expect([...onKafka.values()].map((e) => e.type)).toEqual(['payout.reconciled', 'payout.failed']);
      expect([...onKafka.values()][1].data).toMatchObject({ payoutId: paid.id, wasReconciled: true, amount: paid.amount });
    } finally {
      s.emu.clearFaults();
    }
    expect((await get(s, '/reconciliation/payouts/po_unknown')).status).toBe(404);
    expect((await get(s, '/reconciliation/payouts/ch_123')).status).toBe(400);
  });

  it('reports a declined card as failed with the decline code', async () => {
    const orderId = order();
    const created = await createWeb(orderId, 1500);
    await expect(confirmInBrowser(created, 'pm_card_chargeDeclinedInsufficientFunds')).rejects.toMatchObject({
      type: 'StripeCardError',
    });
    await waitForEvent(orderId, 'payment.failed');
    const failed = paymentEvents(s, orderId).find((e) => e.type === 'payment.failed')!;
    expect(failed.data).toMatchObject({ code: 'card_declined', declineCode: 'insufficient_funds' });
    expect((await get(s, `/payments/${created.paymentId}`)).body).toMatchObject({
      status: 'failed',
      failure: { declineCode: 'insufficient_funds' },
    });
  });

  it('passes a 3-D Secure payment through requires_action, then succeeds after the challenge', async () => {
    const orderId = order();
    const created = await createWeb(orderId, 2500);
    const confirmed = await confirmInBrowser(created, 'pm_card_threeDSecure2Required');
    expect(confirmed.status).toBe('requires_action');
    await waitForEvent(orderId, 'payment.requires_action');
    s.emu.completeThreeDS(created.paymentIntentId, true);
    await waitForEvent(orderId, 'payment.succeeded');
    expect(types(orderId)).toEqual(['payment.created', 'payment.requires_action', 'payment.succeeded']);
  });

  it('authorises a POS payment on a reader and captures it through the API', async () => {
    const orderId = order();
    const res = await post(s, '/payments', {
      orderId,
      amount: 1850,
      currency: 'usd',
      channel: 'pos',
      storeId: 'store_9',
    });
    expect(res.status).toBe(201);
    const pi = await s.stripe.paymentIntents.retrieve(res.body.paymentIntentId);
    expect(pi).toMatchObject({ capture_method: 'manual', payment_method_types: ['card_present'] });
    const location = await s.stripe.terminal.locations.create({
      display_name: 'Store 9',
      address: { line1: '1 Main', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' },
    } as Stripe.Terminal.LocationCreateParams);
    const reader = await s.stripe.terminal.readers.create({
      registration_code: 'simulated-wpe',
      location: location.id,
    } as Stripe.Terminal.ReaderCreateParams);
    await s.stripe.terminal.readers.processPaymentIntent(reader.id, { payment_intent: pi.id });
    await s.stripe.testHelpers.terminal.readers.presentPaymentMethod(reader.id);
    await waitForEvent(orderId, 'payment.authorized');
    const over = await post(s, `/payments/${res.body.paymentId}/capture`, { amountToCapture: 1851 });
    expect(over.status).toBe(422);
    const cap = await post(s, `/payments/${res.body.paymentId}/capture`, { amountToCapture: 1800 });
    expect(cap.status).toBe(200);
    expect(cap.body).toMatchObject({ status: 'succeeded', amountReceived: 1800 });
    await waitForEvent(orderId, 'payment.succeeded');
    const [entry] = await eventually(
      async () => reconciliationEntries(s, orderId),
      (e) => e.length >= 1,
      { what: 'pos entry' },
    );
    expect(entry).toMatchObject({
      channel: 'pos',
      storeId: 'store_9',
      gross: 1800,
      fee: Math.round(1800 * 0.027 + 5),
    });
    // Cancel after capture is refused: a captured payment is refunded instead.
    expect((await post(s, `/payments/${res.body.paymentId}/cancel`, {})).status).toBe(409);
  });

  it('cancels an unpaid payment once', async () => {
    const orderId = order();
    const created = await createWeb(orderId, 900);
    const c1 = await post(s, `/payments/${created.paymentId}/cancel`, { reason: 'abandoned' });
    const c2 = await post(s, `/payments/${created.paymentId}/cancel`, { reason: 'abandoned' });
    expect([c1.status, c2.status]).toEqual([200, 200]);
    expect(c2.body.status).toBe('canceled');
    await waitForEvent(orderId, 'payment.canceled');
    await new Promise((r) => setTimeout(r, 500));
    expect(count(orderId, 'payment.canceled')).toBe(1);
  });

  it("cancels the open PaymentIntent of a cancelled order once, so the customer can no longer pay it, and leaves a paid order's alone", async () => {
    const expired = order();
    const open = await createWeb(expired, 1500);
    const paidOrder = order();
    const paid = await createWeb(paidOrder, 1600);
    await confirmInBrowser(paid, 'pm_card_visa');
    await waitForEvent(paidOrder, 'payment.succeeded');

    // The orders service's fact, twice (a replay of its topic wraps it in a new envelope).
    await publishOrderCancelled(s, expired, 'payment_expired');
    await publishOrderCancelled(s, expired, 'payment_expired');
    await publishOrderCancelled(s, paidOrder, 'cancelled_by_staff');
    await waitForEvent(expired, 'payment.canceled');

    const pi = await s.stripe.paymentIntents.retrieve(open.paymentIntentId);
    expect(pi).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
    await expect(confirmInBrowser(open, 'pm_card_visa')).rejects.toMatchObject({ code: 'payment_intent_unexpected_state' });
    expect((await get(s, `/payments/${open.paymentId}`)).body.status).toBe('canceled');
    expect((await s.stripe.paymentIntents.retrieve(paid.paymentIntentId)).status).toBe('succeeded');

    await new Promise((r) => setTimeout(r, 1000));
    expect(count(expired, 'payment.canceled')).toBe(1);
    expect(count(paidOrder, 'payment.canceled')).toBe(0);
    const requests = await s.db.query<{ payment_id: string; outcome: string; attempts: number }>(
      `SELECT payment_id, outcome, attempts FROM "${s.w.schema}_pay".payment_cancellations WHERE order_id = ANY($1)`,
      [[expired, paidOrder]],
    );
    expect(requests).toEqual([{ payment_id: open.paymentId, outcome: 'canceled', attempts: 1 }]);
  });

  it('tries again when Stripe refuses to cancel the PaymentIntent of a cancelled order, after reading it, and then cancels it', async () => {
    const orderId = order();
    const open = await createWeb(orderId, 1700);
    const fault = await fetch(`${s.emu.url}/_emulator/faults/api`, {
      method: 'POST',
      body: JSON.stringify({ method: 'POST', path: `^/v1/payment_intents/${open.paymentIntentId}/cancel$`, status: 400, code: 'payment_intent_unexpected_state', times: 1 }),
    });
    expect(fault.status).toBe(200);
    await publishOrderCancelled(s, orderId, 'cancelled_by_staff');
    await waitForEvent(orderId, 'payment.canceled');
    expect((await s.stripe.paymentIntents.retrieve(open.paymentIntentId)).status).toBe('canceled');
    // The worker records its outcome once Stripe's answer is back; the webhook of the cancel can come first.
    const request = await eventually(
      async () =>
        (
          await s.db.query<{ outcome: string | null; attempts: number; last_error: string }>(
            `SELECT outcome, attempts, last_error FROM "${s.w.schema}_pay".payment_cancellations WHERE payment_id = $1`,
            [open.paymentId],
          )
        )[0],
      (r) => r?.outcome !== null,
      { what: 'the cancellation outcome recorded' },
    );
    expect(request).toMatchObject({ outcome: 'canceled', attempts: 2 });
    expect(request.last_error).toContain('Stripe refused to cancel a PaymentIntent in requires_payment_method');
  });

  it('does not hand out the client secret of a cancelled order when a create whose answer was lost is repeated, and cancels its PaymentIntent', async () => {
    const orderId = order();
    // The first create got no answer before the order was cancelled: its row stayed `creating`, without a PaymentIntent.
    const paymentId = `pay_lost_${randomUUID().slice(0, 8)}`;
    await s.db.query(
      `INSERT INTO "${s.w.schema}_pay".payments (id, order_id, attempt, channel, store_id, customer_id, amount, currency, capture_method, status)
       VALUES ($1, $2, 1, 'web', 'store_1', 'cust_1', 1800, 'usd', 'automatic', 'creating')`,
      [paymentId, orderId],
    );
    await publishOrderCancelled(s, orderId, 'payment_expired');
    await eventually(
      () => s.db.scalar(`SELECT count(*) FROM "${s.w.schema}_pay".payment_cancellations WHERE payment_id = $1`, [paymentId]),
      (n) => n === 1,
      { what: 'a cancellation request for the payment still being created' },
    );

    const repeated = await post(s, '/payments', { orderId, amount: 1800, currency: 'usd', channel: 'web', storeId: 'store_1', customerId: 'cust_1' });
    expect(repeated.status).toBe(409);
    expect(repeated.body.error.code).toBe('order_cancelled');
    expect(JSON.stringify(repeated.body)).not.toContain('secret');
    const [pi] = (await s.stripe.paymentIntents.list({ limit: 100 })).data.filter((p) => p.metadata.orderId === orderId);
    expect(pi).toBeDefined();
    await eventually(
      async () => (await s.stripe.paymentIntents.retrieve(pi.id)).status,
      (status) => status === 'canceled',
      { timeoutMs: 30_000, what: 'the PaymentIntent of the cancelled order to be canceled' },
    );
    // Every later repeat is refused the same way.
    expect((await post(s, '/payments', { orderId, amount: 1800, currency: 'usd', channel: 'web', storeId: 'store_1', customerId: 'cust_1' })).status).toBe(409);
  });

  it('refuses a first payment for an order it knows as cancelled without creating a PaymentIntent, and cancels one created in a race with the cancellation', async () => {
    const pay = `"${s.w.schema}_pay"`;
    const cancelled = order();
    await publishOrderCancelled(s, cancelled, 'customer_cancelled');
    await eventually(
      () => s.db.scalar(`SELECT count(*) FROM ${pay}.cancelled_orders WHERE order_id = $1`, [cancelled]),
      (n) => n === 1,
      { what: 'payments to know the order as cancelled' },
    );
    const refused = await post(s, '/payments', { orderId: cancelled, amount: 1200, currency: 'usd', channel: 'web' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('order_cancelled');
    expect((await s.stripe.paymentIntents.list({ limit: 100 })).data.filter((p) => p.metadata.orderId === cancelled)).toHaveLength(0);
    expect(await s.db.scalar(`SELECT count(*) FROM ${pay}.payments WHERE order_id = $1`, [cancelled])).toBe(0);

    // The race: the create's insert did not see the cancellation, the consumer's transaction did not see the payment
    // (here: the payment is created first, then the order is remembered as cancelled without any request).
    const raced = order();
    const created = await createWeb(raced, 1300);
    await s.db.query(`INSERT INTO ${pay}.cancelled_orders (order_id, reason, cause_message_id) VALUES ($1, 'customer_cancelled', $2)`, [
      raced,
      randomUUID(),
    ]);
    expect(await s.db.scalar(`SELECT count(*) FROM ${pay}.payment_cancellations WHERE payment_id = $1`, [created.paymentId])).toBe(0);
    await eventually(
      async () => (await s.stripe.paymentIntents.retrieve(created.paymentIntentId)).status,
      (status) => status === 'canceled',
      { timeoutMs: 30_000, what: 'the PaymentIntent created in the race to be canceled by the sweep' },
    );
  });

  it("answers 409 idempotency_conflict, counts it for an alert and records no refusal when Stripe already knows the create's key with other parameters", async () => {
    const pay = `"${s.w.schema}_pay"`;
    const metric = async () => {
      const text = await (await fetch(`${s.payments.url}/metrics`)).text();
      return Number(/^stripe_idempotency_errors_total (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const before = await metric();
    const clash = order();
    // Our key for this order's first attempt, already used at Stripe for another request: how a key derived from too
    // little would show itself.
    await s.stripe.paymentIntents.create({ amount: 999, currency: 'usd' }, { idempotencyKey: stripeIdempotencyKey('pi.create', clash, 1) });
    const res = await post(s, '/payments', { orderId: clash, amount: 1500, currency: 'usd', channel: 'web', attempt: 1 });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('idempotency_conflict');
    expect(await metric()).toBe(before + 1);
    // Not a refusal of the order's payment: the cancellation of its order must not end it as never created.
    expect(await s.db.scalar(`SELECT count(*) FROM ${pay}.payments WHERE order_id = $1 AND create_refused IS NOT NULL`, [clash])).toBe(0);
    expect(s.payments.logs.some((l) => l.includes('"level":"error"') && l.includes(clash))).toBe(true);
  });

  it("keeps a refund request's amount reserved when Stripe knows its key with other parameters: a refund may stand behind that key", async () => {
    const orderId = order();
    const created = await createWeb(orderId, 3000);
    await confirmInBrowser(created, 'pm_card_visa');
    await waitForEvent(orderId, 'payment.succeeded');
    const refundRequestId = `rr_${orderId}_clash`;
    await s.stripe.refunds.create({ payment_intent: created.paymentIntentId, amount: 100 }, { idempotencyKey: stripeIdempotencyKey('refund', refundRequestId) });
    const res = await post(s, `/payments/${created.paymentId}/refunds`, { refundRequestId, amount: 500 });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('idempotency_conflict');
    const status = await s.db.scalar(`SELECT status FROM "${s.w.schema}_pay".refund_requests WHERE id = $1`, [refundRequestId]);
    expect(status).not.toBe('failed');
  });

  it('forgets applied Stripe event ids after STRIPE_EVENT_DEDUP_DAYS and stored idempotent answers after IDEMPOTENT_REQUESTS_RETENTION_HOURS', async () => {
    const schema = `"${s.w.schema}_pay"`;
    const t = (days: number) => new Date(Date.now() - days * 86_400_000);
    await s.db.query(`INSERT INTO ${schema}.applied_stripe_events (event_id, type, applied_at) VALUES ('evt_retention_old', 'x', $1), ('evt_retention_new', 'x', $2)`, [t(36), t(34)]);
    await s.db.query(
      `INSERT INTO ${schema}.idempotent_requests (scope, key, fingerprint, status, created_at) VALUES ('retention', 'old', 'f', 201, $1), ('retention', 'new', 'f', 201, $2)`,
      [t(8), t(6)],
    );
    await eventually(
      async () => s.db.scalar(`SELECT count(*) FROM ${schema}.applied_stripe_events WHERE event_id = 'evt_retention_old'`),
      (n) => n === 0,
      { timeoutMs: 15_000, what: 'the 36-day-old applied event id to be forgotten' },
    );
    await eventually(
      async () => s.db.scalar(`SELECT count(*) FROM ${schema}.idempotent_requests WHERE scope = 'retention' AND key = 'old'`),
      (n) => n === 0,
      { timeoutMs: 15_000, what: 'the 8-day-old idempotent answer to be forgotten' },
    );
    expect(await s.db.scalar(`SELECT count(*) FROM ${schema}.applied_stripe_events WHERE event_id = 'evt_retention_new'`)).toBe(1);
    expect(await s.db.scalar(`SELECT count(*) FROM ${schema}.idempotent_requests WHERE scope = 'retention' AND key = 'new'`)).toBe(1);
  });

  it('creates one PaymentIntent when payments dies while Stripe makes it, and the create is repeated after the restart', async () => {
    const orderId = order();
    const body = { orderId, amount: 2600, currency: 'usd', channel: 'web', storeId: 'store_1', customerId: 'cust_1' };
    const slow = s.emu.addApiFault({ method: 'POST', path: '^/v1/payment_intents$', delay_ms: 1_500, times: 1 });
    try {
      const unanswered = post(s, '/payments', body).catch(() => undefined);
      await eventually(async () => slow.hits, (n) => n === 1, { what: 'the create at Stripe' });
      await s.payments.kill();
      await unanswered;
      const made = async () => (await s.stripe.paymentIntents.list({ limit: 100 })).data.filter((p) => p.metadata.orderId === orderId);
      await eventually(made, (list) => list.length === 1, { what: 'Stripe making the PaymentIntent' });
      s.payments = await startPayments(s.w, s.emu, s.paymentsPort);
    } finally {
      s.emu.emulator.faults.remove(slow.id);
    }
    // The row was written before the call, so the repeat asks Stripe again with the same (order, attempt) key.
    const again = await post(s, '/payments', body);
    expect(again.status).toBe(201);
    const intents = (await s.stripe.paymentIntents.list({ limit: 100 })).data.filter((p) => p.metadata.orderId === orderId);
    expect(intents.map((p) => p.id)).toEqual([again.body.paymentIntentId]);
  });

  it('creates one PaymentIntent for the same create request sent twice concurrently with one Idempotency-Key', async () => {
    const orderId = order();
    const body = {
      orderId,
      amount: 3100,
      currency: 'usd',
      channel: 'web',
      storeId: 'store_1',
      customerId: 'cust_1',
    };
    const key = `idem-${randomUUID()}`;
    const [a, b] = await Promise.all([
      post(s, '/payments', body, { 'Idempotency-Key': key }),
      post(s, '/payments', body, { 'Idempotency-Key': key }),
    ]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.paymentId).toBe(b.body.paymentId);
    expect(a.body.paymentIntentId).toBe(b.body.paymentIntentId);
    const list = await s.stripe.paymentIntents.list({ limit: 100 });
    expect(list.data.filter((p) => p.metadata.orderId === orderId)).toHaveLength(1);
    // the key reused for another request is refused
    const reused = await post(s, '/payments', { ...body, amount: 3200 }, { 'Idempotency-Key': key });
    expect(reused.status).toBe(422);
    // without a key, the same order + attempt is still one PaymentIntent; a different amount is a conflict
    const [c, d] = await Promise.all([post(s, '/payments', body), post(s, '/payments', body)]);
    expect(c.body.paymentIntentId).toBe(a.body.paymentIntentId);
    expect(d.body.paymentIntentId).toBe(a.body.paymentIntentId);
    expect((await post(s, '/payments', { ...body, amount: 1 })).status).toBe(409);
  });

  it('ends every payment right with one event per transition when Stripe delivers each event three times, shuffled', async () => {
    s.emu.addWebhookFault({ duplicate: 3, shuffle_window_ms: 400 });
    try {
      const plan = [
        { orderId: order(), card: 'pm_card_visa', expect: ['payment.created', 'payment.succeeded'] },
        { orderId: order(), card: 'pm_card_mastercard', expect: ['payment.created', 'payment.succeeded'] },
        { orderId: order(), card: 'pm_card_chargeDeclined', expect: ['payment.created', 'payment.failed'] },
        {
          orderId: order(),
          card: 'pm_card_visa',
          refund: true,
          // a second refund fails afterwards, while the deliveries of its success may still be in flight
          expect: ['payment.created', 'payment.succeeded', 'payment.refunded', 'payment.refunded', 'payment.refund_failed'],
        },
      ];
      const created = await Promise.all(plan.map((p) => createWeb(p.orderId, 2000)));
      await Promise.all(created.map((c, i) => confirmInBrowser(c, plan[i].card).catch(() => undefined)));
      await Promise.all(
        plan.filter((p) => !p.refund).map((p) => waitForEvent(p.orderId, p.expect[p.expect.length - 1])),
      );
      const ri = plan.findIndex((p) => p.refund);
      await waitForEvent(plan[ri].orderId, 'payment.succeeded');
      expect(
        (
          await post(s, `/payments/${created[ri].paymentId}/refunds`, {
            refundRequestId: `rr_${plan[ri].orderId}`,
            amount: 500,
          })
        ).status,
      ).toBe(201);
      await waitForEvent(plan[ri].orderId, 'payment.refunded');
      const failing = await post(s, `/payments/${created[ri].paymentId}/refunds`, {
        refundRequestId: `rr_${plan[ri].orderId}_2`,
        amount: 700,
      });
      expect(failing.status).toBe(201);
      await fetch(`${s.emu.url}/_emulator/refunds/${failing.body.refundId}/fail`, { method: 'POST' });
      await waitForEvent(plan[ri].orderId, 'payment.refund_failed');
      await s.emu.webhooksIdle();
      await new Promise((r) => setTimeout(r, 1500));
      for (const p of plan) {
        expect({ order: p.orderId, types: types(p.orderId).sort() }).toEqual({
          order: p.orderId,
          types: [...p.expect].sort(),
        });
      }
      const charges = plan.filter((p) => p.card !== 'pm_card_chargeDeclined').length;
      const entries = plan.flatMap((p) => reconciliationEntries(s, p.orderId));
      expect(entries.filter((e) => e.kind === 'charge')).toHaveLength(charges);
      // the refund kept, the failing one, and the money it gave back
      expect(entries.filter((e) => e.kind === 'refund').map((e) => e.gross).sort()).toEqual([-500, -700, 700].sort());
      expect((await get(s, `/payments/${created[ri].paymentId}`)).body).toMatchObject({ amountRefunded: 500 });
      // the webhook fault really did deliver every event three times
      const perEvent = new Map<string, number>();
      for (const d of s.emu.deliveries()) perEvent.set(d.event, (perEvent.get(d.event) ?? 0) + 1);
      expect(Math.max(...perEvent.values())).toBeGreaterThanOrEqual(3);
    } finally {
      s.emu.clearFaults();
    }
  });

  it('saves a card for the app channel and pays with customer and setup_future_usage', async () => {
    const customerId = `cust_${randomUUID().slice(0, 8)}`;
    const c1 = await post(s, `/customers/${customerId}/stripe-customer`, {});
    const c2 = await post(s, `/customers/${customerId}/stripe-customer`, {});
    expect(c1.body.stripeCustomerId).toMatch(/^cus_/);
    expect(c2.body.stripeCustomerId).toBe(c1.body.stripeCustomerId);
    const ek = await post(s, `/customers/${customerId}/ephemeral-keys`, { apiVersion: '2020-08-27' });
    expect(ek.status).toBe(201);
    expect(ek.body.ephemeralKeySecret).toMatch(/^ek_/);
    const si = await post(s, `/customers/${customerId}/setup-intents`, { setupRequestId: 'setup_1' });
    expect(si.status).toBe(201);
    await s.browser.setupIntents.confirm(si.body.setupIntentId, {
      payment_method: 'pm_card_visa',
      client_secret: si.body.clientSecret,
    } as Stripe.SetupIntentConfirmParams);
    const cards = await get(s, `/customers/${customerId}/payment-methods`);
    expect(cards.body.cards).toEqual([expect.objectContaining({ brand: 'visa', last4: '4242' })]);

    const orderId = order();
    const res = await post(s, '/payments', {
      orderId,
      amount: 2599,
      currency: 'usd',
      channel: 'app',
      customerId,
      setupFutureUsage: 'off_session',
    });
    expect(res.status).toBe(201);
    const pi = await s.stripe.paymentIntents.retrieve(res.body.paymentIntentId);
    expect(pi).toMatchObject({ customer: c1.body.stripeCustomerId, setup_future_usage: 'off_session' });
  });

  it('repairs a payment whose webhooks were lost, through the janitor', async () => {
    const orderId = order();
    const created = await createWeb(orderId, 1234);
    if (s.bridge) s.bridge.drop = (e) => JSON.stringify(e.data.object).includes(created.paymentIntentId);
    else s.emu.addWebhookFault({ drop_attempts: 1000 });
    try {
      await confirmInBrowser(created, 'pm_card_visa');
      await eventually(
        async () => count(orderId, 'payment.succeeded'),
        (n) => n === 1,
        { timeoutMs: 20_000, what: 'janitor repair' },
      );
      const [row] = await s.db.query<{ source: string }>(
        `SELECT source FROM "${s.w.schema}_pay".payment_transitions WHERE payment_id = $1 AND transition_key = 'succeeded'`,
        [created.paymentId],
      );
      expect(row.source).toMatch(/^janitor:/);
      await eventually(
        async () => reconciliationEntries(s, orderId),
        (e) => e.length === 1,
        { what: 'entry after repair' },
      );
    } finally {
      if (s.bridge) s.bridge.drop = () => false;
      s.emu.clearFaults();
    }
  });

  it('loses nothing when payments is SIGKILLed in the middle of a burst', async () => {
    const plan = Array.from({ length: 12 }, () => order());
    const created = await Promise.all(plan.map((o) => createWeb(o, 1000)));
    const confirming = Promise.all(created.map((c) => confirmInBrowser(c, 'pm_card_visa')));
    await new Promise((r) => setTimeout(r, 150));
    await s.payments.kill();
    await confirming;
    s.payments = await startPayments(s.w, s.emu, s.paymentsPort);
    for (const o of plan) await waitForEvent(o, 'payment.succeeded');
    await eventually(
      async () => plan.flatMap((o) => reconciliationEntries(s, o)).length,
      (n) => n >= plan.length,
      { what: 'entries after restart' },
    );
    await new Promise((r) => setTimeout(r, 1000));
    for (const o of plan) {
      expect({ o, t: types(o).sort() }).toEqual({ o, t: ['payment.created', 'payment.succeeded'] });
      expect(reconciliationEntries(s, o)).toHaveLength(1);
    }
  });

  it('never lets a secret key, a webhook secret or (outside create answers) a client secret out', async () => {
    const logs = [...s.payments.logs, ...(s.webhooks?.logs ?? [])].join('\n');
    const wire = s.recorder.messages.map((m) => `${m.value}${JSON.stringify(m.headers)}`).join('\n');
    for (const text of [logs, wire]) {
      expect(text).not.toContain('sk_test_');
      expect(text).not.toContain('whsec_');
      expect(text).not.toContain('_secret_');
      expect(text).not.toContain(s.emu.secretKey);
    }
    for (const r of s.responses) {
      expect(r.body).not.toContain('sk_test_');
      expect(r.body).not.toContain('whsec_');
      const createsSecret =
        /^POST \/(payments|customers\/[^/]+\/setup-intents|customers\/[^/]+\/customer-sessions)$/.test(
          r.path,
        );
      if (!createsSecret)
        expect({ path: r.path, leaks: r.body.includes('_secret_') }).toEqual({ path: r.path, leaks: false });
    }
    expect(s.responses.some((r) => r.body.includes('_secret_'))).toBe(true);
  });
});
