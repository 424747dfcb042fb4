import { baseConfigSchema } from '@omnipay/config';
import { z } from 'zod';

/** Settings of the orders service: the platform's own plus these. Validated at startup (see docs/configuration.md). */
export const ordersConfigSchema = baseConfigSchema.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  DATABASE_SCHEMA: baseConfigSchema.shape.DATABASE_SCHEMA.default('orders'),
  /** An order not paid within this many seconds of placement is cancelled and its stock released. */
  ORDER_PAYMENT_TTL_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(900),
  /** How often the expiry sweeper looks for unpaid orders past their deadline. */
  ORDER_EXPIRY_SWEEP_MS: z.coerce.number().int().min(50).max(600000).default(5000),
  /** Loyalty points per whole currency unit paid (floored). 0 turns accrual off. */
  LOYALTY_POINTS_PER_UNIT: z.coerce.number().int().min(0).max(1000).default(1),
  /** How long checkouts may use catalog reads (prices, stores, currencies) before reading them again. 0: always read. */
  CATALOG_CACHE_MS: z.coerce.number().int().min(0).max(600000).default(5000),
  /** Where online `ship` orders reserve their stock. */
  ONLINE_FULFILMENT_LOCATION: z
    .string()
    .regex(/^[a-z0-9_]{1,64}$/)
    .default('online_fc'),
});

export type OrdersConfig = z.infer<typeof ordersConfigSchema>;
