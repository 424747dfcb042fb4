import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import Redis from 'ioredis';
import type { EdgeConfig } from '@omnipay/config';
import { APP_CONFIG, REDIS } from './tokens';

export const redisProvider: Provider = {
  provide: REDIS,
  inject: [APP_CONFIG],
  useFactory: (config: EdgeConfig) =>
    new Redis(config.REDIS_URL, {
      keyPrefix: config.REDIS_KEY_PREFIX,
      // Fail a command fast while Redis is away instead of queueing it forever; callers decide what to do.
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      connectTimeout: 3000,
      // A Redis that stops answering without closing the connection (host gone, network split) leaves the client
      // "ready" until TCP gives up, minutes later: each command would wait that long. Every command here takes
      // well under a millisecond; after this it fails, and BestEffortRedis goes on without it.
      commandTimeout: 500,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    }),
};

@Injectable()
export class RedisLifecycle implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
