import { refundRequestId } from './orders.service';

describe('refundRequestId', () => {
  it('keeps the id refunds always had when it fits, and tells apart long keys that share their first characters', () => {
    expect(refundRequestId('mgr_1', 'refund-42')).toBe('gw.mgr_1.refund-42');
    const long = 'k'.repeat(200);
    const a = refundRequestId('mgr_1', `${long}-a`);
    const b = refundRequestId('mgr_1', `${long}-b`);
    expect(a).not.toBe(b);
    for (const id of [a, b, refundRequestId('auth0|5f1c', 'refund-42')]) expect(id).toMatch(/^[A-Za-z0-9_.:-]{1,128}$/);
  });

  it("never gives two managers' refunds one id, whatever separators their subs and keys hold", () => {
    expect(refundRequestId('mgr.a', 'b')).not.toBe(refundRequestId('mgr', 'a.b'));
    expect(refundRequestId('mgr:a', 'b')).not.toBe(refundRequestId('mgr', 'a:b'));
  });
});
