import { pay, recordingLog, republished } from '../shared/payment-events.fixtures';
import { ordersNeedingReversals, planLoyaltyPayments, type LoyaltyOrderState } from './payment-batch';

const O = { id: 'o1', total: 1250, currency: 'usd' };

const order = (over: Partial<LoyaltyOrderState> = {}): LoyaltyOrderState => ({
  order_id: 'o1',
  customer_id: 'cus_1',
  currency: 'usd',
  expected_total: 1250,
  payment_id: null,
  paid_amount: null,
  mismatch: false,
  accrued_points: null,
  total_refunded: 0,
  disputed_amount: 0,
  dispute_outcome: null,
  refund_seq: 0,
  ...over,
});

function plan(events: ReturnType<typeof pay.succeeded>[], o = order(), reversedSoFar?: number) {
  const orders = new Map([[o.order_id, o]]);
  const reversed = new Map<string, number>();
  for (const id of ordersNeedingReversals(orders, events)) reversed.set(id, reversedSoFar ?? 0);
  return planLoyaltyPayments(orders, reversed, events, 1, recordingLog());
}

describe('loyalty: a chunk of payment events', () => {
  it('accrues once for one success delivered under several message ids', () => {
    const ok = pay.succeeded(O, 'pi_a');
    const p = plan([ok, republished(ok), pay.succeeded(O, 'pi_b')]);
    expect(p.entries.map((e) => [e.reason, e.sourceRef, e.points])).toEqual([['accrual', 'pay_a', 12]]);
    expect(p.orders).toEqual([
      expect.objectContaining({ accrued_points: 12, paid_amount: 1250, payment_id: 'pay_a' }),
    ]);
  });

  it('reverses pro rata in the same chunk as the accrual, never more than accrued', () => {
    const refund = pay.refunded(O, 'pi_a', { refundId: 're_1', totalRefunded: 625 });
    const dispute = pay.disputed(O, 'pi_a', 1250);
    const p = plan([pay.succeeded(O, 'pi_a'), refund, dispute]);
    expect(p.entries.map((e) => [e.reason, e.points, e.sourceRef])).toEqual([
      ['accrual', 12, 'pay_a'],
      ['refund_reversal', -6, refund.id],
      ['dispute_reversal', -6, dispute.id],
    ]);
  });

  it('reverses a refund that overtook its success when the success comes, counting what was reversed before', () => {
    const refund = pay.refunded(O, 'pi_a', { refundId: 're_1', totalRefunded: 1250 });
    const ok = pay.succeeded(O, 'pi_a');
    const p = plan([refund, ok]);
    expect(p.entries.map((e) => [e.reason, e.points, e.sourceRef])).toEqual([
      ['accrual', 12, 'pay_a'],
      ['refund_reversal', -12, ok.id],
    ]);
    // Already accrued and partly reversed before this chunk: only the difference to the target is written.
    const later = plan(
      [pay.refunded(O, 'pi_a', { refundId: 're_2', totalRefunded: 1250 })],
      order({ accrued_points: 12, paid_amount: 1250, total_refunded: 625 }),
      6,
    );
    expect(later.entries.map((e) => e.points)).toEqual([-6]);
  });

  it('gives back the points of a refund that failed after succeeding, and only those', () => {
    const first = pay.refunded(O, 'pi_a', { refundId: 're_1', totalRefunded: 250 });
    const second = pay.refunded(O, 'pi_a', { refundId: 're_2', amount: 1000, totalRefunded: 1250 });
    const failed = pay.refundFailed(O, 'pi_a', { refundId: 're_2', amount: 1000, totalRefunded: 250 });
    const p = plan([pay.succeeded(O, 'pi_a'), first, second, failed]);
    expect(p.entries.map((e) => [e.reason, e.points, e.sourceRef])).toEqual([
      ['accrual', 12, 'pay_a'],
      ['refund_reversal', -2, first.id],
      ['refund_reversal', -10, second.id],
      ['refund_reversal', 10, failed.id],
    ]);
    expect(p.entries.reduce((sum, e) => sum + e.points, 0)).toBe(10); // 12 × (1 − 250/1250), floored reversal
    expect(p.orders[0]).toMatchObject({ total_refunded: 250 });
    // In a later chunk, from what the ledger says was reversed: the same credit.
    const later = plan(
      [pay.refundFailed(O, 'pi_a', { refundId: 're_2', amount: 1000, totalRefunded: 250 })],
      order({ accrued_points: 12, paid_amount: 1250, total_refunded: 1250 }),
      12,
    );
    expect(later.entries.map((e) => e.points)).toEqual([10]);
  });

  it('takes back only the points of refunds that stayed refunded when a refund arrives after its own failure', () => {
    const first = pay.refunded(O, 'pi_a', { refundId: 're_1', totalRefunded: 250, refundSeq: 1 });
    const second = pay.refunded(O, 'pi_a', { refundId: 're_2', amount: 1000, totalRefunded: 1250, refundSeq: 2 });
    const failed = pay.refundFailed(O, 'pi_a', { refundId: 're_2', amount: 1000, totalRefunded: 250, refundSeq: 3 });
    const p = plan([pay.succeeded(O, 'pi_a'), first, failed, second]);
    expect(p.entries.map((e) => [e.reason, e.points, e.sourceRef])).toEqual([
      ['accrual', 12, 'pay_a'],
      ['refund_reversal', -2, first.id],
    ]);
    expect(p.orders[0]).toMatchObject({ total_refunded: 250, refund_seq: 3 });
    // The late refund in a chunk of its own changes nothing either.
    const later = plan([second], order({ accrued_points: 12, paid_amount: 1250, total_refunded: 250, refund_seq: 3 }), 2);
    expect(later.entries).toEqual([]);
  });

  it('takes no points back when a duplicate payment of the order is refunded', () => {
    const duplicateRefunded = pay.refunded(O, 'pi_b', { refundId: 're_b', totalRefunded: 1250, refundSeq: 1 });
    const p = plan([pay.succeeded(O, 'pi_a'), pay.succeeded(O, 'pi_b'), duplicateRefunded]);
    expect(p.entries.map((e) => [e.reason, e.points, e.sourceRef])).toEqual([['accrual', 12, 'pay_a']]);
    expect(p.orders[0]).toMatchObject({ payment_id: 'pay_a', total_refunded: 0 });
  });

  it('gives the points of a dispute back when the merchant wins it, and keeps them taken when it is lost', () => {
    const opened = pay.disputed(O, 'pi_a', 1250);
    const won = pay.disputeClosed(O, 'pi_a', 'won');
    const p = plan([pay.succeeded(O, 'pi_a'), opened, won, republished(opened)]);
    expect(p.entries.map((e) => [e.reason, e.points, e.sourceRef])).toEqual([
      ['accrual', 12, 'pay_a'],
      ['dispute_reversal', -12, opened.id],
      ['dispute_reversal', 12, won.id],
    ]);
    expect(p.orders[0]).toMatchObject({ disputed_amount: 0, dispute_outcome: 'won' });
    const lost = plan(
      [pay.disputeClosed(O, 'pi_a', 'lost')],
      order({ accrued_points: 12, paid_amount: 1250, disputed_amount: 1250 }),
      12,
    );
    expect(lost.entries).toEqual([]);
    expect(lost.orders[0]).toMatchObject({ disputed_amount: 1250, dispute_outcome: 'lost' });
  });

  it('gives no points for a mismatched payment, nor for a later matching one', () => {
    const p = plan([pay.succeeded(O, 'pi_a', { amount: 1249 }), pay.succeeded(O, 'pi_b')]);
    expect(p.entries).toEqual([]);
    expect(p.orders).toEqual([expect.objectContaining({ mismatch: true, accrued_points: null })]);
  });

  it('ignores events of orders it does not know (walk-in sales)', () => {
    const p = plan([pay.succeeded({ id: 'o_walkin', total: 100, currency: 'usd' }, 'pi_w')]);
    expect(p).toEqual({ orders: [], entries: [] });
  });
});
