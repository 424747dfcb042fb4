import { callerRef } from './caller-ref';

describe('callerRef', () => {
  it('keeps the usual subs of identity providers as they are', () => {
    for (const sub of ['cust_123', 'auth0|5f7c1e', 'user@example', '0b9e-4f1a']) expect(callerRef(sub)).toBe(sub);
  });

  it('replaces a sub holding a key separator, so two callers can never derive the same key', () => {
    const key = (sub: string, k: string) => `gw.${callerRef(sub)}.${k}`;
    expect(key('jane.doe', '1')).not.toBe(key('jane', 'doe.1'));
    expect(`checkout:${callerRef('a:b')}:c`).not.toBe(`checkout:${callerRef('a')}:b:c`);
    expect(callerRef('jane.doe')).toMatch(/^~[A-Za-z0-9_-]{32}$/);
    expect(callerRef('jane.doe')).toBe(callerRef('jane.doe'));
    expect(callerRef('Ünïcode')).toMatch(/^~/);
  });
});
