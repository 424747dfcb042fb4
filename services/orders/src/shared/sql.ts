import type { EntityManager } from 'typeorm';

/**
 * Rows of an `UPDATE … RETURNING` / `DELETE … RETURNING`. TypeORM's postgres runner answers those with
 * `[rows, rowCount]` but other statements with `rows`; this hides the difference.
 */
export async function returning<T>(manager: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const raw = (await manager.query(sql, params)) as unknown;
  if (Array.isArray(raw) && raw.length === 2 && Array.isArray(raw[0]) && typeof raw[1] === 'number')
    return raw[0] as T[];
  return raw as T[];
}

/**
 * Serialises one module's consumer transactions. The transport applies each partition's chunk (up to 200
 * messages) in one transaction and runs partitions concurrently; two chunks that touch the same rows (a
 * customer's account, a popular SKU) in different orders would deadlock, and the transport retries a deadlocked
 * message inside its still-locked chunk and then dead-letters it. Taking one transaction-scoped advisory lock
 * first makes those chunks queue instead. (Asked of the lead: retry a chunk on 40P01/40001 like an outage.)
 */
export async function serialiseConsumer(manager: EntityManager, module: string): Promise<void> {
  await manager.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`consumer:${module}`]);
}

/** Deadlock or serialisation failure: the transaction was rolled back and can simply be run again. */
export function isRetryableConflict(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return code === '40P01' || code === '40001';
}
