import { CanActivate, HttpStatus, Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { ConfigValidationError, type EdgeConfig } from '@omnipay/config';
import type { Request } from 'express';
import { ApiError } from './api-error';
import { bearerMatches, tokenDigest } from './bearer-token';
import { APP_CONFIG } from './tokens';

type TokenConfig = Pick<EdgeConfig, 'NODE_ENV' | 'SERVICE_TOKEN'>;

/**
 * The service tokens of a service that serves or calls the internal APIs; in production there must be one
 * (decision 0024). Thrown at start-up, so the process exits naming the setting.
 */
export function serviceTokens(config: TokenConfig, role: string): readonly string[] {
  const tokens = config.SERVICE_TOKEN ?? [];
  if (tokens.length === 0 && config.NODE_ENV === 'production')
    throw new ConfigValidationError([
      `SERVICE_TOKEN: is required with NODE_ENV=production (${role}); without it the internal APIs are open to anyone who reaches them`,
    ]);
  return tokens;
}

/** The header a caller of an internal API sends (nothing when no token is configured). */
export function serviceAuthorization(config: TokenConfig, role: string): Record<string, string> {
  const [token] = serviceTokens(config, role);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Paths with their own guard: probes (none), the scraper (METRICS_TOKEN) and operators (ADMIN_TOKEN). */
const OWN_GUARD = /^\/(health(\/|$)|metrics\/?$|admin(\/|$))/;

/**
 * The internal APIs answer only callers holding a service token (`Authorization: Bearer <SERVICE_TOKEN>`): without
 * it anyone on the network could refund a payment, mint a customer's ephemeral key or a store's reader connection
 * token, bypassing the gateway's authorisation. Open when no token is configured (development and tests).
 */
@Injectable()
export class ServiceTokenGuard implements CanActivate {
  private readonly accepted: Buffer[];

  constructor(@Inject(APP_CONFIG) config: TokenConfig) {
    this.accepted = serviceTokens(config, 'its internal API').map(tokenDigest);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.accepted.length === 0 || context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request>();
    if (OWN_GUARD.test(req.path) || bearerMatches(context, this.accepted)) return true;
    throw new ApiError(HttpStatus.UNAUTHORIZED, 'service_token_required', 'this is an internal API: a service token is required');
  }
}
