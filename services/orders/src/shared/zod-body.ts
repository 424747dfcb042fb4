import type { ZodType, ZodTypeDef } from 'zod';
import { badRequest } from './http-errors';

/**
 * Validates a request body with a strict zod schema. Strict, not stripping: a field the API does not know is an
 * error that names the field, so a client learns at once that what it sent was not used.
 */
export function parseBody<T>(schema: ZodType<T, ZodTypeDef, unknown>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => {
    const path = i.path.join('.');
    if (i.code === 'unrecognized_keys') {
      return { path, fields: i.keys, message: `unknown field(s) ${i.keys.map((k) => `'${k}'`).join(', ')}` };
    }
    return { path: path || '(body)', message: i.message };
  });
  throw badRequest(
    'invalid_request',
    issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '),
    { issues },
  );
}
