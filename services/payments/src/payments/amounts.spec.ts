import { checkCapture, checkRefund, refundable } from './amounts';

describe('refund and capture amounts', () => {
  it('refunds everything left when no amount is given', () => {
    expect(checkRefund(undefined, 700, 'usd')).toEqual({ ok: true, amount: 700 });
  });

  it('refuses a refund above what is left, naming both amounts', () => {
    const r = checkRefund(701, 700, 'usd');
    expect(r).toMatchObject({ ok: false, code: 'refund_exceeds_captured' });
    expect(!r.ok && r.message).toContain('700 usd');
  });

  it('refuses any refund of a fully refunded payment', () => {
    expect(checkRefund(1, 0, 'usd')).toMatchObject({ ok: false, code: 'nothing_to_refund' });
  });

  it('counts the larger of Stripe total and our own promised refunds', () => {
    expect(refundable({ amountReceived: 1000, stripeRefunded: 300, reserved: 500, external: 0 })).toBe(500);
    expect(refundable({ amountReceived: 1000, stripeRefunded: 800, reserved: 500, external: 0 })).toBe(200);
    expect(refundable({ amountReceived: 1000, stripeRefunded: 0, reserved: 400, external: 200 })).toBe(400);
    expect(refundable({ amountReceived: 1000, stripeRefunded: 1200, reserved: 0, external: 0 })).toBe(0);
  });

  it('allows a partial capture and refuses capturing more than authorised', () => {
    expect(checkCapture(500, 1000)).toEqual({ ok: true });
    expect(checkCapture(undefined, 1000)).toEqual({ ok: true });
    expect(checkCapture(1001, 1000).ok).toBe(false);
  });
});
