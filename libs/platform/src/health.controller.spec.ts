import type { ConsumerGroupState, KafkaConsumerServer, KafkaHealth } from '@omnipay/messaging';
import type { Response } from 'express';
import type Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { HealthController } from './health.controller';

const restarting: ConsumerGroupState = {
  state: 'restarting',
  crashesInARow: 3,
  error: 'There is no leader for this topic-partition as we are in the middle of a leadership election',
  restartAt: '2026-12-04T09:30:04.000Z',
};

/** Engines that answer (or not), and a consumer transport whose groups are in the given states. */
function controller(opts: { redisUp?: boolean; groups?: Record<string, ConsumerGroupState> } = {}) {
  const redis = { ping: async () => (opts.redisUp === false ? Promise.reject(new Error('ECONNREFUSED')) : 'PONG') } as unknown as Redis;
  const dataSource = { query: async () => [{ '?column?': 1 }] } as unknown as DataSource;
  const kafka = { check: async () => ({ brokers: 1 }) } as unknown as KafkaHealth;
  const consumers = opts.groups && ({ groupStates: () => opts.groups } as unknown as KafkaConsumerServer);
  return new HealthController(redis, dataSource, kafka, consumers);
}

async function ready(health: HealthController) {
  const res = { status: jest.fn() };
  const body = await health.ready(res as unknown as Response);
  return { status: res.status.mock.calls[0][0] as number, body };
}

describe('GET /health/ready', () => {
  it("reports each consumer group's state, and stays ready (200) while a group waits for its restart", async () => {
    const groups = { 'omnipay.orders': { state: 'running' }, 'omnipay.orders.inventory': restarting } as const;
    const { status, body } = await ready(controller({ groups }));
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'ok',
      checks: {
        postgres: { status: 'up', ms: expect.any(Number) },
        redis: { status: 'up', ms: expect.any(Number) },
        kafka: { status: 'up', ms: expect.any(Number) },
      },
      consumerGroups: groups,
    });
  });

  it('is unavailable (503) when a probe fails, however the groups are doing', async () => {
    const { status, body } = await ready(controller({ redisUp: false, groups: { 'omnipay.orders': { state: 'running' } } }));
    expect(status).toBe(503);
    expect(body.status).toBe('unavailable');
    expect(body.checks.redis).toMatchObject({ status: 'down', error: 'ECONNREFUSED' });
  });

  it('reports no consumer groups in a service without Kafka (an edge)', async () => {
    const redis = { ping: async () => 'PONG' } as unknown as Redis;
    const { status, body } = await ready(new HealthController(redis));
    expect(status).toBe(200);
    expect(body).toEqual({ status: 'ok', checks: { redis: { status: 'up', ms: expect.any(Number) } } });
  });
});
