import { TRANSITIONS, canTransition, type OrderStatus } from './order-status';

const all = Object.keys(TRANSITIONS) as OrderStatus[];

describe('order transition table', () => {
  it('moves a refunded order only when its refund fails afterwards', () => {
    for (const to of all) expect(canTransition('refunded', to, 'ship')).toBe(to === 'refund_failed');
  });

  it('keeps a failed refund visible: no way back to paid, only a new refund or staff carrying on', () => {
    expect(canTransition('partially_refunded', 'refund_failed', 'ship')).toBe(true);
    expect(canTransition('refund_failed', 'paid', 'ship')).toBe(false);
    expect(canTransition('refund_failed', 'refunded', 'ship')).toBe(true);
    expect(canTransition('refund_failed', 'completed', 'pickup')).toBe(true);
    expect(canTransition('completed', 'refund_failed', 'ship')).toBe(true); // refunded in part, then completed
    expect(canTransition('paid', 'refund_failed', 'ship')).toBe(true); // the failure overtook its refund
    for (const s of ['pending_payment', 'payment_failed', 'cancelled', 'payment_mismatch'] as OrderStatus[])
      expect(canTransition(s, 'refund_failed', 'ship')).toBe(false);
  });

  it('keeps an order whose payment failed payable: back to pending on a new attempt, or straight to paid', () => {
    expect(canTransition('payment_failed', 'pending_payment', 'ship')).toBe(true);
    expect(canTransition('payment_failed', 'paid', 'ship')).toBe(true);
  });

  it('refuses to move a paid order back to unpaid states (a late failure event cannot undo a success)', () => {
    for (const s of [
      'paid',
      'ready_for_pickup',
      'fulfilled',
      'completed',
      'partially_refunded',
      'refunded',
    ] as OrderStatus[]) {
      expect(canTransition(s, 'payment_failed', 'ship')).toBe(false);
      expect(canTransition(s, 'pending_payment', 'ship')).toBe(false);
    }
  });

  it('never turns a flagged payment mismatch into paid', () => {
    expect(canTransition('payment_mismatch', 'paid', 'ship')).toBe(false);
    expect(canTransition('payment_mismatch', 'refunded', 'ship')).toBe(true);
  });

  it('only lets pickup orders become ready for pickup, and only ship or in-store orders be fulfilled', () => {
    expect(canTransition('paid', 'ready_for_pickup', 'pickup')).toBe(true);
    expect(canTransition('paid', 'ready_for_pickup', 'ship')).toBe(false);
    expect(canTransition('paid', 'fulfilled', 'pickup')).toBe(false);
    expect(canTransition('paid', 'fulfilled', 'in_store')).toBe(true);
    expect(canTransition('ready_for_pickup', 'completed', 'pickup')).toBe(true);
  });

  it('does not let staff cancel an order once it is paid (that is a refund)', () => {
    for (const s of ['paid', 'ready_for_pickup', 'fulfilled', 'completed'] as OrderStatus[]) {
      expect(canTransition(s, 'cancelled', 'pickup')).toBe(false);
    }
    expect(canTransition('pending_payment', 'cancelled', 'pickup')).toBe(true);
  });

  it('only names statuses of the contract as targets', () => {
    for (const targets of Object.values(TRANSITIONS)) for (const t of targets) expect(all).toContain(t);
  });
});
