import {
  CanActivate,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
  type ExecutionContext,
} from '@nestjs/common';
import { APP_CONFIG } from '@omnipay/platform';
import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { WebhooksConfig } from '../config';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** `Authorization: Bearer <ADMIN_TOKEN>`. Without ADMIN_TOKEN configured the admin routes do not exist (404). */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(@Inject(APP_CONFIG) config: WebhooksConfig) {
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
