import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, BestEffortRedis } from '@omnipay/platform';
import { createHash } from 'node:crypto';
import type { GatewayConfig } from '../config';
import { apiError } from './public-error';

export interface StoredResponse<T> {
  status: number;
  body: T;
  replayed: boolean;
}

const TTL_S = 24 * 3600;

/** The shape every client Idempotency-Key must have (the OpenAPI documents the same pattern). */
export function checkIdempotencyKey(key: string): void {
  if (!/^[A-Za-z0-9_.:-]{1,255}$/.test(key)) throw apiError(422, 'invalid_idempotency_key', 'Idempotency-Key must be 1–255 letters, digits or _ . : -');
}

/**
 * Client `Idempotency-Key`s, per client and operation, in Redis. The first request with a key runs; a different
 * body under the same key is a 422; a repeat while the first is still running is a 409 (the client retries). Only
 * success is recorded, so a request that failed can be retried with the same key. The downstream calls carry keys
 * derived from this one, so a gateway crash between them cannot create a second order or PaymentIntent either.
 *
 * A repeat after success runs again and is marked replayed: the services answer it from their own keys with the
 * same order and PaymentIntent. The answer itself is not kept here: a checkout's holds the PaymentIntent's client
 * secret, which Stripe says not to store, and which payments hands out again only for an order not cancelled since.
 *
 * That is also why Redis may be away: a request then goes straight to the services, whose own keys (in
 * PostgreSQL) answer a repeat with the same order and PaymentIntent, or a 422 for another body.
 */
@Injectable()
export class IdempotencyService {
  /** Longer than a checkout can take: at most three upstream calls one after another (order, payment, cancel). */
  private readonly runningTtlS: number;

  constructor(
    private readonly redis: BestEffortRedis,
    @Inject(APP_CONFIG) config: GatewayConfig,
  ) {
    this.runningTtlS = Math.ceil((3 * config.UPSTREAM_TIMEOUT_MS) / 1000) + 30;
  }

  async run<T>(scope: string, key: string | undefined, request: unknown, work: () => Promise<{ status: number; body: T }>): Promise<StoredResponse<T>> {
    if (key === undefined) return { ...(await work()), replayed: false };
    checkIdempotencyKey(key);
    const redisKey = `idem:${scope}:${key}`;
    const fingerprint = createHash('sha256').update(JSON.stringify(request)).digest('hex');
    // The claim expires on its own: a gateway that dies (or loses Redis) mid-request must not leave the key
    // "in progress" for the day its answer would be kept.
    const claimed = await this.redis.attempt('idempotency', (r) =>
      r.set(redisKey, JSON.stringify({ state: 'running', fingerprint }), 'EX', this.runningTtlS, 'NX'),
    );
    if (!claimed.ok) return { ...(await work()), replayed: false };
    if (claimed.value !== 'OK') {
      const found = await this.redis.attempt('idempotency', (r) => r.get(redisKey));
      if (!found.ok) return { ...(await work()), replayed: false };
      const stored = JSON.parse(found.value ?? '{}') as { state?: string; fingerprint?: string };
      if (stored.fingerprint && stored.fingerprint !== fingerprint) {
        throw apiError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different request');
      }
      if (stored.state === 'done') return { ...(await work()), replayed: true };
      throw apiError(409, 'idempotency_key_in_use', 'a request with this Idempotency-Key is in progress; retry shortly');
    }
    try {
      const result = await work();
      // Not kept (Redis went away meanwhile): a repeat goes to the services, which answer it the same.
      await this.redis.attempt('idempotency', (r) => r.set(redisKey, JSON.stringify({ state: 'done', fingerprint }), 'EX', TTL_S));
      return { ...result, replayed: false };
    } catch (error) {
      await this.redis.attempt('idempotency', (r) => r.del(redisKey));
      throw error;
    }
  }
}
