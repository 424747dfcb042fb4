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
        const at = levelOf(level, message);
        if (at === 'error') log.error(rest, message);
        else if (at === 'warn') log.warn(rest, message);
        else log.debug(rest, message);
      },
  });
}

/**
 * Our level for a kafkajs log line. kafkajs logs every CreateTopics answer that carries an error at error level,
 * but only `ensureTopics` creates topics, and it retries the usual cause (another service created the topic a moment
 * earlier) and fails the start itself if the error persists: a warning, not an error line at every deploy.
 */
export function levelOf(level: logLevel, message: string): 'error' | 'warn' | 'debug' {
  if (level <= logLevel.ERROR) return message.startsWith('Response CreateTopics') ? 'warn' : 'error';
  return level === logLevel.WARN ? 'warn' : 'debug';
}
