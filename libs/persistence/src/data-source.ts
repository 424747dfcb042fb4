import { Client } from 'pg';
import { DataSource, type DataSourceOptions, type EntitySchema, type MixedList } from 'typeorm';
import type { Logger } from 'pino';

export interface DatabaseSettings {
  url: string;
  /** The service's own schema; every unqualified table name resolves into it (search_path). */
  schema: string;
  poolSize: number;
  /** Row-lock wait limit (ms); 5000 unless given. */
  lockTimeoutMs?: number;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>;
}

/**
 * A `DATABASE_URL` may carry server settings in its `options` parameter (`?options=-c%20application_name%3Dx`). pg
 * lets the URL's parameters override the pool's, so left in the URL it would replace our `search_path` and every
 * table would land in `public`: it is taken out and put before ours instead.
 */
export function splitUrlOptions(url: string): { url: string; options: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url, options: undefined };
  }
  const options = parsed.searchParams.get('options') ?? undefined;
  if (options === undefined) return { url, options };
  parsed.searchParams.delete('options');
  return { url: parsed.toString(), options };
}

export function dataSourceOptions(s: DatabaseSettings): DataSourceOptions {
  const { url, options } = splitUrlOptions(s.url);
  return {
    type: 'postgres',
    url,
    schema: s.schema,
    entities: s.entities,
    migrations: s.migrations,
    migrationsTableName: 'migrations',
    // Never `synchronize`: the schema changes only through reviewed migrations (docs/decisions).
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      max: s.poolSize,
      options: [options, `-c search_path=${s.schema}`].filter(Boolean).join(' '),
      connectionTimeoutMillis: 5000,
      // A statement stuck behind a lock must not hang a request or a consumer batch forever.
      statement_timeout: 15000,
      lock_timeout: s.lockTimeoutMs ?? 5000,
      idle_in_transaction_session_timeout: 60000,
    },
  };
}

/** Creates the schema if needed; run before TypeORM connects, because its search_path points there. */
export async function ensureSchema(url: string, schema: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } finally {
    await client.end();
  }
}

/**
 * Runs pending migrations while holding a schema-wide advisory lock, so several replicas starting at once do not
 * race each other through the same migration.
 */
export async function runMigrations(ds: DataSource, schema: string, logger?: Logger): Promise<void> {
  const lockRunner = ds.createQueryRunner();
  await lockRunner.connect();
  try {
    // A replica waits for another's migrations however long they take (neither the lock_timeout nor the
    // statement_timeout of requests applies to this wait); both go back to the connection's defaults before the
    // connection goes back to the pool. The migrations themselves run under the defaults: DDL that waits more than
    // DATABASE_LOCK_TIMEOUT_MS for a busy table fails the start, and the restarted process tries again, rather than
    // queueing every request behind its lock.
    await lockRunner.query('SET lock_timeout = 0');
    await lockRunner.query('SET statement_timeout = 0');
    await lockRunner.query('SELECT pg_advisory_lock(hashtext($1))', [`migrations:${schema}`]);
    await lockRunner.query('RESET lock_timeout');
    await lockRunner.query('RESET statement_timeout');
    const applied = await ds.runMigrations({ transaction: 'each' });
    if (applied.length > 0) logger?.info({ migrations: applied.map((m) => m.name), schema }, 'migrations applied');
  } finally {
    await lockRunner.query('SELECT pg_advisory_unlock(hashtext($1))', [`migrations:${schema}`]).catch(() => undefined);
    await lockRunner.query('RESET lock_timeout').catch(() => undefined);
    await lockRunner.query('RESET statement_timeout').catch(() => undefined);
    await lockRunner.release();
  }
}

/**
 * Deadlock, serialisation failure, lock timeout: the statement was fine, it lost a race with a concurrent
 * transaction. Redoing the whole transaction (after its locks are gone) is the cure; retrying inside it is not.
 */
export function isTransientConflict(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } } | null;
  const code = e?.driverError?.code ?? e?.code ?? '';
  return code === '40P01' || code === '40001' || code === '55P03';
}

/** Postgres error classes that mean "the database is unavailable", not "this statement is wrong". */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string }; message?: string } | null;
  const code = e?.driverError?.code ?? e?.code ?? '';
  if (/^(08|57P|53)/.test(code)) return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code)) return true;
  return /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect/i.test(e?.message ?? '');
}
