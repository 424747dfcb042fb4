import { HttpException, HttpStatus } from '@nestjs/common';
import { isRetryableStripeError, stripeErrorInfo } from '@omnipay/stripe';
import type { z } from 'zod';

/** Every 4xx/5xx body: `{ error: { code, message, details? } }` (same shape as payments and orders). */
export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly code: string,
    message: string,
    details?: unknown,
  ) {
    super({ error: { code, message, ...(details === undefined ? {} : { details }) } }, status);
  }
}

export const notFound = (what: string) =>
  new ApiError(HttpStatus.NOT_FOUND, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string, details?: unknown) =>
  new ApiError(HttpStatus.CONFLICT, code, message, details);
export const unprocessable = (code: string, message: string, details?: unknown) =>
  new ApiError(HttpStatus.UNPROCESSABLE_ENTITY, code, message, details);
export const badGateway = (code: string, message: string) =>
  new ApiError(HttpStatus.BAD_GATEWAY, code, message);

/** Validates input with zod: a 400 that names every bad field. */
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

/** A Stripe refusal as an HTTP answer: busy reader 409, offline reader 409, Stripe refusals 422, Stripe down 502. */
export function fromStripeError(error: unknown): ApiError | null {
  const info = stripeErrorInfo(error);
  if (!info) return null;
  if (info.code === 'terminal_reader_busy')
    return conflict('reader_busy', 'the reader is busy with another action; cancel it or wait');
  if (info.code === 'terminal_reader_offline') return conflict('reader_offline', 'the reader is offline');
  if (info.statusCode === 401 || info.statusCode === 403)
    return badGateway('stripe_misconfigured', 'Stripe refused our credentials');
  if (isRetryableStripeError(error))
    return badGateway('stripe_unavailable', 'Stripe did not answer; retry the request');
  if (info.code === 'idempotency_error') return conflict('idempotency_conflict', info.message);
  return unprocessable(info.code ?? 'stripe_rejected', info.message, { param: info.param });
}
