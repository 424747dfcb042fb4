import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InvalidTokenError, verifyToken, type Role } from '@omnipay/auth';
import { APP_CONFIG } from '@omnipay/platform';
import type { GatewayConfig } from '../config';
import { PUBLIC_KEY, ROLES_KEY, type AuthedRequest } from './auth.decorators';

/**
 * Every route needs a valid bearer token unless marked @Public(), and the token's role must be one the route
 * allows. Object-level checks (own order, own store) happen in the use case, where a foreign object is a 404.
 */
/** Probes and scrapes come from the platform, not from clients (keep them off the public ingress). */
export function isOperationalPath(path: string): boolean {
  return path.startsWith('/health') || path === '/metrics';
}

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: GatewayConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets) || isOperationalPath(req.path)) return true;
    const header = req.header('authorization') ?? '';
    const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(header);
    if (!match) throw new UnauthorizedException('a bearer token is required');
    try {
      req.user = verifyToken(match[1], this.config.JWT_SECRET, {
        issuer: this.config.JWT_ISSUER,
        audience: this.config.JWT_AUDIENCE,
      });
    } catch (error) {
      throw new UnauthorizedException(error instanceof InvalidTokenError ? error.message : 'invalid token');
    }
    const allowed = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (allowed && !allowed.includes(req.user.role)) throw new ForbiddenException(`role ${req.user.role} may not do this`);
    return true;
  }
}
