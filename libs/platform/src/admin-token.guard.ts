import {
  CanActivate,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
  type ExecutionContext,
} from '@nestjs/common';
import type { BaseConfig } from '@omnipay/config';
import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { APP_CONFIG } from './tokens';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

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
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const m = /^Bearer (.+)$/.exec(header);
    // Digests have equal length, so the comparison is constant-time whatever the caller sent.
    if (!m || !timingSafeEqual(digest(m[1]), this.expected))
      throw new UnauthorizedException({ error: 'unauthorized' });
    return true;
  }
}
