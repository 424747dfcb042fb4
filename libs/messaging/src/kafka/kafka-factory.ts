import { Kafka, logLevel, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { MessagingSettings } from '../messaging.settings';
import { applyKafkajsIdleFix } from './request-queue-idle-fix';

/** kafkajs is an implementation detail of this lib: services never import it. */
export function createKafka(
  clientId: string,
  { brokers, ssl, sasl }: Pick<MessagingSettings, 'brokers' | 'ssl' | 'sasl'>,
  logger: Logger,
): Kafka {
  applyKafkajsIdleFix();
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId,
    brokers,
    // Certificates are always verified (kafkajs passes these to tls.connect): a CA bundle narrows whom to trust.
    ...(ssl ? { ssl: { rejectUnauthorized: true, ...(ssl.ca ? { ca: ssl.ca } : {}) } } : {}),
    ...(sasl ? { sasl: sasl as SASLOptions } : {}),
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        if (level <= logLevel.ERROR) log.error(rest, message);
        else if (level === logLevel.WARN) log.warn(rest, message);
        else log.debug(rest, message);
      },
  });
}
