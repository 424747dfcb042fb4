import { baseConfigSchema } from '@omnipay/config';
import { z } from 'zod';

/** Settings of the terminal service: the platform's own plus these. Validated at startup (see docs/configuration.md). */
export const terminalConfigSchema = baseConfigSchema.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(3004),
  DATABASE_SCHEMA: baseConfigSchema.shape.DATABASE_SCHEMA.default('terminal'),
});

export type TerminalConfig = z.infer<typeof terminalConfigSchema>;
