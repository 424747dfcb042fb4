import { createHmac } from 'node:crypto';
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER, InvalidTokenError, mintToken, verifyToken } from './jwt';

const SECRET = 'test-secret-of-enough-length';

describe('bearer tokens', () => {
  it('round-trips the claims of a store cashier', () => {
    const token = mintToken({ sub: 'u1', role: 'cashier', storeId: 'store_berlin' }, SECRET);
    expect(verifyToken(token, SECRET)).toMatchObject({ sub: 'u1', role: 'cashier', storeId: 'store_berlin' });
  });

  it('rejects a token signed with another secret', () => {
    const token = mintToken({ sub: 'u1', role: 'admin' }, 'other-secret');
    expect(() => verifyToken(token, SECRET)).toThrow(InvalidTokenError);
  });

  it('accepts a token signed with any key of a rotation, and refuses it once its key is removed', () => {
    const OLD = 'old-key-of-enough-length';
    const NEW = 'new-key-of-enough-length';
    const before = mintToken({ sub: 'u1', role: 'customer' }, OLD);
    const after = mintToken({ sub: 'u2', role: 'customer' }, NEW);
    expect(verifyToken(before, [NEW, OLD]).sub).toBe('u1');
    expect(verifyToken(after, [NEW, OLD]).sub).toBe('u2');
    expect(() => verifyToken(before, [NEW])).toThrow('bad signature');
    expect(() => verifyToken(after, [])).toThrow('bad signature');
  });

  it('rejects a token whose claims were edited after signing', () => {
    const [h, , s] = mintToken({ sub: 'u1', role: 'customer' }, SECRET).split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'u1', role: 'admin', iat: 1, exp: 9999999999 })).toString('base64url');
    expect(() => verifyToken(`${h}.${forged}.${s}`, SECRET)).toThrow('bad signature');
  });

  it('rejects alg none and expired tokens', () => {
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.e30.`;
    expect(() => verifyToken(none, SECRET)).toThrow(InvalidTokenError);
    const old = mintToken({ sub: 'u1', role: 'customer', ttlSeconds: 10 }, SECRET, 1000);
    expect(() => verifyToken(old, SECRET, undefined, 2000)).toThrow('token expired');
  });

  it('refuses a token issued in the future or not valid yet, beyond a minute of clock skew', () => {
    const now = 1_800_000_000;
    expect(() => verifyToken(mintToken({ sub: 'u1', role: 'customer' }, SECRET, now + 120), SECRET, undefined, now)).toThrow(
      'token issued in the future',
    );
    expect(verifyToken(mintToken({ sub: 'u1', role: 'customer' }, SECRET, now + 30), SECRET, undefined, now)).toMatchObject({ sub: 'u1' });
    const later = mintToken({ sub: 'u1', role: 'customer', nbf: now + 600 }, SECRET, now);
    expect(() => verifyToken(later, SECRET, undefined, now)).toThrow('token not valid yet');
    expect(verifyToken(later, SECRET, undefined, now + 600)).toMatchObject({ sub: 'u1' });
  });

  it('accepts only its own issuer and audience, a string or a list', () => {
    const expectations = { issuer: 'https://id.example.com', audience: 'shop-api' };
    const ours = mintToken({ sub: 'u1', role: 'customer', iss: 'https://id.example.com', aud: ['other', 'shop-api'] }, SECRET);
    expect(verifyToken(ours, SECRET, expectations)).toMatchObject({ sub: 'u1' });
    // Same secret, another system's token: refused.
    const otherIssuer = mintToken({ sub: 'u1', role: 'customer', iss: 'https://other.example.com', aud: 'shop-api' }, SECRET);
    expect(() => verifyToken(otherIssuer, SECRET, expectations)).toThrow('token issuer not accepted');
    const otherAudience = mintToken({ sub: 'u1', role: 'customer', iss: 'https://id.example.com', aud: 'admin-api' }, SECRET);
    expect(() => verifyToken(otherAudience, SECRET, expectations)).toThrow('token not issued for this audience');
    // Minted here without either: the development defaults, which a configured gateway refuses.
    const dev = mintToken({ sub: 'u1', role: 'customer' }, SECRET);
    expect(verifyToken(dev, SECRET)).toMatchObject({ iss: DEFAULT_ISSUER, aud: DEFAULT_AUDIENCE });
    expect(() => verifyToken(dev, SECRET, expectations)).toThrow(InvalidTokenError);
  });

  it('refuses a token with neither issuer nor audience', () => {
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const payload = Buffer.from(JSON.stringify({ sub: 'u1', role: 'customer', iat: now, exp: now + 60 })).toString('base64url');
    const signature = createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url');
    expect(() => verifyToken(`${header}.${payload}.${signature}`, SECRET)).toThrow('token issuer not accepted');
  });

  it('refuses a cashier token without a store, and a store on a token of any other role', () => {
    const token = mintToken({ sub: 'u1', role: 'cashier' }, SECRET);
    expect(() => verifyToken(token, SECRET)).toThrow(/storeId/);
    for (const role of ['customer', 'finance', 'admin'] as const)
      expect(() => verifyToken(mintToken({ sub: 'u1', role, storeId: 'store_berlin' }, SECRET), SECRET)).toThrow(`${role} tokens must not carry a storeId`);
  });

  it('refuses a token that claims to live longer than a day, whatever its issuer wrote', () => {
    expect(verifyToken(mintToken({ sub: 'u1', role: 'customer', ttlSeconds: 24 * 3600 }, SECRET), SECRET)).toMatchObject({ sub: 'u1' });
    expect(() => verifyToken(mintToken({ sub: 'u1', role: 'customer', ttlSeconds: 100 * 365 * 24 * 3600 }, SECRET), SECRET)).toThrow(
      'token lives longer than 24 hours',
    );
  });
});
