import { channel, currency, customerId, sku, storeId } from '@omnipay/contracts';
import { z } from 'zod';
import { badRequest } from '../../shared/http-errors';
import { parseBody } from '../../shared/zod-body';

/** Field names that would carry a price. A client never sets one: the server prices every order. */
const PRICE_FIELD = /amount|price|total|cost|discount|tax|fee|subtotal/i;

const line = z
  .object({
    sku,
    quantity: z.number().int('quantity must be a whole number').min(1).max(100),
  })
  .strict();

export const placeOrderSchema = z
  .object({
    channel,
    /** Optional for `ship` (defaults to the online fulfilment location); the store of a pickup or in-store order. */
    storeId: storeId.optional(),
    /** Null only for a walk-in POS sale. */
    customerId: customerId.nullable(),
    fulfilment: z.enum(['ship', 'pickup', 'in_store']),
    currency,
    lines: z.array(line).min(1).max(50),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.customerId === null && o.channel !== 'pos') {
      ctx.addIssue({
        code: 'custom',
        path: ['customerId'],
        message: 'only a POS sale can be made without a customer',
      });
    }
    if (o.fulfilment === 'in_store' && o.channel !== 'pos') {
      ctx.addIssue({
        code: 'custom',
        path: ['fulfilment'],
        message: 'in_store fulfilment is for POS sales only',
      });
    }
    if (o.fulfilment !== 'ship' && !o.storeId) {
      ctx.addIssue({
        code: 'custom',
        path: ['storeId'],
        message: `storeId is required for ${o.fulfilment} orders`,
      });
    }
  });

export type PlaceOrderRequest = z.infer<typeof placeOrderSchema>;

/** Paths of every field anywhere in the body whose name says it is a price. */
export function priceFields(body: unknown, path = ''): string[] {
  if (Array.isArray(body)) return body.flatMap((v, i) => priceFields(v, `${path}[${i}]`));
  if (typeof body !== 'object' || body === null) return [];
  return Object.entries(body).flatMap(([k, v]) => {
    const here = path ? `${path}.${k}` : k;
    return [...(PRICE_FIELD.test(k) ? [here] : []), ...priceFields(v, here)];
  });
}

/**
 * Client-sent prices get their own error before anything else, so a tampered checkout is told exactly which
 * field was refused rather than being priced silently.
 */
export function parsePlaceOrder(body: unknown): PlaceOrderRequest {
  const fields = priceFields(body);
  if (fields.length > 0) {
    throw badRequest(
      'client_price_rejected',
      `prices are computed by the server; remove ${fields.map((f) => `'${f}'`).join(', ')} from the request`,
      { fields },
    );
  }
  return parseBody(placeOrderSchema, body);
}

export const staffActionSchema = z
  .object({
    /**
     * Who did it, kept in the order's history: `<role>:<sub>` from the gateway's token (a `sub` may be 128 characters,
     * the role 8 more), or `system:<what>`.
     */
    actor: z.string().min(1).max(160).optional(),
    reason: z.string().min(1).max(500).optional(),
  })
  .strict();

export type StaffAction = z.infer<typeof staffActionSchema>;
