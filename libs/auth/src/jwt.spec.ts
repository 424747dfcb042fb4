import { InvalidTokenError, mintToken, verifyToken } from './jwt';

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

  it('rejects a token whose claims were edited after signing', () => {
    const [h, , s] = mintToken({ sub: 'u1', role: 'customer' }, SECRET).split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'u1', role: 'admin', iat: 1, exp: 9999999999 })).toString('base64url');
    expect(() => verifyToken(`${h}.${forged}.${s}`, SECRET)).toThrow('bad signature');
  });

  it('rejects alg none and expired tokens', () => {
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.e30.`;
    expect(() => verifyToken(none, SECRET)).toThrow(InvalidTokenError);
    const old = mintToken({ sub: 'u1', role: 'customer', ttlSeconds: 10 }, SECRET, 1000);
    expect(() => verifyToken(old, SECRET, 2000)).toThrow('token expired');
  });

  it('refuses a cashier token without a store', () => {
    const token = mintToken({ sub: 'u1', role: 'cashier' }, SECRET);
    expect(() => verifyToken(token, SECRET)).toThrow(/storeId/);
  });
});
