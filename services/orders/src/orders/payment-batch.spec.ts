import type { Envelope } from '@omnipay/contracts';
import { pay, recordingLog, republished } from '../shared/payment-events.fixtures';
import type { OrderStatus } from './order-status';
import { planOrderPayments, type OrderPaymentState } from './payment-batch';

const order = (id: string, over: Partial<OrderPaymentState> = {}): OrderPaymentState => ({
  id,
  status: 'pending_payment',
  fulfilment: 'ship',
  currency: 'usd',
  total: 5000,
  payment_id: null,
  payment_intent_id: null,
  payment_status: null,
  amount_paid: null,
  paid_currency: null,
  amount_captured: null,
  amount_refunded: 0,
  last_payment_error: null,
  dispute_id: null,
  dispute_status: null,
  refund_seq: 0,
  ...over,
});

function world(...orders: OrderPaymentState[]) {
  return new Map(orders.map((o) => [o.id, o]));
}

/** Plans each event as its own chunk, carrying state: what one-message handling would have decided. */
function oneByOne(orders: Map<string, OrderPaymentState>, events: Envelope[]) {
  const transitions = [];
  for (const e of events) transitions.push(...planOrderPayments(orders, [e], recordingLog()).transitions);
  return transitions;
}

const steps = (t: { orderId: string; from: OrderStatus; to: OrderStatus }[]) =>
  t.map((x) => `${x.orderId}:${x.from}>${x.to}`);

describe('orders: a chunk of payment events', () => {
  it('pays an order whose created and succeeded events arrive in one chunk, with the payment facts of the success', () => {
    const orders = world(order('o1'));
    const plan = planOrderPayments(
      orders,
      [
        pay.created({ id: 'o1', total: 5000, currency: 'usd' }, 'pi_a'),
        pay.succeeded({ id: 'o1', total: 5000, currency: 'usd' }, 'pi_a'),
      ],
      recordingLog(),
    );
    expect(steps(plan.transitions)).toEqual(['o1:pending_payment>paid']);
    expect(plan.transitions[0]).toMatchObject({ reason: 'payment_succeeded' });
    expect(plan.changed).toEqual([
      expect.objectContaining({
        id: 'o1',
        status: 'paid',
        payment_intent_id: 'pi_a',
        payment_status: 'succeeded',
        amount_paid: 5000,
        paid_currency: 'usd',
        amount_captured: 5000,
      }),
    ]);
  });

  it('applies succeeded then refunded of one order in one chunk as it would apart: paid, then refunded', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const events = [
      pay.succeeded(o, 'pi_a'),
      pay.refunded(o, 'pi_a', { refundId: 're_1', totalRefunded: 5000 }),
    ];
    const plan = planOrderPayments(world(order('o1')), events, recordingLog());
    expect(steps(plan.transitions)).toEqual(['o1:pending_payment>paid', 'o1:paid>refunded']);
    expect(plan.transitions.map((t) => t.cause.id)).toEqual(events.map((e) => e.id));
    expect(plan.transitions[1].reason).toBe('refunded 5000 of 5000 usd');
    expect(plan.changed[0]).toMatchObject({ status: 'refunded', amount_refunded: 5000 });
  });

  it('applies a refund that overtook its success once the success comes, in the same chunk', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const plan = planOrderPayments(
      world(order('o1')),
      [pay.refunded(o, 'pi_a', { refundId: 're_1', totalRefunded: 2000 }), pay.succeeded(o, 'pi_a')],
      recordingLog(),
    );
    expect(steps(plan.transitions)).toEqual(['o1:pending_payment>paid', 'o1:paid>partially_refunded']);
    expect(plan.changed[0]).toMatchObject({ amount_refunded: 2000, amount_captured: 5000 });
  });

  it('applies one Stripe fact re-published under other message ids once', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const ok = pay.succeeded(o, 'pi_a');
    const plan = planOrderPayments(
      world(order('o1')),
      [ok, republished(ok), republished(ok)],
      recordingLog(),
    );
    expect(steps(plan.transitions)).toEqual(['o1:pending_payment>paid']);
  });

  it('skips (and logs) a success for an unknown order while applying the rest of the chunk', () => {
    const log = recordingLog();
    const plan = planOrderPayments(
      world(order('o1')),
      [
        pay.succeeded({ id: 'o_gone', total: 5000, currency: 'usd' }, 'pi_x'),
        pay.succeeded({ id: 'o1', total: 5000, currency: 'usd' }, 'pi_a'),
      ],
      log,
    );
    expect(steps(plan.transitions)).toEqual(['o1:pending_payment>paid']);
    expect(plan.changed.map((o) => o.id)).toEqual(['o1']);
    expect(log.lines).toEqual([
      expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ orderId: 'o_gone' }) }),
    ]);
  });

  it('flags a payment whose amount or currency differs from the order, and never pays it afterwards', () => {
    const a = { id: 'o1', total: 5000, currency: 'usd' };
    const b = { id: 'o2', total: 5000, currency: 'usd' };
    const plan = planOrderPayments(
      world(order('o1'), order('o2')),
      [
        pay.succeeded(a, 'pi_a', { amount: 4999 }),
        pay.succeeded(b, 'pi_b', { currency: 'eur' }),
        pay.succeeded(a, 'pi_c'),
      ],
      recordingLog(),
    );
    expect(steps(plan.transitions)).toEqual([
      'o1:pending_payment>payment_mismatch',
      'o2:pending_payment>payment_mismatch',
    ]);
    expect(plan.transitions[0].reason).toBe('payment 4999 usd (amount 4999) differs from order 5000 usd');
  });

  it('lets a failure then a new attempt then a success move an order through payable states in one chunk', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const plan = planOrderPayments(
      world(order('o1')),
      [pay.failed(o, 'pi_a'), pay.created(o, 'pi_b'), pay.failed(o, 'pi_b'), pay.succeeded(o, 'pi_c')],
      recordingLog(),
    );
    expect(steps(plan.transitions)).toEqual([
      'o1:pending_payment>payment_failed',
      'o1:payment_failed>pending_payment',
      'o1:pending_payment>payment_failed',
      'o1:payment_failed>paid',
    ]);
    expect(plan.transitions[0].reason).toBe('insufficient_funds');
    // The failure's error stays recorded: the success does not clear it (as one event at a time).
    expect(plan.changed[0]).toMatchObject({
      payment_intent_id: 'pi_c',
      last_payment_error: expect.objectContaining({ code: 'card_declined' }),
    });
  });

  it('ignores a late failure of a paid order and honours a success after cancellation', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const c = { id: 'o2', total: 5000, currency: 'usd' };
    const plan = planOrderPayments(
      world(order('o1'), order('o2', { status: 'cancelled' })),
      [pay.succeeded(o, 'pi_a'), pay.failed(o, 'pi_b'), pay.succeeded(c, 'pi_c')],
      recordingLog(),
    );
    expect(steps(plan.transitions)).toEqual(['o1:pending_payment>paid', 'o2:cancelled>paid']);
    expect(plan.transitions[1].reason).toBe('paid_after_cancellation');
  });

  it("shows a cancelled order's PaymentIntent as canceled once payments cancelled it, without moving the order", () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const plan = planOrderPayments(
      world(order('o1', { status: 'cancelled', payment_id: 'pay_a', payment_intent_id: 'pi_a', payment_status: 'created' })),
      [pay.canceled(o, 'pi_a'), pay.canceled(o, 'pi_other')],
      recordingLog(),
    );
    expect(plan.transitions).toEqual([]);
    expect(plan.changed).toEqual([expect.objectContaining({ id: 'o1', status: 'cancelled', payment_id: 'pay_a', payment_status: 'canceled' })]);
  });

  it('marks an order refund_failed and lowers what is refunded when a refund fails after succeeding', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const plan = planOrderPayments(
      world(order('o1')),
      [
        pay.succeeded(o, 'pi_a'),
        pay.refunded(o, 'pi_a', { refundId: 're_1', totalRefunded: 1000 }),
        pay.refunded(o, 'pi_a', { refundId: 're_2', amount: 4000, totalRefunded: 5000 }),
        pay.refundFailed(o, 'pi_a', { refundId: 're_2', amount: 4000, totalRefunded: 1000 }),
      ],
      recordingLog(),
    );
    expect(steps(plan.transitions)).toEqual([
      'o1:pending_payment>paid',
      'o1:paid>partially_refunded',
      'o1:partially_refunded>refunded',
      'o1:refunded>refund_failed',
    ]);
    expect(plan.transitions[3].reason).toBe(
      'refund re_2 of 4000 usd failed (expired_or_canceled_card): the customer is still owed it',
    );
    expect(plan.changed[0]).toMatchObject({ status: 'refund_failed', amount_refunded: 1000 });
  });

  it('keeps the lower total of a failed refund when the refund itself arrives after its failure', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const first = pay.refunded(o, 'pi_a', { refundId: 're_1', totalRefunded: 1000, refundSeq: 1 });
    const second = pay.refunded(o, 'pi_a', { refundId: 're_2', amount: 4000, totalRefunded: 5000, refundSeq: 2 });
    const failure = pay.refundFailed(o, 'pi_a', { refundId: 're_2', amount: 4000, totalRefunded: 1000, refundSeq: 3 });
    const log = recordingLog();
    // Two payments replicas published the failure before the refund it undoes.
    const plan = planOrderPayments(world(order('o1')), [pay.succeeded(o, 'pi_a'), first, failure, second], log);
    expect(steps(plan.transitions)).toEqual([
      'o1:pending_payment>paid',
      'o1:paid>partially_refunded',
      'o1:partially_refunded>refund_failed',
    ]);
    expect(plan.changed[0]).toMatchObject({ status: 'refund_failed', amount_refunded: 1000, refund_seq: 3 });
    expect(log.lines.some((l) => l.msg === 'older refund fact; ignored')).toBe(true);

    // In order, it ends with the same total and status.
    const inOrder = planOrderPayments(world(order('o1')), [pay.succeeded(o, 'pi_a'), first, second, failure], recordingLog());
    expect(inOrder.changed[0]).toMatchObject({ status: 'refund_failed', amount_refunded: 1000, refund_seq: 3 });
  });

  it('marks a paid order refund_failed when the failure of its only refund arrives before the refund', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const refund = pay.refunded(o, 'pi_a', { refundId: 're_1', totalRefunded: 5000, refundSeq: 1 });
    const failure = pay.refundFailed(o, 'pi_a', { refundId: 're_1', amount: 5000, totalRefunded: 0, refundSeq: 2 });
    const plan = planOrderPayments(world(order('o1')), [pay.succeeded(o, 'pi_a'), failure, refund], recordingLog());
    expect(steps(plan.transitions)).toEqual(['o1:pending_payment>paid', 'o1:paid>refund_failed']);
    expect(plan.changed[0]).toMatchObject({ status: 'refund_failed', amount_refunded: 0, refund_seq: 2 });
  });

  it('leaves an order paid by one payment as it is when a duplicate payment of it is refunded, in either order', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const paid = pay.succeeded(o, 'pi_a');
    const duplicate = pay.succeeded(o, 'pi_b');
    const duplicateRefunded = pay.refunded(o, 'pi_b', { refundId: 're_b', totalRefunded: 5000, refundSeq: 1 });
    const partlyRefunded = pay.refunded(o, 'pi_a', { refundId: 're_a', totalRefunded: 1000, refundSeq: 1 });
    for (const events of [
      [paid, duplicate, duplicateRefunded, partlyRefunded],
      [paid, duplicate, partlyRefunded, duplicateRefunded],
    ]) {
      const log = recordingLog();
      const plan = planOrderPayments(world(order('o1')), events, log);
      expect(steps(plan.transitions)).toEqual(['o1:pending_payment>paid', 'o1:paid>partially_refunded']);
      expect(plan.changed[0]).toMatchObject({ status: 'partially_refunded', amount_refunded: 1000, payment_id: 'pay_a' });
      expect(log.lines.map((l) => l.msg)).toContain(
        'refund fact of another payment than the one that paid the order; the order keeps its own refund state',
      );
    }
  });

  it('announces a second payment that succeeded for a paid order once, naming the payment that keeps the order', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const paid = pay.succeeded(o, 'pi_a');
    const duplicate = pay.succeeded(o, 'pi_b');
    const plan = planOrderPayments(world(order('o1')), [paid, duplicate, republished(paid)], recordingLog());
    expect(steps(plan.transitions)).toEqual(['o1:pending_payment>paid']);
    expect(plan.changed[0]).toMatchObject({ status: 'paid', payment_id: 'pay_a', payment_intent_id: 'pi_a' });
    expect(plan.duplicates.map(({ cause, ...d }) => ({ ...d, cause: cause.id }))).toEqual([
      { orderId: 'o1', paymentId: 'pay_b', paymentIntentId: 'pi_b', keptPaymentId: 'pay_a', amount: 5000, currency: 'usd', cause: duplicate.id },
    ]);
  });

  it('refunds an order whose refund failed once a new refund succeeds', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const orders = world(
      order('o1', { status: 'refund_failed', payment_id: 'pay_a', payment_status: 'succeeded', amount_captured: 5000, amount_refunded: 1000 }),
    );
    const plan = planOrderPayments(
      orders,
      [pay.refunded(o, 'pi_a', { refundId: 're_3', amount: 4000, totalRefunded: 5000 })],
      recordingLog(),
    );
    expect(steps(plan.transitions)).toEqual(['o1:refund_failed>refunded']);
    expect(plan.changed[0]).toMatchObject({ amount_refunded: 5000 });
  });

  it('records a dispute as open, then its outcome, and a repeated opening does not undo the outcome', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const opened = pay.disputed(o, 'pi_a', 5000);
    const plan = planOrderPayments(
      world(order('o1', { status: 'paid', payment_status: 'succeeded' })),
      [opened, pay.disputeClosed(o, 'pi_a', 'won'), republished(opened)],
      recordingLog(),
    );
    expect(plan.transitions).toEqual([]); // a dispute is not an order state
    expect(plan.changed[0]).toMatchObject({ status: 'paid', dispute_id: 'dp_a', dispute_status: 'won' });
  });

  it('ends in the same state and transitions as one event at a time, for every ordering of a mixed chunk', () => {
    const o = { id: 'o1', total: 5000, currency: 'usd' };
    const p = { id: 'o2', total: 3000, currency: 'usd' };
    const base = [
      pay.created(o, 'pi_a'),
      pay.failed(o, 'pi_a'),
      pay.succeeded(o, 'pi_b'),
      pay.refunded(o, 'pi_b', { refundId: 're_1', totalRefunded: 1000 }),
      pay.disputed(o, 'pi_b', 500),
      pay.succeeded(p, 'pi_c'),
      pay.refunded(p, 'pi_c', { refundId: 're_2', totalRefunded: 3000 }),
    ];
    for (let seed = 0; seed < 200; seed++) {
      const events = shuffled(base, seed);
      const fresh = () => world(order('o1'), order('o2'));
      const chunk = fresh();
      const plan = planOrderPayments(chunk, events, recordingLog());
      const single = fresh();
      expect(steps(plan.transitions)).toEqual(steps(oneByOne(single, events)));
      expect(chunk).toEqual(single);
    }
  });
});

function shuffled<T>(items: T[], seed: number): T[] {
  const a = [...items];
  let s = seed + 1;
  const rnd = () => ((s = (s * 16807) % 2147483647) - 1) / 2147483646;
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
