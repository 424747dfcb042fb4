import { Inject, Injectable } from '@nestjs/common';
import { REDIS } from '@omnipay/platform';
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
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
 * Client `Idempotency-Key`s, per client and operation, in Redis. The first request with a key runs; a repeat
 * with the same body gets the stored answer; a different body under the same key is a 422; a repeat while the
 * first is still running is a 409 (the client retries). Only successful answers are stored, so a request
 * that failed can be retried with the same key. The downstream calls carry keys derived from this one, so a
 * gateway crash between them cannot create a second order or PaymentIntent either.
 */
@Injectable()
export class IdempotencyService {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async run<T>(scope: string, key: string | undefined, request: unknown, work: () => Promise<{ status: number; body: T }>): Promise<StoredResponse<T>> {
    if (key === undefined) return { ...(await work()), replayed: false };
    checkIdempotencyKey(key);
    const redisKey = `idem:${scope}:${key}`;
    const fingerprint = createHash('sha256').update(JSON.stringify(request)).digest('hex');
    const claimed = await this.redis.set(redisKey, JSON.stringify({ state: 'running', fingerprint }), 'EX', TTL_S, 'NX');
    if (claimed !== 'OK') {
      const stored = JSON.parse((await this.redis.get(redisKey)) ?? '{}') as { state?: string; fingerprint?: string; status?: number; body?: T };
      if (stored.fingerprint && stored.fingerprint !== fingerprint) {
        throw apiError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different request');
      }
      if (stored.state === 'done') return { status: stored.status as number, body: stored.body as T, replayed: true };
      throw apiError(409, 'idempotency_key_in_use', 'a request with this Idempotency-Key is in progress; retry shortly');
    }
    try {
      const result = await work();
      await this.redis.set(redisKey, JSON.stringify({ state: 'done', fingerprint, ...result }), 'EX', TTL_S);
      return { ...result, replayed: false };
    } catch (error) {
      await this.redis.del(redisKey);
      throw error;
    }
  }
}
