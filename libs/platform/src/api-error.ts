import { HttpException, HttpStatus } from '@nestjs/common';
import type { z } from 'zod';

/** The error body of internal service APIs: `{ error: { code, message, details? } }`. */
export class ApiError extends HttpException {
  /**
   * A refusal that is our own bug, not the caller's (an idempotency key we derived clashing at Stripe): answered as
   * usual and logged at error level, so it pages someone rather than passing as a 4xx.
   */
  ourBug = false;

  constructor(
    status: number,
    readonly code: string,
    message: string,
    details?: unknown,
  ) {
    super({ error: { code, message, ...(details === undefined ? {} : { details }) } }, status);
    // Nest would call it "Api Error" (the body is an object): logs and callers get what happened.
    this.message = message;
  }
}

export const notFound = (what: string) => new ApiError(HttpStatus.NOT_FOUND, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string, details?: unknown) =>
  new ApiError(HttpStatus.CONFLICT, code, message, details);
export const unprocessable = (code: string, message: string, details?: unknown) =>
  new ApiError(HttpStatus.UNPROCESSABLE_ENTITY, code, message, details);
export const badGateway = (code: string, message: string) => new ApiError(HttpStatus.BAD_GATEWAY, code, message);

/** Deeper than any body of these APIs: a deeper one is refused before anything walks it recursively. */
export const MAX_INPUT_DEPTH = 32;

/**
 * What no input of any API may hold, whatever its schema: a NUL character in a string (PostgreSQL refuses NUL in
 * text, so one in a free-text field would be a 500 deep inside instead of a 400 at the edge), or nesting deeper than
 * `MAX_INPUT_DEPTH` (a 12 KB body of nested objects would overflow the stack of any recursive walk). Walked with an
 * explicit stack, never recursively.
 */
export function inputProblems(input: unknown): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const stack: { value: unknown; path: string[] }[] = [{ value: input, path: [] }];
  while (stack.length > 0 && problems.length < 20) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) problems.push({ path: path.join('.') || '(body)', message: 'must not contain NUL characters' });
    } else if (typeof value === 'object' && value !== null) {
      if (path.length >= MAX_INPUT_DEPTH) {
        problems.push({ path: path.slice(0, 3).join('.') + '…', message: `nested deeper than ${MAX_INPUT_DEPTH} levels` });
        continue;
      }
      for (const [k, v] of Object.entries(value)) stack.push({ value: v, path: [...path, k] });
    }
  }
  return problems;
}

/** Validates input with zod: a 400 that names every bad field. */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown): z.infer<S> {
  const problems = inputProblems(input);
  if (problems.length > 0)
    throw new ApiError(
      HttpStatus.BAD_REQUEST,
      'invalid_request',
      'the request is invalid',
      problems.map((p) => ({ field: p.path, message: p.message })),
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
