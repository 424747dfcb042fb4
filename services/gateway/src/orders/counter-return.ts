import type { HttpException } from '@nestjs/common';
import { apiError } from '../common/public-error';

interface OrderLine {
  sku: string;
  quantity: number;
  unitAmount: number;
}

/**
 * What a manager may refund for another store's online order handed back at their counter: the value of the items
 * returned, at the prices the order was paid at, and nothing without items. Without this, a manager of any store could
 * refund any online order in full with nothing handed back.
 */
export function counterReturnAmount(
  lines: readonly OrderLine[],
  items: readonly { sku: string; quantity: number }[],
  amount: number | undefined,
): number {
  if (items.length === 0)
    throw refused('return_items_required', "a refund of another store's online order is a counter return: name the items handed back");
  const returned = new Map<string, number>();
  for (const item of items) returned.set(item.sku, (returned.get(item.sku) ?? 0) + item.quantity);
  let value = 0;
  for (const [sku, quantity] of returned) {
    const ordered = lines.filter((l) => l.sku === sku);
    const orderedQuantity = ordered.reduce((n, l) => n + l.quantity, 0);
    if (orderedQuantity === 0) throw refused('item_not_on_order', `${sku} is not on this order`);
    if (quantity > orderedQuantity) throw refused('too_many_items_returned', `the order has ${orderedQuantity} of ${sku}, not ${quantity}`);
    // Lines of one SKU share its price on an order; the dearest is taken should they not.
    value += quantity * Math.max(...ordered.map((l) => l.unitAmount));
  }
  if (amount !== undefined && amount > value)
    throw refused('amount_exceeds_returned_items', `the items handed back are worth ${value}; a counter return refunds at most that`);
  return amount ?? value;
}

const refused = (code: string, message: string): HttpException => apiError(422, code, message);
