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

/** The issuer and audience of tokens minted here, and what the gateway expects unless configured otherwise. */
export const DEFAULT_ISSUER = 'omnipay';
export const DEFAULT_AUDIENCE = 'omnipay-gateway';

export function mintToken(
  claims: Omit<Claims, 'iat' | 'exp'> & { ttlSeconds?: number },
  secret: string,
  now = Math.floor(Date.now() / 1000),
): string {
  const { ttlSeconds = 3600, ...rest } = claims;
  const payload = base64url(
    JSON.stringify({ iss: DEFAULT_ISSUER, aud: DEFAULT_AUDIENCE, ...rest, iat: now, exp: now + ttlSeconds }),
  );
  return `${HEADER}.${payload}.${sign(`${HEADER}.${payload}`, secret)}`;
}

export class InvalidTokenError extends Error {
  /** The token carried a valid signature (expired, or for another issuer or audience): a real token, not a guess. */
  constructor(
    message: string,
    readonly signed = false,
  ) {
    super(message);
  }
}

export interface TokenExpectations {
  /** The `iss` a token must carry. */
  issuer: string;
  /** A value the token's `aud` (a string or a list) must contain. */
  audience: string;
}

const CLOCK_SKEW_S = 60;
/** The longest life a token may claim: a leaked token stops working within a day whatever its issuer wrote. */
export const MAX_TOKEN_LIFETIME_S = 24 * 3600;

/**
 * Checks signature, claims, lifetime (`exp`, and `iat`/`nbf` with a minute of clock skew), issuer and audience: a
 * token signed with the same secret for another system (another issuer or audience) is refused.
 */
export function verifyToken(
  token: string,
  secret: string | readonly string[],
  expect: TokenExpectations = { issuer: DEFAULT_ISSUER, audience: DEFAULT_AUDIENCE },
  now = Math.floor(Date.now() / 1000),
): Claims {
  const parts = token.split('.');
  if (parts.length !== 3) throw new InvalidTokenError('malformed token');
  const [header, payload, signature] = parts;
  if (header !== HEADER) throw new InvalidTokenError('unsupported token header');
  // Several keys during a rotation: a token signed with any of them is genuine. Each is compared in constant time.
  const given = Buffer.from(signature);
  const signedBy = (key: string) => {
    const expected = Buffer.from(sign(`${header}.${payload}`, key));
    return expected.length === given.length && timingSafeEqual(expected, given);
  };
  if (!(typeof secret === 'string' ? [secret] : secret).some(signedBy)) throw new InvalidTokenError('bad signature');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidTokenError('malformed token payload', true);
  }
  const claims = claimsSchema.safeParse(json);
  if (!claims.success) throw new InvalidTokenError(`invalid claims: ${claims.error.issues[0]?.message ?? 'unknown'}`, true);
  const c = claims.data;
  if (c.exp <= now) throw new InvalidTokenError('token expired', true);
  if (c.exp - c.iat > MAX_TOKEN_LIFETIME_S) throw new InvalidTokenError('token lives longer than 24 hours', true);
  if (c.iat > now + CLOCK_SKEW_S) throw new InvalidTokenError('token issued in the future', true);
  if (c.nbf !== undefined && c.nbf > now + CLOCK_SKEW_S) throw new InvalidTokenError('token not valid yet', true);
  if (c.iss !== expect.issuer) throw new InvalidTokenError('token issuer not accepted', true);
  const audiences = c.aud === undefined ? [] : Array.isArray(c.aud) ? c.aud : [c.aud];
  if (!audiences.includes(expect.audience)) throw new InvalidTokenError('token not issued for this audience', true);
  return c;
}
