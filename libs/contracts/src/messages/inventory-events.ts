import { z } from 'zod';
import { defineMessage } from '../define-message';
import { orderId, sku, storeId } from '../primitives';
import { Topics } from '../topics';

export const StockChanged = defineMessage({
  topic: Topics.inventoryEvents,
  type: 'stock.changed',
  version: 1,
  schema: z.object({
    sku,
    locationId: storeId,
    change: z.enum(['reserved', 'committed', 'released', 'restocked', 'adjusted']),
    quantity: z.number().int(),
    onHand: z.number().int().nonnegative(),
    reserved: z.number().int().nonnegative(),
    orderId: orderId.nullable(),
  }),
  key: (d) => `${d.sku}@${d.locationId}`,
});
