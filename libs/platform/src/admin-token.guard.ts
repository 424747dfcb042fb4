import {
  CanActivate,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
  type ExecutionContext,
} from '@nestjs/common';
import type { BaseConfig, EdgeConfig } from '@omnipay/config';
import { bearerMatches, tokenDigest } from './bearer-token';
import { APP_CONFIG } from './tokens';

/**
 * `Authorization: Bearer <ADMIN_TOKEN>` on a service's operator routes (`/admin/*`). Without ADMIN_TOKEN configured
 * they do not exist (404).
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(@Inject(APP_CONFIG) config: Pick<BaseConfig, 'ADMIN_TOKEN'>) {
    this.expected = config.ADMIN_TOKEN ? tokenDigest(config.ADMIN_TOKEN) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) throw new NotFoundException();
    if (!bearerMatches(context, [this.expected])) throw new UnauthorizedException({ error: 'unauthorized' });
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
    this.expected = config.METRICS_TOKEN ? tokenDigest(config.METRICS_TOKEN) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expected && !bearerMatches(context, [this.expected])) throw new UnauthorizedException({ error: 'unauthorized' });
    return true;
  }
}
