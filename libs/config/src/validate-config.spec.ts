import { z } from 'zod';
import { baseConfigSchema } from './config.schema';
import { ConfigValidationError, validateConfig } from './validate-config';

const good = {
  PORT: '3000',
  DATABASE_URL: 'postgres://u@127.0.0.1:5432/db',
  DATABASE_SCHEMA: 'payments',
  REDIS_URL: 'redis://127.0.0.1:6379',
  KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.2:9092',
};

describe('validateConfig', () => {
  it('parses and coerces a complete environment', () => {
    const cfg = validateConfig(baseConfigSchema, good);
    expect(cfg.PORT).toBe(3000);
    expect(cfg.KAFKA_BROKERS).toEqual(['127.0.0.1:9092', '127.0.0.2:9092']);
    expect(cfg.OUTBOX_RELAY_ENABLED).toBe(true);
  });

  it('names every missing and malformed setting in one error', () => {
    const env: Record<string, string> = { ...good, PORT: 'abc', KAFKA_BROKERS: 'nohost' };
    delete env.DATABASE_URL;
    let error: unknown;
    try {
      validateConfig(baseConfigSchema, env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    const problems = (error as ConfigValidationError).problems.join('\n');
    expect(problems).toMatch(/DATABASE_URL: is required but not set/);
    expect(problems).toMatch(/PORT:/);
    expect(problems).toMatch(/KAFKA_BROKERS/);
  });

  it('never echoes a value, because settings may be secrets', () => {
    const schema = z.object({ STRIPE_SECRET_KEY: z.string().startsWith('sk_') });
    expect(() => validateConfig(schema, { STRIPE_SECRET_KEY: 'pk_live_supersecret' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('supersecret') }),
    );
  });
});
