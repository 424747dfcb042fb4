import { z } from 'zod';

/**
 * A calendar day as YYYY-MM-DD (UTC): the shape, and a date that exists (2025-02-30 is refused, not a 500), from
 * 2000 on (before it there are no payments, and PostgreSQL and Stripe refuse some of those dates).
 */
export const utcDay = z
  .string()
  .regex(/^(2\d{3})-\d{2}-\d{2}$/, 'YYYY-MM-DD (UTC), from 2000')
  .refine(
    (d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d),
    'not a date',
  );

const DAY_MS = 86_400_000;

/** The day's first instant and the next day's, in UTC. */
export function dayBounds(day: string): { start: Date; end: Date } {
  const start = new Date(`${day}T00:00:00Z`);
  return { start, end: new Date(start.getTime() + DAY_MS) };
}

/** The UTC day `at` falls on, `offsetDays` later (negative: earlier). */
export function dayOf(at: Date, offsetDays = 0): string {
  return new Date(at.getTime() + offsetDays * DAY_MS).toISOString().slice(0, 10);
}
