import { HttpException } from '@nestjs/common';
import { parsePlaceOrder, staffActionSchema } from './place-order.dto';

const valid = {
  channel: 'web',
  storeId: 'store_berlin',
  customerId: 'cus_1',
  fulfilment: 'pickup',
  currency: 'eur',
  lines: [{ sku: 'MUG-WHT', quantity: 2 }],
};

function rejection(body: unknown): {
  status: number;
  body: { error: string; message: string; details?: { fields?: string[] } };
} {
  try {
    parsePlaceOrder(body);
  } catch (e) {
    if (e instanceof HttpException) return { status: e.getStatus(), body: e.getResponse() as never };
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('place-order request', () => {
  it('accepts products and quantities only', () => {
    expect(parsePlaceOrder(valid)).toEqual(valid);
  });

  it.each([
    ['amount', { ...valid, amount: 1 }, 'amount'],
    ['total', { ...valid, total: 1 }, 'total'],
    [
      'unitAmount on a line',
      { ...valid, lines: [{ sku: 'MUG-WHT', quantity: 1, unitAmount: 1 }] },
      'lines[0].unitAmount',
    ],
    ['price on a line', { ...valid, lines: [{ sku: 'MUG-WHT', quantity: 1, price: 1 }] }, 'lines[0].price'],
    ['unit_price', { ...valid, unit_price: 1 }, 'unit_price'],
  ])('rejects a client-sent %s with 400 naming the field', (_what, body, field) => {
    const r = rejection(body);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('client_price_rejected');
    expect(r.body.details?.fields).toEqual([field]);
    expect(r.body.message).toContain(field);
  });

  it('rejects an unknown field by name instead of stripping it', () => {
    const r = rejection({ ...valid, status: 'paid' });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_request');
    expect(r.body.message).toContain("'status'");
  });

  it.each([0, -1, 1.5, '1', 1e21])('rejects quantity %p', (quantity) => {
    expect(rejection({ ...valid, lines: [{ sku: 'MUG-WHT', quantity }] }).status).toBe(400);
  });

  it('allows a walk-in (no customer) only at the POS', () => {
    expect(rejection({ ...valid, customerId: null }).body.message).toContain('customerId');
    expect(
      parsePlaceOrder({ ...valid, channel: 'pos', customerId: null, fulfilment: 'in_store' }).customerId,
    ).toBeNull();
  });

  it('requires a store for pickup and in-store orders but not for shipping', () => {
    const { storeId: _omit, ...noStore } = valid;
    expect(rejection(noStore).body.message).toContain('storeId');
    expect(parsePlaceOrder({ ...noStore, fulfilment: 'ship' }).storeId).toBeUndefined();
  });

  it('rejects an upper-case or malformed currency', () => {
    expect(rejection({ ...valid, currency: 'EUR' }).status).toBe(400);
  });
});

describe('staff action request', () => {
  it("takes the actor the gateway sends for any token's sub (role, ':' and up to 128 characters)", () => {
    expect(staffActionSchema.safeParse({ actor: `manager:${'m'.repeat(128)}`, reason: 'customer left' }).success).toBe(true);
    expect(staffActionSchema.safeParse({ actor: 'x'.repeat(161) }).success).toBe(false);
  });
});
