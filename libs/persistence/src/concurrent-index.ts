import type { QueryRunner } from 'typeorm';

const identifier = /^[a-z_][a-z0-9_]*$/;

/**
 * Builds an index on a table that may already be large and busy, from a migration with `transaction = false`:
 * `CREATE INDEX CONCURRENTLY` takes no lock that blocks writers, and runs without the connection's statement and
 * lock timeouts (a plain CREATE INDEX on a big inbox would block every consumer's insert, and the 15 s statement
 * timeout would fail the start over and over). An index a failed earlier attempt left invalid is dropped first
 * (`IF NOT EXISTS` would keep it).
 */
export async function createIndexConcurrently(
  q: QueryRunner,
  name: string,
  table: string,
  columns: string[],
  /** A partial index's predicate: SQL of the migration's own, never input. */
  where?: string,
): Promise<void> {
  for (const id of [name, table, ...columns]) if (!identifier.test(id)) throw new Error(`not a plain identifier: ${id}`);
  await q.query('SET statement_timeout = 0');
  await q.query('SET lock_timeout = 0');
  try {
    const rows = (await q.query(
      `SELECT 1 AS n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid`,
      [name],
    )) as { n: number }[];
    if (rows.length > 0) await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${name} ON ${table} (${columns.join(', ')})${where ? ` WHERE ${where}` : ''}`);
  } finally {
    await q.query('RESET statement_timeout');
    await q.query('RESET lock_timeout');
  }
}

export async function dropIndexConcurrently(q: QueryRunner, name: string): Promise<void> {
  if (!identifier.test(name)) throw new Error(`not a plain identifier: ${name}`);
  await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${name}`);
}
