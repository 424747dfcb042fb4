import { Headers, uuidFromName } from '@omnipay/contracts';
import type { KafkaMessage } from 'kafkajs';
import type { DataSource, EntityManager } from 'typeorm';

/** A message a consumer group gave up on, as kept in its `dead_letters` table (decision 0021). */
export interface DeadLetter {
  consumerGroup: string;
  messageId: string;
  /** Logical topic (without the deployment's prefix). */
  topic: string;
  partition: number;
  offset: string;
  messageType: string;
  key: string | null;
  payload: string;
  headers: Record<string, string>;
  reason: string;
  attempts: number;
  deadLetteredAt: Date;
  /** When it was settled: redriven, or discarded by an operator (`discarded`). */
  redrivenAt: Date | null;
  discarded: boolean;
}

interface Row {
  consumer_group: string;
  message_id: string;
  topic: string;
  partition: number;
  offset: string;
  message_type: string;
  key: string | null;
  payload: string;
  headers: Record<string, string>;
  reason: string;
  attempts: number;
  dead_lettered_at: Date;
  redriven_at: Date | null;
  discarded: boolean;
}

const fromRow = (r: Row): DeadLetter => ({
  consumerGroup: r.consumer_group,
  messageId: r.message_id,
  topic: r.topic,
  partition: r.partition,
  offset: r.offset,
  messageType: r.message_type,
  key: r.key,
  payload: r.payload,
  headers: r.headers,
  reason: r.reason,
  attempts: r.attempts,
  deadLetteredAt: r.dead_lettered_at,
  redrivenAt: r.redriven_at,
  discarded: r.discarded,
});

/** PostgreSQL's text and jsonb refuse NUL; a header or key holding one must not keep a partition from moving on. */
const noNul = (v: string): string => v.replaceAll('\u0000', '');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What a malformed message is kept under: its envelope's id and type when it has them (a schema refused its data),
 * else an id made from where it lay and its `message-type` header (or `malformed`).
 */
export function malformedLetterId(
  groupId: string,
  topic: string,
  partition: number,
  raw: Pick<KafkaMessage, 'value' | 'headers' | 'offset'>,
): { id: string; type: string } {
  let body: { id?: unknown; type?: unknown } | undefined;
  try {
    const parsed: unknown = JSON.parse(raw.value?.toString() ?? '');
    if (parsed && typeof parsed === 'object') body = parsed as typeof body;
  } catch {
    // not JSON at all
  }
  const id = typeof body?.id === 'string' && UUID.test(body.id) ? body.id.toLowerCase() : uuidFromName(`dead-letter:${groupId}:${topic}:${partition}:${raw.offset}`);
  const type = typeof body?.type === 'string' ? body.type : (raw.headers?.[Headers.messageType]?.toString() ?? 'malformed');
  return { id, type: noNul(type).slice(0, 200) };
}

/**
 * In the transaction that marks the inbox record dead-lettered. A message dead-lettered again starts over, as the
 * latest delivery of it: a malformed copy kept under the same envelope id must not outlive a valid one, or the
 * other way round.
 */
export async function recordDeadLetter(m: EntityManager, d: Omit<DeadLetter, 'deadLetteredAt' | 'redrivenAt' | 'discarded'>): Promise<void> {
  const headers = Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [noNul(k), noNul(v)]));
  await m.query(
    `INSERT INTO dead_letters (consumer_group, message_id, topic, partition, "offset", message_type, key, payload, headers, reason, attempts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (consumer_group, message_id) DO UPDATE
       SET topic = EXCLUDED.topic, partition = EXCLUDED.partition, "offset" = EXCLUDED."offset",
           message_type = EXCLUDED.message_type, key = EXCLUDED.key, payload = EXCLUDED.payload, headers = EXCLUDED.headers,
           reason = EXCLUDED.reason, attempts = EXCLUDED.attempts, dead_lettered_at = clock_timestamp(), redriven_at = NULL,
           discarded = false`,
    [d.consumerGroup, d.messageId, d.topic, d.partition, d.offset, d.messageType, d.key === null ? null : noNul(d.key), noNul(d.payload), JSON.stringify(headers), noNul(d.reason), d.attempts],
  );
}

/** Oldest first; `pending` = not redriven yet. */
export async function listDeadLetters(
  ds: DataSource | EntityManager,
  q: { group?: string; pending?: boolean; messageIds?: string[]; limit: number },
): Promise<DeadLetter[]> {
  const rows = await ds.query<Row[]>(
    `SELECT * FROM dead_letters
      WHERE ($1::text IS NULL OR consumer_group = $1)
        AND ($2::boolean IS NULL OR (redriven_at IS NULL) = $2)
        AND ($3::uuid[] IS NULL OR message_id = ANY($3::uuid[]))
      ORDER BY dead_lettered_at, message_id LIMIT $4`,
    [q.group ?? null, q.pending ?? null, q.messageIds ?? null, q.limit],
  );
  return rows.map(fromRow);
}

/**
 * Takes a pending dead letter for a redrive, in the redrive's transaction: locked (a second redrive of it waits,
 * then finds it done), its dead-lettered inbox record removed so the group can apply it, and marked redriven (which
 * rolls back with the transaction if applying it fails again).
 */
export async function takeForRedrive(m: EntityManager, group: string, messageId: string): Promise<boolean> {
  // A SELECT around the UPDATE: TypeORM answers a bare UPDATE ... RETURNING with [rows, count], not rows.
  const [{ taken }] = await m.query<{ taken: number }[]>(
    `WITH t AS (UPDATE dead_letters SET redriven_at = clock_timestamp()
                 WHERE consumer_group = $1 AND message_id = $2 AND redriven_at IS NULL RETURNING 1)
     SELECT count(*)::int AS taken FROM t`,
    [group, messageId],
  );
  if (taken === 0) return false;
  await m.query(`DELETE FROM inbox WHERE consumer_group = $1 AND message_id = $2 AND outcome = 'dead_lettered'`, [group, messageId]);
  return true;
}

/**
 * Settles pending dead letters no release will ever apply (a producer's garbage, a test message): they leave the
 * pending count and listing, marked `discarded`, and are deleted with the redriven ones by retention. Their inbox
 * records stay `dead_lettered`, so a redelivery is still dropped. Ids not pending are `skipped`.
 */
export async function discardDeadLetters(ds: DataSource, group: string, messageIds: string[]): Promise<{ discarded: string[]; skipped: string[] }> {
  const rows = await ds.query<{ message_id: string }[]>(
    `WITH d AS (UPDATE dead_letters SET redriven_at = clock_timestamp(), discarded = true
                 WHERE consumer_group = $1 AND message_id = ANY($2::uuid[]) AND redriven_at IS NULL RETURNING message_id)
     SELECT message_id FROM d`,
    [group, messageIds],
  );
  const discarded = new Set(rows.map((r) => r.message_id));
  return { discarded: messageIds.filter((id) => discarded.has(id)), skipped: messageIds.filter((id) => !discarded.has(id)) };
}
