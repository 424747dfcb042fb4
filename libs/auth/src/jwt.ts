import { createHmac, timingSafeEqual } from 'node:crypto';
import { claimsSchema, type Claims } from './claims';

/**
 * HS256 JSON Web Tokens, deliberately minimal: one algorithm, fixed in code, so a token cannot choose
 * `alg: none` or switch to a public-key algorithm. Production deployments that use an identity provider
 * replace `verifyToken` with their JWKS verifier; the claims contract stays.
 */
const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

function base64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

function sign(data: string, secret: string): string {
  return createHmac('sha256', secret).update(data).digest('base64url');
}

export function mintToken(
  claims: Omit<Claims, 'iat' | 'exp'> & { ttlSeconds?: number },
  secret: string,
  now = Math.floor(Date.now() / 1000),
): string {
  const { ttlSeconds = 3600, ...rest } = claims;
  const payload = base64url(JSON.stringify({ ...rest, iat: now, exp: now + ttlSeconds }));
  return `${HEADER}.${payload}.${sign(`${HEADER}.${payload}`, secret)}`;
}

export class InvalidTokenError extends Error {}

export function verifyToken(token: string, secret: string, now = Math.floor(Date.now() / 1000)): Claims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new InvalidTokenError('malformed token');
  const [header, payload, signature] = parts;
  if (header !== HEADER) throw new InvalidTokenError('unsupported token header');
  const expected = Buffer.from(sign(`${header}.${payload}`, secret));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new InvalidTokenError('bad signature');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidTokenError('malformed token payload');
  }
  const claims = claimsSchema.safeParse(json);
  if (!claims.success) throw new InvalidTokenError(`invalid claims: ${claims.error.issues[0]?.message ?? 'unknown'}`);
  if (claims.data.exp <= now) throw new InvalidTokenError('token expired');
  if (claims.data.iat > now + 60) throw new InvalidTokenError('token issued in the future');
  return claims.data;
}
