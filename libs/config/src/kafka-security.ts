import { readFileSync } from 'node:fs';
import type { BaseConfig } from './config.schema';
import { ConfigValidationError } from './validate-config';

type KafkaSecurityConfig = Pick<
  BaseConfig,
  | 'NODE_ENV'
  | 'KAFKA_SSL'
  | 'KAFKA_SSL_CA_FILE'
  | 'KAFKA_SASL_MECHANISM'
  | 'KAFKA_SASL_USERNAME'
  | 'KAFKA_SASL_PASSWORD'
>;

/** What the Kafka client is given: TLS (with the CAs to trust, or the system's) and SASL credentials. */
export interface KafkaSecurity {
  ssl?: { ca?: string[] };
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
}

/**
 * The Kafka client's TLS and SASL settings, checked together (the schema checks each alone). Thrown at start-up as a
 * configuration error naming every problem, so a service never starts half-configured and fails at its first fetch.
 */
export function kafkaSecurity(config: KafkaSecurityConfig): KafkaSecurity {
  const problems: string[] = [];
  const {
    KAFKA_SASL_MECHANISM: mechanism,
    KAFKA_SASL_USERNAME: username,
    KAFKA_SASL_PASSWORD: password,
  } = config;
  if (mechanism) {
    if (!username) problems.push(`KAFKA_SASL_USERNAME: is required with KAFKA_SASL_MECHANISM=${mechanism}`);
    if (!password) problems.push(`KAFKA_SASL_PASSWORD: is required with KAFKA_SASL_MECHANISM=${mechanism}`);
    if (mechanism === 'plain' && !config.KAFKA_SSL && config.NODE_ENV === 'production')
      problems.push(
        'KAFKA_SSL: must be true with KAFKA_SASL_MECHANISM=plain and NODE_ENV=production; the password would travel in clear',
      );
  } else if (username || password) {
    problems.push(
      'KAFKA_SASL_MECHANISM: is required with KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD (plain, scram-sha-256 or scram-sha-512)',
    );
  }
  let ca: string[] | undefined;
  if (config.KAFKA_SSL_CA_FILE) {
    if (!config.KAFKA_SSL) problems.push('KAFKA_SSL_CA_FILE: is set but KAFKA_SSL is not true');
    try {
      const pem = readFileSync(config.KAFKA_SSL_CA_FILE, 'utf8');
      if (!pem.includes('-----BEGIN CERTIFICATE-----'))
        problems.push('KAFKA_SSL_CA_FILE: holds no PEM certificate');
      else ca = [pem];
    } catch (error) {
      problems.push(
        `KAFKA_SSL_CA_FILE: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return {
    ...(config.KAFKA_SSL ? { ssl: ca ? { ca } : {} } : {}),
    ...(mechanism && username && password ? { sasl: { mechanism, username, password } } : {}),
  };
}
