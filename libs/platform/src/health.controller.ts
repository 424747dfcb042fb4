import { Controller, Get, HttpStatus, Inject, Optional, Res } from '@nestjs/common';
import { KafkaConsumerServer, KafkaHealth, type ConsumerGroupState } from '@omnipay/messaging';
import type { Response } from 'express';
import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { REDIS } from './tokens';

type Check = { status: 'up' | 'down'; ms: number; error?: string };

interface Readiness {
  status: 'ok' | 'degraded' | 'unavailable';
  checks: Record<string, Check>;
  consumerGroups?: Record<string, ConsumerGroupState>;
}

async function probe(fn: () => Promise<unknown>, timeoutMs = 2000): Promise<Check> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return { status: 'up', ms: Date.now() - started };
  } catch (error) {
    return { status: 'down', ms: Date.now() - started, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/health/live`: the process answers and no consumer group is stuck (restart it if not). `/health/ready` (and `/health`): whether the HTTP API can
 * serve, which needs PostgreSQL only (take the replica out of rotation if not: 503 `unavailable`). Redis and Kafka
 * are probed with a real round trip too and reported, but a failed one is `degraded` with a 200: what the API writes
 * for Kafka waits in the outbox, and what it keeps in Redis it can do without (`BestEffortRedis`). Failing
 * readiness on them would take every replica out of rotation at once, turning a Kafka or Redis outage into an
 * outage of checkout and of Stripe's webhooks. An edge service (no PostgreSQL, no Kafka) reports Redis only. A
 * service with Kafka also reports each consumer group's state.
 */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Optional() private readonly dataSource?: DataSource,
    @Optional() private readonly kafka?: KafkaHealth,
    @Optional() private readonly consumers?: KafkaConsumerServer,
  ) {}

  /**
   * 503 only for what restarting the process fixes and nothing else does: a consumer group the watchdog declared
   * stuck (a handler that never returned, a silent consumer that would not stop; decision 0023). Never for Kafka,
   * PostgreSQL or Redis being away: a new process would meet the same outage.
   */
  @Get('live')
  live(@Res({ passthrough: true }) res: Response): { status: 'ok' } | { status: 'stuck'; consumerGroups: Record<string, string> } {
    const stuck: Record<string, string> = {};
    for (const [groupId, g] of Object.entries(this.consumers?.groupStates() ?? {})) if (g.state === 'stuck') stuck[groupId] = g.reason;
    if (Object.keys(stuck).length === 0) return { status: 'ok' };
    res.status(HttpStatus.SERVICE_UNAVAILABLE);
    return { status: 'stuck', consumerGroups: stuck };
  }

  @Get(['ready', ''])
  async ready(@Res({ passthrough: true }) res: Response): Promise<Readiness> {
    const { dataSource, kafka, consumers } = this;
    const probes: [string, () => Promise<unknown>][] = [];
    if (dataSource) probes.push(['postgres', () => dataSource.query('SELECT 1')]);
    probes.push(['redis', () => this.redis.ping()]);
    if (kafka) probes.push(['kafka', () => kafka.check()]);
    const results = await Promise.all(probes.map(([, fn]) => probe(fn)));
    // An edge (no PostgreSQL: the gateway) answers on a public port: why a check failed (addresses, driver
    // messages) is not the internet's business. The status says which engine is away.
    if (!dataSource) for (const r of results) delete r.error;
    const checks: Record<string, Check> = Object.fromEntries(probes.map(([name], i) => [name, results[i]]));
    // Consumer groups are reported, never counted, for the same reason as Kafka: a group waiting for its restart
    // leaves the HTTP API able to serve. Counting it would take every service out of rotation whenever a broker
    // restart crashed their groups, until each group's backoff (up to a minute) ran out after Kafka was back.
    const serving = checks.postgres?.status !== 'down';
    const status = !serving ? 'unavailable' : Object.values(checks).every((c) => c.status === 'up') ? 'ok' : 'degraded';
    res.status(serving ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    const body: Readiness = { status, checks };
    if (consumers) body.consumerGroups = consumers.groupStates();
    return body;
  }
}
