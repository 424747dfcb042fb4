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

/**
 * Where `input` holds a string with a NUL character. No field of any API may: PostgreSQL refuses NUL in text, so
 * one in a free-text field (a reason, a name) would be a 500 deep inside instead of a 400 at the edge.
 */
export function nulCharacters(input: unknown, path: string[] = []): string[] {
  if (typeof input === 'string') return input.includes('\u0000') ? [path.join('.') || '(body)'] : [];
  if (typeof input !== 'object' || input === null) return [];
  return Object.entries(input).flatMap(([k, v]) => nulCharacters(v, [...path, k]));
}

/** Validates input with zod: a 400 that names every bad field. */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown): z.infer<S> {
  const nul = nulCharacters(input);
  if (nul.length > 0)
    throw new ApiError(
      HttpStatus.BAD_REQUEST,
      'invalid_request',
      'the request is invalid',
      nul.map((field) => ({ field, message: 'must not contain NUL characters' })),
    );
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
