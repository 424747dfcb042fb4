import type { DataSource } from 'typeorm';

/**
 * Rows a service may forget after a while: published outbox messages, inbox records older than any redelivery,
 * stored answers to idempotent requests, raw Stripe events past their replay window. Without it these tables grow
 * with every event for ever (at 2,000 webhooks/s, about 170 million rows a day in each of them).
 */
export interface RetentionRule {
  /** The table, for logs and metrics. */
  table: string;
  /** How long a row is kept; 0 keeps rows for ever. */
  keepMs: number;
  /**
   * A query returning the `ctid` of at most `$2` rows that may go, given the cutoff `$1` (a timestamptz). It must
   * be cheap when nothing is due: an index scan in age order, or a bounded look at the oldest rows.
   */
  candidates: string;
}

const identifier = /^[a-z_][a-z0-9_]*$/;

/** A table whose rows go once `column` (indexed) is older than the cutoff. */
export function olderThan(table: string, column: string, keepMs: number): RetentionRule {
  if (!identifier.test(table) || !identifier.test(column)) throw new Error(`not plain identifiers: ${table}.${column}`);
  return {
    table,
    keepMs,
    candidates: `SELECT ctid FROM ${table} WHERE ${column} < $1 ORDER BY ${column} LIMIT $2`,
  };
}

/**
 * Published outbox rows. The outbox has no index on time (the relay's own reads use `seq`), so a pass looks at the
 * oldest `$2` rows by `seq` and takes those published before the cutoff: bounded work, and the oldest rows are the
 * first to be both old and published. An unpublished row is never deleted.
 */
export function outboxRetention(keepMs: number): RetentionRule {
  return {
    table: 'outbox',
    keepMs,
    candidates: `SELECT ctid FROM (SELECT ctid, created_at, published_at FROM outbox ORDER BY seq LIMIT $2) oldest
                  WHERE published_at IS NOT NULL AND created_at < $1`,
  };
}

/** Inbox records: once older than any redelivery can be, a message id is not needed to recognise a duplicate. */
export function inboxRetention(keepMs: number): RetentionRule {
  return olderThan('inbox', 'processed_at', keepMs);
}

/** Dead letters once redriven (decision 0021); one still pending is kept until an operator redrives it. Few rows. */
export function deadLetterRetention(keepMs: number): RetentionRule {
  return olderThan('dead_letters', 'redriven_at', keepMs);
}

/** Deletes one batch of `rule`'s due rows; returns how many went. */
export async function pruneBatch(ds: DataSource, rule: RetentionRule, now: Date, limit: number): Promise<number> {
  const cutoff = new Date(now.getTime() - rule.keepMs);
  const result = await ds.query<[unknown[], number] | unknown[]>(
    `DELETE FROM ${rule.table} WHERE ctid = ANY(ARRAY(${rule.candidates}))`,
    [cutoff, limit],
  );
  // TypeORM answers a DELETE with [rows, affected count].
  return Array.isArray(result[0]) ? (result[1] as number) : 0;
}
