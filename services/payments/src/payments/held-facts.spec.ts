import {
  PaymentDisputed,
  PaymentRefundFailed,
  PaymentRefunded,
  type MessageDefinition,
} from '@omnipay/contracts';
import { createEnvelope, type OutboxRow } from '@omnipay/messaging';
import { asReleased } from './held-facts';

const ref = {
  paymentId: 'pay_1',
  orderId: 'ord_1',
  paymentIntentId: 'pi_1',
  channel: 'web',
  storeId: null,
  customerId: null,
};

function row(definition: MessageDefinition, data: Record<string, unknown>): OutboxRow {
  const envelope = createEnvelope(definition, data as never, 'payments');
  return {
    id: envelope.id,
    topic: definition.topic,
    key: 'ord_1',
    payload: JSON.stringify(envelope),
    headers: { h: '1' },
  };
}
const dataOf = (r: OutboxRow | undefined) => (JSON.parse(r!.payload) as { data: Record<string, unknown> }).data;

// Decided before the payment's success: the order's 2000 taken as captured.
const refunded = row(PaymentRefunded, {
  ...ref,
  refundId: 're_1',
  amount: 1200,
  totalRefunded: 1200,
  refundSeq: 1,
  amountCaptured: 2000,
  currency: 'usd',
  fullyRefunded: false,
  reason: null,
});

describe('held facts as released when the payment is final', () => {
  it('makes a refund of everything a partial capture took a full refund', () => {
    const out = asReleased(refunded, 1200);
    expect(dataOf(out)).toMatchObject({
      amountCaptured: 1200,
      totalRefunded: 1200,
      fullyRefunded: true,
      amount: 1200,
    });
    expect(out).toMatchObject({
      id: refunded.id,
      topic: refunded.topic,
      key: refunded.key,
      headers: refunded.headers,
    });
    // Still a valid message of its kind.
    expect(() => PaymentRefunded.schema.parse(dataOf(out))).not.toThrow();
  });

  it('keeps a partial refund of a partial capture partial', () => {
    expect(dataOf(asReleased(refunded, 1500))).toMatchObject({
      amountCaptured: 1500,
      totalRefunded: 1200,
      fullyRefunded: false,
    });
  });

  it('never announces more refunded than was captured', () => {
    expect(dataOf(asReleased(refunded, 1000))).toMatchObject({
      amountCaptured: 1000,
      totalRefunded: 1000,
      fullyRefunded: true,
    });
  });

  it('restates a failed refund without giving it a fullyRefunded flag', () => {
    const failed = row(PaymentRefundFailed, {
      ...ref,
      refundId: 're_1',
      amount: 1200,
      totalRefunded: 0,
      refundSeq: 2,
      amountCaptured: 2000,
      currency: 'usd',
      failureReason: 'declined',
    });
    const data = dataOf(asReleased(failed, 1200));
    expect(data).toMatchObject({ amountCaptured: 1200, totalRefunded: 0 });
    expect(data).not.toHaveProperty('fullyRefunded');
  });

  it('drops the refund facts of a payment that captured nothing (an authorisation released by a cancel)', () => {
    expect(asReleased(refunded, 0)).toBeUndefined();
  });

  it('leaves facts alone when the amount was right or the fact carries no amount captured', () => {
    expect(asReleased(refunded, 2000)).toBe(refunded);
    const disputed = row(PaymentDisputed, {
      ...ref,
      disputeId: 'dp_1',
      amount: 2000,
      currency: 'usd',
      reason: null,
    });
    expect(asReleased(disputed, 1200)).toBe(disputed);
    expect(asReleased(disputed, 0)).toBe(disputed);
  });
});
