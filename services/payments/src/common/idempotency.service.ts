import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, BestEffortRedis } from '@omnipay/platform';
import { requestFingerprint } from '@omnipay/stripe';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { PaymentsConfig } from '../config';
import { ApiError } from './http-errors';

export interface HttpResult {
  status: number;
  body: unknown;
}

/** Refusals that a retry with the same key can change. */
const TRANSIENT_REFUSALS = new Set(['request_in_progress']);

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Client `Idempotency-Key` handling: the first request with a key runs under a Redis lock, its answer is kept in
 * PostgreSQL, and a repeat (even concurrent) gets that answer. Reusing a key for a different body is a 422.
 * `reexecute` answers a repeat by running the (itself idempotent) use case again instead of returning the stored
 * body: used where the answer holds a client secret that must not be stored.
 *
 * While Redis is unreachable the request runs without the lock: every use case behind a key is idempotent by our
 * own ids (the (order, attempt) row, the refund request, Stripe's keys derived from them), so two concurrent
 * repeats still make one PaymentIntent or refund: the later one is told 409 `request_in_progress` by Stripe's
 * key instead of by the lock, and a retry gets the first answer.
 */
@Injectable()
export class IdempotencyService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly redis: BestEffortRedis,
    @Inject(APP_CONFIG) private readonly config: PaymentsConfig,
  ) {}

  static validKey(key: string | undefined): string | undefined {
    if (key === undefined || key === '') return undefined;
    if (key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
      throw new ApiError(
        HttpStatus.BAD_REQUEST,
        'invalid_idempotency_key',
        'Idempotency-Key must be 1–255 visible ASCII characters',
      );
    }
    return key;
  }

  async run(
    scope: string,
    rawKey: string | undefined,
    request: unknown,
    exec: () => Promise<HttpResult>,
    opts: { reexecute?: boolean } = {},
  ): Promise<HttpResult> {
    const key = IdempotencyService.validKey(rawKey);
    if (!key) return exec();
    const fingerprint = requestFingerprint(request);
    const lockKey = `payments:idem:${scope}:${key}`;
    const token = randomUUID();
    const deadline = Date.now() + this.config.IDEMPOTENCY_LOCK_MS;
    // Lock first, then look for a stored answer under the lock: a new key (the usual case) costs one lookup.
    let lock = true;
    for (;;) {
      const locked = await this.redis.attempt('idempotency_lock', (r) => r.set(lockKey, token, 'PX', this.config.IDEMPOTENCY_LOCK_MS, 'NX'));
      if (!locked.ok) {
        lock = false;
        break;
      }
      if (locked.value === 'OK') break;
      // Held: the first request is running, or has just finished and its answer is stored.
      const stored = await this.find(scope, key);
      if (stored) return this.replay(stored, fingerprint, exec, opts);
      if (Date.now() > deadline) {
        throw new ApiError(
          HttpStatus.CONFLICT,
          'request_in_progress',
          'a request with this Idempotency-Key is still running; retry later',
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    try {
      // A repeat of a request that has finished (or finished between someone's check and our lock).
      const stored = await this.find(scope, key);
      // Awaited here: a refusal must not be left pending while `finally` awaits the release (unhandled rejection).
      if (stored) return await this.replay(stored, fingerprint, exec, opts);
      let result: HttpResult;
      try {
        result = await exec();
      } catch (error) {
        // Deterministic refusals (4xx) are answers too; 5xx/502 are not stored, so a retry can succeed. Nor is a 409
        // `request_in_progress` (Stripe still running the first request under its key): kept, it would answer every
        // retry for the key's lifetime, and the first request's answer would no longer be stored.
        if (error instanceof ApiError && error.getStatus() < 500 && !TRANSIENT_REFUSALS.has(error.code)) {
          result = { status: error.getStatus(), body: error.getResponse() };
          await this.store(scope, key, fingerprint, result, opts);
        }
        throw error;
      }
      await this.store(scope, key, fingerprint, result, opts);
      return result;
    } finally {
      if (lock) await this.redis.attempt('idempotency_lock', (r) => r.eval(RELEASE, 1, lockKey, token));
    }
  }

  private async replay(
    stored: { fingerprint: string; status: number; body: unknown },
    fingerprint: string,
    exec: () => Promise<HttpResult>,
    opts: { reexecute?: boolean },
  ): Promise<HttpResult> {
    if (stored.fingerprint !== fingerprint) {
      throw new ApiError(
        HttpStatus.UNPROCESSABLE_ENTITY,
        'idempotency_key_reused',
        'this Idempotency-Key was used for a different request',
      );
    }
    if (stored.status >= 400) throw new HttpException(stored.body as Record<string, unknown>, stored.status);
    if (opts.reexecute) return exec();
    return { status: stored.status, body: stored.body };
  }

  private async find(
    scope: string,
    key: string,
  ): Promise<{ fingerprint: string; status: number; body: unknown } | undefined> {
    const rows = await this.dataSource.query<{ fingerprint: string; status: number; body: unknown }[]>(
      'SELECT fingerprint, status, body FROM idempotent_requests WHERE scope = $1 AND key = $2',
      [scope, key],
    );
    return rows[0];
  }

  private async store(
    scope: string,
    key: string,
    fingerprint: string,
    result: HttpResult,
    opts: { reexecute?: boolean },
  ): Promise<void> {
    const body = opts.reexecute && result.status < 400 ? null : result.body;
    await this.dataSource.query(
      `INSERT INTO idempotent_requests (scope, key, fingerprint, status, body) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (scope, key) DO NOTHING`,
      [scope, key, fingerprint, result.status, body === null ? null : JSON.stringify(body)],
    );
  }
}
