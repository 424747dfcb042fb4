import type { JsonLogger } from '@omnipay/observability';
import type { PlanLog } from './payment-events';

export function planLog(logger: JsonLogger): PlanLog {
  return {
    warn: (fields, msg) => logger.pino.warn(fields, msg),
    error: (fields, msg) => logger.pino.error(fields, msg),
    info: (fields, msg) => logger.pino.info(fields, msg),
  };
}
