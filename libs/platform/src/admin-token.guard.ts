import {
  CanActivate,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
  type ExecutionContext,
} from '@nestjs/common';
import type { BaseConfig, EdgeConfig } from '@omnipay/config';
import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { APP_CONFIG } from './tokens';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Whether a request carries `Authorization: Bearer <token>` for the token whose digest is `expected`. */
function bearerMatches(context: ExecutionContext, expected: Buffer): boolean {
  const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
  const m = /^Bearer (.+)$/.exec(header);
  // Digests have equal length, so the comparison is constant-time whatever the caller sent.
  return !!m && timingSafeEqual(digest(m[1]), expected);
}

/**
 * `Authorization: Bearer <ADMIN_TOKEN>` on a service's operator routes (`/admin/*`). Without ADMIN_TOKEN configured
 * they do not exist (404).
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(@Inject(APP_CONFIG) config: Pick<BaseConfig, 'ADMIN_TOKEN'>) {
    this.expected = config.ADMIN_TOKEN ? digest(config.ADMIN_TOKEN) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) throw new NotFoundException();
    if (!bearerMatches(context, this.expected)) throw new UnauthorizedException({ error: 'unauthorized' });
    return true;
  }
}

/**
 * `Authorization: Bearer <METRICS_TOKEN>` on `/metrics` when METRICS_TOKEN is set (a public gateway must not tell
 * the internet its routes, rates and internals); open when it is not (a service on a private network).
 */
@Injectable()
export class MetricsTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(@Inject(APP_CONFIG) config: Pick<EdgeConfig, 'METRICS_TOKEN'>) {
    this.expected = config.METRICS_TOKEN ? digest(config.METRICS_TOKEN) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expected && !bearerMatches(context, this.expected)) throw new UnauthorizedException({ error: 'unauthorized' });
    return true;
  }
}
