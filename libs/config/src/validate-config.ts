import { z } from 'zod';

/** Thrown at startup; `main.ts` prints `message` and exits non-zero. */
export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigValidationError';
  }
}

/**
 * Validates the environment against a schema and lists every bad setting at once (not just the first),
 * naming the variable, so an operator fixes a deployment in one go. Values are never echoed: some are secrets.
 */
export function validateConfig<S extends z.ZodTypeAny>(schema: S, env: Record<string, unknown>): z.infer<S> {
  const result = schema.safeParse(env);
  // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- z.infer of a generic schema is opaque here
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(root)';
    const missing = issue.code === 'invalid_type' && issue.received === 'undefined';
    return missing ? `${name}: is required but not set` : `${name}: ${issue.message}`;
  });
  throw new ConfigValidationError(problems);
}
