import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Claims, Role } from '@omnipay/auth';
import type { Request } from 'express';

export const ROLES_KEY = 'roles';
export const PUBLIC_KEY = 'public';

/** Only these roles may call the route (checked by RolesGuard, after the token and the rate limit). */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

/** No token needed (health, metrics, OpenAPI, publishable config). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export type AuthedRequest = Request & { user: Claims };

export const CurrentUser = createParamDecorator((_: unknown, ctx: ExecutionContext): Claims => {
  return ctx.switchToHttp().getRequest<AuthedRequest>().user;
});
