import {
  PAYMENT_STATUSES,
  TRANSITIONS,
  decide,
  refundStatusAdvances,
  statusOfIntent,
  type PaymentStatus,
  type PaymentStateView,
} from './payment-state';

const at = (status: PaymentStatus, cycle = 0, statusObservedAt = 100): PaymentStateView => ({
  status,
  cycle,
  statusObservedAt,
});

describe('payment state machine', () => {
  it('accepts exactly the transitions of its table, for every pair of statuses', () => {
    for (const from of PAYMENT_STATUSES) {
      for (const to of PAYMENT_STATUSES) {
        const d = decide(at(from), { status: to, observedAt: 200, failureKey: 'ch_x' });
        const expected = TRANSITIONS[from].includes(to) && (from !== to || to === 'failed');
        expect({ from, to, apply: d.apply }).toEqual({ from, to, apply: expected });
      }
    }
  });

  it('never leaves succeeded or canceled, whatever arrives late', () => {
    for (const final of ['succeeded', 'canceled'] as const) {
      for (const to of PAYMENT_STATUSES)
        expect(decide(at(final), { status: to, observedAt: 10_000 }).apply).toBe(false);
    }
  });

  it('ignores a late requires_action or processing after succeeded', () => {
    expect(decide(at('succeeded'), { status: 'requires_action', observedAt: 1 })).toEqual({
      apply: false,
      reason: 'not_allowed',
    });
    expect(decide(at('succeeded'), { status: 'processing', observedAt: 1 })).toEqual({
      apply: false,
      reason: 'not_allowed',
    });
  });

  it('reaches the same final state for any order of one 3-D Secure payment events', () => {
    const events: PaymentStatus[] = ['requires_payment_method', 'requires_action', 'succeeded'];
    const perms = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const p of perms) {
      let state = at('creating');
      const keys = new Set<string>();
      for (const i of [...p, ...p, ...p]) {
        const d = decide(state, { status: events[i], observedAt: 100 + i });
        if (d.apply && !keys.has(d.transitionKey)) {
          keys.add(d.transitionKey);
          state = { status: d.to, cycle: d.cycle, statusObservedAt: 100 + i };
        }
      }
      expect(state.status).toBe('succeeded');
      expect([...keys].filter((k) => k === 'succeeded')).toHaveLength(1);
    }
  });

  it('treats a decline as a new cycle, and a redelivered decline as the same one', () => {
    const first = decide(at('requires_payment_method'), {
      status: 'failed',
      observedAt: 100,
      failureKey: 'ch_1',
    });
    expect(first).toEqual({ apply: true, to: 'failed', cycle: 1, transitionKey: 'failed:ch_1' });
    const again = decide(at('failed', 1), { status: 'failed', observedAt: 100, failureKey: 'ch_1' });
    expect(again.apply && again.transitionKey).toBe('failed:ch_1'); // same key: the caller's key table drops it
    const retry = decide(at('failed', 1, 100), { status: 'requires_action', observedAt: 105 });
    expect(retry).toEqual({
      apply: true,
      to: 'requires_action',
      cycle: 1,
      transitionKey: 'requires_action:1',
    });
  });

  it('drops a requires_action observed before the failure it would undo', () => {
    expect(decide(at('failed', 1, 100), { status: 'requires_action', observedAt: 99 })).toEqual({
      apply: false,
      reason: 'stale_after_failure',
    });
    expect(decide(at('failed', 1, 100), { status: 'requires_action', observedAt: 100 })).toEqual({
      apply: false,
      reason: 'stale_after_failure',
    });
    // success after a failure is always real, even within the same second
    expect(decide(at('failed', 1, 100), { status: 'succeeded', observedAt: 100 }).apply).toBe(true);
  });

  it('lets an authorised payment only be captured or canceled', () => {
    expect(decide(at('requires_capture'), { status: 'failed', observedAt: 200 }).apply).toBe(false);
    expect(decide(at('requires_capture'), { status: 'requires_action', observedAt: 200 }).apply).toBe(false);
    expect(decide(at('requires_capture'), { status: 'succeeded', observedAt: 200 })).toMatchObject({
      apply: true,
      transitionKey: 'succeeded',
    });
  });

  it('maps Stripe statuses, a PaymentIntent with a last error back at requires_payment_method being failed', () => {
    expect(statusOfIntent({ status: 'requires_payment_method', last_payment_error: null })).toBe(
      'requires_payment_method',
    );
    expect(
      statusOfIntent({ status: 'requires_payment_method', last_payment_error: { code: 'card_declined' } }),
    ).toBe('failed');
    expect(statusOfIntent({ status: 'requires_capture' })).toBe('requires_capture');
    expect(() => statusOfIntent({ status: 'teleported' })).toThrow();
  });

  it('moves refund statuses only forward', () => {
    expect(refundStatusAdvances(null, 'pending')).toBe(true);
    expect(refundStatusAdvances('pending', 'succeeded')).toBe(true);
    expect(refundStatusAdvances('succeeded', 'pending')).toBe(false);
    expect(refundStatusAdvances('succeeded', 'failed')).toBe(true);
    expect(refundStatusAdvances('failed', 'succeeded')).toBe(false);
  });
});
