/**
 * Client Idempotency-Keys on the real PostgreSQL and Redis: which answers are kept as the key's answer.
 */
import { HttpStatus } from '@nestjs/common';
import { JsonLogger, createLogger } from '@omnipay/observability';
import { ApiError, BestEffortRedis } from '@omnipay/platform';
import { TestDatabase, engines, uniqueName } from '@omnipay/testing';
import Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { IdempotencyService } from '../src/common/idempotency.service';
import type { PaymentsConfig } from '../src/config';
import { paymentsSchema } from './harness';

const schema = uniqueName('pay_idem');
let ds: DataSource;
let redis: Redis;
let idempotency: IdempotencyService;

beforeAll(async () => {
  ds = await paymentsSchema(schema);
  redis = new Redis(engines().redisUrl, { keyPrefix: `${schema}:` });
  const logger = new JsonLogger(createLogger('payments', 'silent'));
  idempotency = new IdempotencyService(ds, new BestEffortRedis(redis, logger), { IDEMPOTENCY_LOCK_MS: 2000 } as PaymentsConfig);
});
afterAll(async () => {
  await ds?.destroy();
  redis?.disconnect();
  await new TestDatabase(engines().databaseUrl).dropSchema(schema);
});

const created = { status: 201, body: { paymentId: 'pay_1' } };

describe('client idempotency keys', () => {
  it("does not keep Stripe's 'still running' as the key's answer: the retry gets the first request's answer", async () => {
    const inProgress = new ApiError(HttpStatus.CONFLICT, 'request_in_progress', 'the same request is still running at Stripe; retry shortly');
    await expect(idempotency.run('create', 'key-1', { orderId: 'o1' }, () => Promise.reject(inProgress))).rejects.toBe(inProgress);
    await expect(idempotency.run('create', 'key-1', { orderId: 'o1' }, async () => created)).resolves.toEqual(created);
    // And from then on that answer is the key's.
    await expect(idempotency.run('create', 'key-1', { orderId: 'o1' }, () => Promise.reject(new Error('not run again')))).resolves.toEqual(created);
  });

  it('keeps a refusal a retry cannot change as the answer', async () => {
    const refused = new ApiError(HttpStatus.UNPROCESSABLE_ENTITY, 'stripe_rejected', 'amount too large');
    await expect(idempotency.run('create', 'key-2', { orderId: 'o2' }, () => Promise.reject(refused))).rejects.toBe(refused);
    await expect(idempotency.run('create', 'key-2', { orderId: 'o2' }, async () => created)).rejects.toMatchObject({ status: 422 });
  });
});
