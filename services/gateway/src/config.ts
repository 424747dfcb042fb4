import { baseConfigSchema } from '@omnipay/config';
import { z } from 'zod';

/** Settings of the gateway service: the platform's own plus these. Validated at startup (see docs/configuration.md). */
export const gatewayConfigSchema = baseConfigSchema.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  DATABASE_SCHEMA: baseConfigSchema.shape.DATABASE_SCHEMA.default('gateway'),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
