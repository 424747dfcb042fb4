import { BadRequestException } from '@nestjs/common';
import { nulCharacters } from '@omnipay/platform';
import type { z } from 'zod';

/**
 * Parses client input; a failure is a 400 listing each bad field (`path: message`). `where` names the input itself
 * when it is not a body (a path parameter): an issue about the whole value is reported under that name.
 */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown, where = '(body)'): z.infer<S> {
  const nul = nulCharacters(input);
  if (nul.length > 0) {
    throw new BadRequestException({
      error: 'invalid_request',
      message: 'the request is invalid',
      issues: nul.map((path) => ({ path: path === '(body)' ? where : path, message: 'must not contain NUL characters' })),
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

export function priceFields(body: unknown, path = ''): string[] {
  if (Array.isArray(body)) return body.flatMap((v, i) => priceFields(v, `${path}[${i}]`));
  if (typeof body !== 'object' || body === null) return [];
  return Object.entries(body).flatMap(([k, v]) => {
    const here = path ? `${path}.${k}` : k;
    return [...(PRICE_FIELD.test(k) ? [here] : []), ...priceFields(v, here)];
  });
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
