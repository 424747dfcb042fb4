import { HttpException, HttpStatus } from '@nestjs/common';
import { stripeErrorInfo, isRetryableStripeError } from '@omnipay/stripe';
import type { z } from 'zod';

/** Every 4xx/5xx body: `{ error: { code, message, details? } }`. */
export class ApiError extends HttpException {
  constructor(status: number, code: string, message: string, details?: unknown) {
    super({ error: { code, message, ...(details === undefined ? {} : { details }) } }, status);
  }
}

export const notFound = (what: string) =>
  new ApiError(HttpStatus.NOT_FOUND, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string) => new ApiError(HttpStatus.CONFLICT, code, message);
export const unprocessable = (code: string, message: string, details?: unknown) =>
  new ApiError(HttpStatus.UNPROCESSABLE_ENTITY, code, message, details);

/** Validates a body/query with zod: a 400 that names every bad field. */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input ?? {});
  // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- zod's generic inference is `any` here; the value is validated
  if (r.success) return r.data;
  throw new ApiError(
    HttpStatus.BAD_REQUEST,
    'invalid_request',
    'the request is invalid',
    r.error.issues.slice(0, 20).map((i) => ({ field: i.path.join('.') || '(body)', message: i.message })),
  );
}

/** A Stripe failure as an HTTP answer: declines 402, Stripe refusals 422, Stripe unavailable 502. */
export function fromStripeError(error: unknown): ApiError | null {
  const info = stripeErrorInfo(error);
  if (!info) return null;
  if (info.type === 'StripeCardError') {
    return new ApiError(HttpStatus.PAYMENT_REQUIRED, info.code ?? 'card_declined', info.message, {
      declineCode: info.declineCode,
    });
  }
  if (isRetryableStripeError(error))
    return new ApiError(
      HttpStatus.BAD_GATEWAY,
      'stripe_unavailable',
      'Stripe did not answer; retry the request',
    );
  if (info.statusCode === 401 || info.statusCode === 403)
    return new ApiError(HttpStatus.BAD_GATEWAY, 'stripe_misconfigured', 'Stripe refused our credentials');
  if (info.code === 'idempotency_error') return conflict('idempotency_conflict', info.message);
  return unprocessable(info.code ?? 'stripe_rejected', info.message, { param: info.param });
}
