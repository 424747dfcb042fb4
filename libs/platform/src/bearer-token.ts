import type { ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';

/** What a configured token is kept as: its SHA-256, so every comparison is between equal lengths. */
export const tokenDigest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Whether a request carries `Authorization: Bearer <token>` for one of the tokens whose digests are `accepted`. */
export function bearerMatches(context: ExecutionContext, accepted: readonly Buffer[]): boolean {
  const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
  const m = /^Bearer (.+)$/.exec(header);
  if (!m) return false;
  // Digests have equal length, so each comparison is constant-time whatever the caller sent.
  const given = tokenDigest(m[1]);
  return accepted.some((expected) => timingSafeEqual(given, expected));
}
