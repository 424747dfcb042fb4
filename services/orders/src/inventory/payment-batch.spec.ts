import { pay, recordingLog, republished } from '../shared/payment-events.fixtures';
import {
  planInventoryPayments,
  stockKey,
  type HoldLineState,
  type HoldState,
  type InventorySnapshot,
  type ReturnState,
} from './payment-batch';

const A = { id: 'o_a', total: 3000, currency: 'eur' };
const B = { id: 'o_b', total: 1000, currency: 'eur' };

function snapshot(
  holds: (Omit<HoldState, 'currency' | 'total'> & {
    lines: Omit<HoldLineState, 'returned'>[];
    total: number;
  })[],
  stock: { sku: string; location: string; onHand: number; reserved: number }[],
  returns: ReturnState[] = [],
): InventorySnapshot {
  const s: InventorySnapshot = { holds: new Map(), lines: new Map(), stock: new Map(), returns };
  for (const { lines, ...h } of holds) {
    s.holds.set(h.order_id, { ...h, currency: 'eur' });
    s.lines.set(
      h.order_id,
      lines.map((l) => ({ ...l, returned: 0 })),
    );
  }
  for (const r of stock)
    s.stock.set(stockKey(r.sku, r.location), {
      sku: r.sku,
      location_id: r.location,
      on_hand: r.onHand,
      reserved: r.reserved,
      exists: true,
    });
  return s;
}

const twoOpenOrders = () =>
  snapshot(
    [
      {
        order_id: 'o_a',
        location_id: 'paris',
        status: 'open',
        total: 3000,
        lines: [{ sku: 'MUG', quantity: 3 }],
      },
      {
        order_id: 'o_b',
        location_id: 'paris',
        status: 'open',
        total: 1000,
        lines: [{ sku: 'MUG', quantity: 1 }],
      },
    ],
    [{ sku: 'MUG', location: 'paris', onHand: 10, reserved: 4 }],
  );

describe('inventory: a chunk of payment events', () => {
  it('commits two orders of one SKU and reports the running stock counts one event at a time would', () => {
    const s = twoOpenOrders();
    const ok = pay.succeeded(A, 'pi_a');
    const plan = planInventoryPayments(s, [ok, republished(ok), pay.succeeded(B, 'pi_b')], recordingLog());
    expect(plan.events.map((e) => e.data)).toEqual([
      {
        sku: 'MUG',
        locationId: 'paris',
        change: 'committed',
        quantity: 3,
        onHand: 7,
        reserved: 1,
        orderId: 'o_a',
      },
      {
        sku: 'MUG',
        locationId: 'paris',
        change: 'committed',
        quantity: 1,
        onHand: 6,
        reserved: 0,
        orderId: 'o_b',
      },
    ]);
    expect(plan.events[0].cause).toBe(ok);
    expect(plan.stock).toEqual([expect.objectContaining({ on_hand: 6, reserved: 0 })]);
    expect(plan.holds.map((h) => [h.order_id, h.status])).toEqual([
      ['o_a', 'committed'],
      ['o_b', 'committed'],
    ]);
  });

  it('flags a mismatched payment (stock stays held) and skips a success for an order without a hold', () => {
    const s = twoOpenOrders();
    const log = recordingLog();
    const plan = planInventoryPayments(
      s,
      [
        pay.succeeded(A, 'pi_a', { amount: 2999 }),
        pay.succeeded({ id: 'o_x', total: 1, currency: 'eur' }, 'pi_x'),
        pay.succeeded(A, 'pi_a'),
      ],
      log,
    );
    expect(plan.events).toEqual([]);
    expect(plan.holds).toEqual([expect.objectContaining({ order_id: 'o_a', status: 'flagged' })]);
    expect(log.lines.map((l) => l.msg)).toEqual([
      'payment succeeded for an order without a stock hold; ignored',
    ]);
  });

  it('restocks a return that overtook its success once the sale commits, once per refund id, at the return store', () => {
    const s = twoOpenOrders();
    s.stock.set(stockKey('MUG', 'nyc'), {
      sku: 'MUG',
      location_id: 'nyc',
      on_hand: 0,
      reserved: 0,
      exists: false,
    });
    const refund = pay.refunded(A, 'pi_a', {
      refundId: 're_1',
      totalRefunded: 1000,
      returnedItems: [{ sku: 'MUG', quantity: 1 }],
      returnStoreId: 'nyc',
    });
    const plan = planInventoryPayments(
      s,
      [refund, republished(refund), pay.succeeded(A, 'pi_a')],
      recordingLog(),
    );
    expect(
      plan.events.map((e) => [e.data.change, e.data.locationId, e.data.quantity, e.data.onHand]),
    ).toEqual([
      ['committed', 'paris', 3, 7],
      ['restocked', 'nyc', 1, 1],
    ]);
    expect(plan.returns).toEqual([
      expect.objectContaining({ refund_id: 're_1', status: 'restocked', isNew: true }),
    ]);
    expect(plan.lines).toEqual([{ order_id: 'o_a', sku: 'MUG', returned: 1 }]);
    expect(plan.stock.find((r) => r.location_id === 'nyc')).toMatchObject({ created: true, on_hand: 1 });
  });

  it('never restocks more than was sold, whatever the returns say', () => {
    const s = twoOpenOrders();
    const events = [
      pay.succeeded(A, 'pi_a'),
      pay.refunded(A, 'pi_a', {
        refundId: 're_1',
        totalRefunded: 2000,
        returnedItems: [
          { sku: 'MUG', quantity: 2 },
          { sku: 'HAT', quantity: 1 },
        ],
      }),
      pay.refunded(A, 'pi_a', {
        refundId: 're_2',
        totalRefunded: 3000,
        returnedItems: [{ sku: 'MUG', quantity: 2 }],
      }),
    ];
    const plan = planInventoryPayments(s, events, recordingLog());
    expect(plan.events.filter((e) => e.data.change === 'restocked').map((e) => e.data.quantity)).toEqual([
      2, 1,
    ]);
    expect(plan.lines).toEqual([{ order_id: 'o_a', sku: 'MUG', returned: 3 }]);
  });

  it('re-takes the stock of a hold released by expiry when it is all there, else records a shortfall', () => {
    const s = snapshot(
      [
        {
          order_id: 'o_a',
          location_id: 'paris',
          status: 'released',
          total: 3000,
          lines: [{ sku: 'MUG', quantity: 3 }],
        },
        {
          order_id: 'o_b',
          location_id: 'paris',
          status: 'released',
          total: 1000,
          lines: [{ sku: 'MUG', quantity: 1 }],
        },
      ],
      [{ sku: 'MUG', location: 'paris', onHand: 3, reserved: 0 }],
    );
    const plan = planInventoryPayments(
      s,
      [pay.succeeded(A, 'pi_a'), pay.succeeded(B, 'pi_b')],
      recordingLog(),
    );
    expect(plan.events.map((e) => [e.data.change, e.data.onHand, e.data.reserved])).toEqual([
      ['committed', 0, 0],
    ]);
    expect(plan.holds.map((h) => [h.order_id, h.status])).toEqual([
      ['o_a', 'committed'],
      ['o_b', 'shortfall'],
    ]);
    expect(plan.shortfalls).toBe(1);
  });

  it('releases a flagged hold when its mismatched payment is fully refunded', () => {
    const s = twoOpenOrders();
    const plan = planInventoryPayments(
      s,
      [
        pay.succeeded(B, 'pi_b', { amount: 999 }),
        pay.refunded(B, 'pi_b', { refundId: 're_b', totalRefunded: 1000 }),
      ],
      recordingLog(),
    );
    expect(plan.events.map((e) => [e.data.change, e.data.reserved])).toEqual([['released', 3]]);
    expect(plan.holds).toEqual([expect.objectContaining({ order_id: 'o_b', status: 'flagged_released' })]);
  });

  it('takes no stock for a matching payment after a mismatched one decided the order, whether its hold was open or released', () => {
    const s = twoOpenOrders();
    s.holds.get('o_a')!.status = 'released'; // expired, its reservation given back
    s.stock.get(stockKey('MUG', 'paris'))!.reserved = 1;
    const plan = planInventoryPayments(
      s,
      [
        // o_a: released, then paid short, then paid in full by a second payment (a duplicate orders refunds)
        pay.succeeded(A, 'pi_a1', { amount: 2000 }),
        pay.succeeded(A, 'pi_a2'),
        // o_b: flagged, its mismatched payment refunded in full (stock released), then paid in full by another
        pay.succeeded(B, 'pi_b1', { amount: 999 }),
        pay.refunded(B, 'pi_b1', { refundId: 're_b1', totalRefunded: 1000 }),
        pay.succeeded(B, 'pi_b2'),
      ],
      recordingLog(),
    );
    expect(plan.events.map((e) => [e.data.orderId, e.data.change])).toEqual([['o_b', 'released']]);
    expect(s.stock.get(stockKey('MUG', 'paris'))).toMatchObject({ on_hand: 10, reserved: 0 });
    expect(plan.holds.map((h) => [h.order_id, h.status])).toEqual([
      ['o_a', 'flagged_released'],
      ['o_b', 'flagged_released'],
    ]);
  });

  it('refuses a chunk that would take stock below what its CHECKs allow', () => {
    const s = twoOpenOrders();
    s.stock.get(stockKey('MUG', 'paris'))!.reserved = 2;
    expect(() => planInventoryPayments(s, [pay.succeeded(A, 'pi_a')], recordingLog())).toThrow(/CHECK/);
  });
});
