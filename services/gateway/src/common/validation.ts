import { BadRequestException } from '@nestjs/common';
import { MAX_INPUT_DEPTH, inputProblems } from '@omnipay/platform';
import type { z } from 'zod';

/**
 * Parses client input; a failure is a 400 listing each bad field (`path: message`). `where` names the input itself
 * when it is not a body (a path parameter): an issue about the whole value is reported under that name.
 */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown, where = '(body)'): z.infer<S> {
  const problems = inputProblems(input);
  if (problems.length > 0) {
    throw new BadRequestException({
      error: 'invalid_request',
      message: 'the request is invalid',
      issues: problems.map((p) => ({ path: p.path === '(body)' ? where : p.path, message: p.message })),
    });
  }
  const result = schema.safeParse(input ?? {});
  // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- z.infer of a generic schema is opaque here
  if (result.success) return result.data;
  throw new BadRequestException({
    error: 'invalid_request',
    message: 'the request is invalid',
    issues: result.error.issues.map((i) => ({ path: i.path.join('.') || where, message: i.message })),
  });
}

/** Field names that would carry a price. Clients never set one: every order is priced by the server. */
const PRICE_FIELD = /amount|price|total|cost|discount|tax|fee|subtotal/i;

export function priceFields(body: unknown): string[] {
  const found: string[] = [];
  // Depth first in key order, with an explicit stack and no deeper than any valid body (parseInput refuses deeper).
  const stack: { value: unknown; path: string; key: string | null; depth: number }[] = [{ value: body, path: '', key: null, depth: 0 }];
  while (stack.length > 0) {
    const { value, path, key, depth } = stack.pop()!;
    if (key !== null && PRICE_FIELD.test(key)) found.push(path);
    if (typeof value !== 'object' || value === null || depth >= MAX_INPUT_DEPTH) continue;
    const children = Array.isArray(value)
      ? value.map((v, i) => ({ value: v as unknown, path: `${path}[${i}]`, key: null, depth: depth + 1 }))
      : Object.entries(value).map(([k, v]) => ({ value: v as unknown, path: path ? `${path}.${k}` : k, key: k, depth: depth + 1 }));
    stack.push(...children.reverse());
  }
  return found;
}

/** A tampered checkout is told exactly which field was refused, never priced silently. */
export function rejectClientPrices(body: unknown): void {
  const fields = priceFields(body);
  if (fields.length > 0) {
    throw new BadRequestException({
      error: 'client_price_rejected',
      message: `prices are computed by the server; remove ${fields.map((f) => `'${f}'`).join(', ')} from the request`,
      issues: fields.map((path) => ({ path, message: 'prices are computed by the server' })),
    });
  }
}
