import { Inject, Injectable } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { KAFKA } from '../messaging.settings';
import { pingKafka } from './topic-admin';

/** Readiness probe for Kafka: a real metadata round trip, cached briefly so probes cannot load the broker. */
@Injectable()
export class KafkaHealth {
  private last?: { at: number; result: Promise<{ brokers: number }> };

  constructor(@Inject(KAFKA) private readonly kafka: Kafka) {}

  check(): Promise<{ brokers: number }> {
    const now = Date.now();
    if (!this.last || now - this.last.at > 2000) {
      const result = pingKafka(this.kafka);
      this.last = { at: now, result };
      result.catch(() => (this.last = undefined));
    }
    return this.last.result;
  }
}
