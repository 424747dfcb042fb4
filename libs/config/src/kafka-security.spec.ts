import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaSecurity } from './kafka-security';
import { baseConfigSchema, type BaseConfig } from './config.schema';
import { ConfigValidationError } from './validate-config';

type Settings = Parameters<typeof kafkaSecurity>[0];

const none: Settings = {
  NODE_ENV: 'development',
  KAFKA_SSL: false,
  KAFKA_SSL_CA_FILE: undefined,
  KAFKA_SASL_MECHANISM: undefined,
  KAFKA_SASL_USERNAME: undefined,
  KAFKA_SASL_PASSWORD: undefined,
};

function problems(config: Partial<Pick<BaseConfig, keyof Settings>>): string[] {
  try {
    kafkaSecurity({ ...none, ...config });
  } catch (error) {
    if (error instanceof ConfigValidationError) return error.problems;
    throw error;
  }
  return [];
}

describe('Kafka TLS and SASL settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-ca-'));
  const caFile = join(dir, 'ca.pem');
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  writeFileSync(caFile, pem);

  it('gives the client nothing when nothing is set (plaintext, no authentication)', () => {
    expect(kafkaSecurity(none)).toEqual({});
  });

  it('turns on TLS with the system CAs, or only those of the CA file', () => {
    expect(kafkaSecurity({ ...none, KAFKA_SSL: true })).toEqual({ ssl: {} });
    expect(kafkaSecurity({ ...none, KAFKA_SSL: true, KAFKA_SSL_CA_FILE: caFile })).toEqual({
      ssl: { ca: [pem] },
    });
  });

  it('passes SASL credentials with their mechanism', () => {
    const sasl = {
      KAFKA_SASL_MECHANISM: 'scram-sha-512' as const,
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD: 'pw',
    };
    expect(kafkaSecurity({ ...none, KAFKA_SSL: true, ...sasl })).toEqual({
      ssl: {},
      sasl: { mechanism: 'scram-sha-512', username: 'svc', password: 'pw' },
    });
  });

  it('names every missing or contradictory setting at once, never a value', () => {
    const found = problems({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SSL_CA_FILE: join(dir, 'missing.pem') });
    expect(found).toEqual([
      'KAFKA_SASL_USERNAME: is required with KAFKA_SASL_MECHANISM=plain',
      'KAFKA_SASL_PASSWORD: is required with KAFKA_SASL_MECHANISM=plain',
      'KAFKA_SSL_CA_FILE: is set but KAFKA_SSL is not true',
      'KAFKA_SSL_CA_FILE: cannot be read (ENOENT)',
    ]);
    expect(problems({ KAFKA_SASL_PASSWORD: 'hunter2-secret' })).toEqual([
      expect.stringMatching(/^KAFKA_SASL_MECHANISM: is required/),
    ]);
    expect(problems({ KAFKA_SASL_PASSWORD: 'hunter2-secret' }).join()).not.toContain('hunter2');
  });

  it('refuses a CA file that holds no certificate', () => {
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate');
    expect(problems({ KAFKA_SSL: true, KAFKA_SSL_CA_FILE: junk })).toEqual([
      'KAFKA_SSL_CA_FILE: holds no PEM certificate',
    ]);
  });

  it('refuses a PLAIN password in clear in production, and allows it elsewhere and over TLS', () => {
    const plain = {
      KAFKA_SASL_MECHANISM: 'plain' as const,
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD: 'pw',
    };
    expect(problems({ ...plain, NODE_ENV: 'production' })).toEqual([
      'KAFKA_SSL: must be true with KAFKA_SASL_MECHANISM=plain and NODE_ENV=production; the password would travel in clear',
    ]);
    expect(problems({ ...plain, NODE_ENV: 'production', KAFKA_SSL: true })).toEqual([]);
    expect(problems({ ...plain })).toEqual([]);
    // SCRAM never sends the password itself.
    expect(problems({ ...plain, KAFKA_SASL_MECHANISM: 'scram-sha-256', NODE_ENV: 'production' })).toEqual([]);
  });

  it('takes the mechanism as Kafka writes it, in capitals, too', () => {
    expect(baseConfigSchema.shape.KAFKA_SASL_MECHANISM.parse('SCRAM-SHA-512')).toBe('scram-sha-512');
    expect(() => baseConfigSchema.shape.KAFKA_SASL_MECHANISM.parse('GSSAPI')).toThrow();
  });
});
