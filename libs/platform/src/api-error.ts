import { HttpException, HttpStatus } from '@nestjs/common';
import type { z } from 'zod';

/** The error body of internal service APIs: `{ error: { code, message, details? } }`. */
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

export const notFound = (what: string) => new ApiError(HttpStatus.NOT_FOUND, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string, details?: unknown) =>
  new ApiError(HttpStatus.CONFLICT, code, message, details);
export const unprocessable = (code: string, message: string, details?: unknown) =>
  new ApiError(HttpStatus.UNPROCESSABLE_ENTITY, code, message, details);
export const badGateway = (code: string, message: string) => new ApiError(HttpStatus.BAD_GATEWAY, code, message);

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
