import { ConfigValidationError } from '@omnipay/config';
import { AppModule } from './app.module';
import { gatewayConfigSchema } from './config';
import { JsonLogger, createLogger } from '@omnipay/observability';

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

  it('believes X-Forwarded-For from loopback only unless told which proxies to trust (addresses, subnets or a hop count)', () => {
    const parse = (extra: Record<string, string>) => gatewayConfigSchema.parse({ ...base, JWT_SECRET: 'one-key-of-enough-length', ...extra }).TRUST_PROXY;
    expect(parse({})).toBe('loopback');
    expect(parse({ TRUST_PROXY: '10.0.0.0/8' })).toBe('10.0.0.0/8');
    expect(parse({ TRUST_PROXY: '1' })).toBe(1);
    expect(parse({ TRUST_PROXY: 'loopback, 10.0.0.0/8, fd00::/8' })).toBe('loopback, 10.0.0.0/8, fd00::/8');
    expect(gatewayConfigSchema.safeParse({ ...base, JWT_SECRET: 'one-key-of-enough-length', TRUST_PROXY: 'true' }).success).toBe(false);
  });

  it('refuses to start in production with /metrics open on its public port', () => {
    const config = (extra: Record<string, string>) =>
      gatewayConfigSchema.parse({ ...base, JWT_SECRET: 'one-key-of-enough-length', SERVICE_TOKEN: 'svc-token-0123456789abcdef', ...extra });
    const logger = new JsonLogger(createLogger('gateway', 'silent'));
    expect(() => AppModule.register(config({ NODE_ENV: 'production' }), logger)).toThrow(ConfigValidationError);
    expect(() => AppModule.register(config({ NODE_ENV: 'production', METRICS_TOKEN: 'metrics-token-0123456789' }), logger)).not.toThrow();
    expect(() => AppModule.register(config({}), logger)).not.toThrow();
  });
});
