import { checkoutBody } from './checkout.dto';

const lines = [{ sku: 'MUG-WHT', quantity: 1 }];
const issues = (body: unknown) => {
  const r = checkoutBody.safeParse(body);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('checkout body', () => {
  it('takes a shipped order without a store and a pickup order at a store', () => {
    expect(issues({ fulfilment: 'ship', currency: 'usd', lines })).toEqual([]);
    expect(issues({ fulfilment: 'pickup', storeId: 'store_berlin', currency: 'eur', lines })).toEqual([]);
  });

  it("refuses a shipped order naming a store (it would become that store's order) and a pickup order without one", () => {
    expect(issues({ fulfilment: 'ship', storeId: 'store_berlin', currency: 'usd', lines })).toEqual([
      'storeId: a shipped order has no store; storeId is for pickup only',
    ]);
    expect(issues({ fulfilment: 'pickup', currency: 'usd', lines })).toEqual(['storeId: the pickup store is required']);
  });
});
