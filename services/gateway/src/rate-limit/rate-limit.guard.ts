import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '@omnipay/platform';
import type { Response } from 'express';
import type { AuthedRequest } from '../auth/auth.decorators';
import { isOperationalPath } from '../auth/auth.guard';
import type { GatewayConfig } from '../config';
import { clientNetwork } from './client-network';
import { RateLimiter } from './rate-limiter';

/** Per client (token subject, else IP: public routes) and route, per minute. */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly limiter: RateLimiter,
    @Inject(APP_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    if (isOperationalPath(req.path)) return true;
    const route = (req.route as { path?: string } | undefined)?.path ?? req.path;
    const client = req.user?.sub ?? clientNetwork(req.ip);
    await this.limiter.take(
      `${client}:${req.method}:${route}`,
      this.config.RATE_LIMIT_PER_MINUTE,
      context.switchToHttp().getResponse<Response>(),
    );
    return true;
  }
}
