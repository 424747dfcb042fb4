import type { HttpException } from '@nestjs/common';
import { counterReturnAmount } from './counter-return';

const lines = [
  { sku: 'MUG-WHT', quantity: 2, unitAmount: 1200 },
  { sku: 'TSHIRT-BLK-M', quantity: 1, unitAmount: 2500 },
];

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    const e = error as HttpException;
    return { status: e.getStatus(), code: (e.getResponse() as { error: string }).error };
  }
  return undefined;
};

describe("a counter return of another store's online order", () => {
  it('refunds the value of the items handed back when no amount is named', () => {
    expect(counterReturnAmount(lines, [{ sku: 'MUG-WHT', quantity: 1 }], undefined)).toBe(1200);
    expect(counterReturnAmount(lines, [{ sku: 'MUG-WHT', quantity: 1 }, { sku: 'MUG-WHT', quantity: 1 }, { sku: 'TSHIRT-BLK-M', quantity: 1 }], undefined)).toBe(4900);
  });

  it('refunds less than the items are worth when asked', () => {
    expect(counterReturnAmount(lines, [{ sku: 'TSHIRT-BLK-M', quantity: 1 }], 1000)).toBe(1000);
  });

  it('refuses a money-only refund, more than the items are worth, items not on the order and more of them than ordered', () => {
    expect(refusal(() => counterReturnAmount(lines, [], undefined))).toEqual({ status: 422, code: 'return_items_required' });
    expect(refusal(() => counterReturnAmount(lines, [], 100))).toEqual({ status: 422, code: 'return_items_required' });
    expect(refusal(() => counterReturnAmount(lines, [{ sku: 'MUG-WHT', quantity: 1 }], 1201))).toEqual({ status: 422, code: 'amount_exceeds_returned_items' });
    expect(refusal(() => counterReturnAmount(lines, [{ sku: 'CAP-RED', quantity: 1 }], undefined))).toEqual({ status: 422, code: 'item_not_on_order' });
    expect(refusal(() => counterReturnAmount(lines, [{ sku: 'MUG-WHT', quantity: 2 }, { sku: 'MUG-WHT', quantity: 1 }], undefined))).toEqual({
      status: 422,
      code: 'too_many_items_returned',
    });
  });
});
