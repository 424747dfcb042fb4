import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InvalidTokenError, verifyToken, type Role } from '@omnipay/auth';
import { APP_CONFIG } from '@omnipay/platform';
import type { Response } from 'express';
import type { GatewayConfig } from '../config';
import { clientNetwork } from '../rate-limit/client-network';
import { RateLimiter } from '../rate-limit/rate-limiter';
import { PUBLIC_KEY, ROLES_KEY, type AuthedRequest } from './auth.decorators';

/** Probes and scrapes come from the platform, not from clients (keep them off the public ingress). */
export function isOperationalPath(path: string): boolean {
  return path.startsWith('/health') || path === '/metrics';
}

/**
 * Who calls: the bearer token's user on `req.user`. A request without a valid token is answered 401; those without
 * a validly signed one are counted per client network (`clientNetwork`): past RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE
 * it gets 429 instead, so guessing tokens or flooding the port without one is limited like any other traffic (the
 * per-user limit needs a user).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiter,
    @Inject(APP_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets) || isOperationalPath(req.path))
      return true;
    const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(req.header('authorization') ?? '');
    let reason = 'a bearer token is required';
    let genuine = false;
    if (match) {
      try {
        req.user = verifyToken(match[1], this.config.JWT_SECRET, {
          issuer: this.config.JWT_ISSUER,
          audience: this.config.JWT_AUDIENCE,
        });
        return true;
      } catch (error) {
        reason = error instanceof InvalidTokenError ? error.message : 'invalid token';
        genuine = error instanceof InvalidTokenError && error.signed;
      }
    }
    // A token we signed that has expired (or is for another audience) is a real client that must see its 401 to
    // sign in again, not someone guessing: only what carries no valid signature counts.
    if (!genuine) {
      const res = context.switchToHttp().getResponse<Response>();
      await this.limiter.take(
        `unauthenticated:${clientNetwork(req.ip)}`,
        this.config.RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE,
        res,
      );
    }
    throw new UnauthorizedException(reason);
  }
}

/**
 * The route's roles (`@Roles`), after the rate limit: a user calling routes their role may not use is counted like
 * any other. Object-level checks (own order, own store) happen in the use case, where a foreign object is a 404.
 */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const targets = [context.getHandler(), context.getClass()];
    // No user: only a public or operational route gets here without one (AuthGuard); anything else is refused, so
    // that reordering the guards can never open a route.
    if (!req.user) {
      if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets) || isOperationalPath(req.path))
        return true;
      throw new UnauthorizedException('a bearer token is required');
    }
    const allowed = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (allowed && !allowed.includes(req.user.role))
      throw new ForbiddenException(`role ${req.user.role} may not do this`);
    return true;
  }
}
