import { gatewayConfigSchema } from './config';

const base = { REDIS_URL: 'redis://127.0.0.1:6379', ORDERS_URL: 'http://orders', PAYMENTS_URL: 'http://payments' };

describe('gateway settings', () => {
  it('takes one JWT key, or the keys of a rotation comma-separated', () => {
    expect(gatewayConfigSchema.parse({ ...base, JWT_SECRET: 'one-key-of-enough-length' }).JWT_SECRET).toEqual(['one-key-of-enough-length']);
    expect(gatewayConfigSchema.parse({ ...base, JWT_SECRET: 'new-key-of-enough-length, old-key-of-enough-length' }).JWT_SECRET).toEqual([
      'new-key-of-enough-length',
      'old-key-of-enough-length',
    ]);
  });

  it('refuses a short JWT key, even beside a good one', () => {
    const parsed = gatewayConfigSchema.safeParse({ ...base, JWT_SECRET: 'new-key-of-enough-length,short' });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain('each JWT key must be at least 16 characters');
  });
});
