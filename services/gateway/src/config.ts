import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from '@omnipay/auth';
import { commaSeparated, edgeConfigSchema } from '@omnipay/config';
import { z } from 'zod';

const url = z.string().url();

/**
 * Settings of the gateway: the edge's own (HTTP, logs, Redis; no PostgreSQL or Kafka, it owns no state) plus these
 * (docs/configuration.md).
 */
export const gatewayConfigSchema = edgeConfigSchema.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /**
   * HS256 keys of bearer tokens, comma-separated. One key normally; during a rotation the new and the old one: a
   * token signed with either is accepted, so the issuer can switch to the new key before the old one is removed.
   * `tools/scripts/mint-token.ts` signs with the first.
   */
  JWT_SECRET: commaSeparated(z.string().min(16, 'each JWT key must be at least 16 characters'), 4),
  /** The `iss` and an `aud` every bearer token must carry: a token for another system with the same key is refused. */
  JWT_ISSUER: z.string().min(1).default(DEFAULT_ISSUER),
  JWT_AUDIENCE: z.string().min(1).default(DEFAULT_AUDIENCE),
  ORDERS_URL: url,
  PAYMENTS_URL: url,
  TERMINAL_URL: url.optional(),
  /** A call to a service that takes longer answers 504 to the client. */
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(50).max(60000).default(5000),
  /** Requests per client per route per minute. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  /** Requests without a valid token (answered 401) per client address per minute; more are answered 429. */
  RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: z.coerce.number().int().min(1).default(60),
  BODY_LIMIT: z.string().default('64kb'),
  /**
   * Which proxies' X-Forwarded-For the gateway believes (Express's `trust proxy`): the client address rate limits
   * key anonymous requests by. `loopback` by default; behind a load balancer or an Ingress, its addresses or subnets
   * (`10.0.0.0/8`), or the number of proxy hops (`1`). Trusting more than the real proxies lets a client pick its
   * own address.
   */
  TRUST_PROXY: z
    .string()
    .min(1)
    .default('loopback')
    .refine(
      (v) => /^\d{1,2}$/.test(v) || v.split(',').every((p) => /^(loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?)$/.test(p.trim())),
      'must be a hop count, or addresses, subnets (10.0.0.0/8) or loopback/linklocal/uniquelocal, comma-separated',
    )
    .transform((v) => (/^\d+$/.test(v) ? Number(v) : v)),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
