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
function controller(opts: { redisUp?: boolean; postgresUp?: boolean; kafkaUp?: boolean; groups?: Record<string, ConsumerGroupState> } = {}) {
  const down = (up: boolean | undefined, error: string) => (up === false ? Promise.reject(new Error(error)) : undefined);
  const redis = { ping: async () => (await down(opts.redisUp, 'ECONNREFUSED')) ?? 'PONG' } as unknown as Redis;
  const dataSource = { query: async () => (await down(opts.postgresUp, 'connect ECONNREFUSED 127.0.0.1:5432')) ?? [{ '?column?': 1 }] } as unknown as DataSource;
  const kafka = { check: async () => (await down(opts.kafkaUp, 'Connection error: connect ECONNREFUSED')) ?? { brokers: 1 } } as unknown as KafkaHealth;
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

  it('is unavailable (503) when PostgreSQL does not answer, however the groups are doing', async () => {
    const { status, body } = await ready(controller({ postgresUp: false, groups: { 'omnipay.orders': { state: 'running' } } }));
    expect(status).toBe(503);
    expect(body.status).toBe('unavailable');
    expect(body.checks.postgres).toMatchObject({ status: 'down', error: expect.stringContaining('ECONNREFUSED') });
  });

  it('stays ready (200) but degraded while Redis or Kafka is away: the API serves without them', async () => {
    for (const opts of [{ redisUp: false }, { kafkaUp: false }, { redisUp: false, kafkaUp: false }]) {
      const { status, body } = await ready(controller(opts));
      expect({ opts, status, state: body.status }).toEqual({ opts, status: 200, state: 'degraded' });
      if (opts.redisUp === false) expect(body.checks.redis).toMatchObject({ status: 'down', error: 'ECONNREFUSED' });
      if ('kafkaUp' in opts) expect(body.checks.kafka.status).toBe('down');
    }
  });

  it('stays ready but degraded in an edge service whose Redis is away, and tells its public port no more than that', async () => {
    const redis = { ping: async () => Promise.reject(new Error('connect ECONNREFUSED 10.0.3.7:6379')) } as unknown as Redis;
    const { status, body } = await ready(new HealthController(redis));
    expect(status).toBe(200);
    expect(body.status).toBe('degraded');
    expect(body.checks.redis).toEqual({ status: 'down', ms: expect.any(Number) });
  });

  it('reports no consumer groups in a service without Kafka (an edge)', async () => {
    const redis = { ping: async () => 'PONG' } as unknown as Redis;
    const { status, body } = await ready(new HealthController(redis));
    expect(status).toBe(200);
    expect(body).toEqual({ status: 'ok', checks: { redis: { status: 'up', ms: expect.any(Number) } } });
  });
});

describe('GET /health/live', () => {
  const live = (health: HealthController) => {
    const res = { status: jest.fn() };
    const body = health.live(res as unknown as Response);
    return { status: (res.status.mock.calls[0]?.[0] as number | undefined) ?? 200, body };
  };

  it('answers 503 naming the stuck consumer group and why, so the orchestrator replaces the process', () => {
    const stuck: ConsumerGroupState = { state: 'stuck', since: '2026-12-04T09:30:04.000Z', reason: 'a chunk of messages has made no progress for 95 s' };
    const { status, body } = live(controller({ groups: { 'omnipay.orders': { state: 'running' }, 'omnipay.orders.loyalty': stuck } }));
    expect(status).toBe(503);
    expect(body).toEqual({ status: 'stuck', consumerGroups: { 'omnipay.orders.loyalty': 'a chunk of messages has made no progress for 95 s' } });
  });

  it('stays 200 while groups start, restart after a crash, or the engines are away: a new process would not help', () => {
    const groups = { a: { state: 'starting' }, b: restarting, c: { state: 'running' } } as const;
    expect(live(controller({ groups, kafkaUp: false, postgresUp: false, redisUp: false }))).toEqual({ status: 200, body: { status: 'ok' } });
    expect(live(new HealthController({} as Redis))).toEqual({ status: 200, body: { status: 'ok' } });
  });
});
