import { Inject, Injectable } from '@nestjs/common';
import { Headers, type DataOf, type Envelope, type MessageDefinition } from '@omnipay/contracts';
import { currentContext, childTraceparent } from '@omnipay/observability';
import type { EntityManager } from 'typeorm';
import { MESSAGING_SETTINGS, type MessagingSettings } from '../messaging.settings';
import { createEnvelope, type EnvelopeOptions } from './create-envelope';

type Listener = () => void;

export interface OutboxItem {
  definition: MessageDefinition;
  data: unknown;
  opts?: EnvelopeOptions;
}

/** A message as the outbox stores and the relay publishes it. */
export interface OutboxRow {
  id: string;
  topic: string;
  key: string;
  /** The envelope's JSON, published byte for byte. */
  payload: string;
  headers: Record<string, string>;
}

/**
 * Transactional outbox. `add` writes the message in the caller's transaction, next to the state change it
 * describes: both commit or neither does. The relay publishes committed rows; `nudge` wakes it right after a
 * commit so the usual lag is milliseconds, while its poll covers rows committed by a process that then died.
 */
@Injectable()
export class OutboxService {
  private readonly listeners = new Set<Listener>();
  /** Transactions (by their manager) that added messages: only those need the relay woken after commit. */
  private readonly written = new WeakSet<EntityManager>();

  constructor(@Inject(MESSAGING_SETTINGS) private readonly settings: MessagingSettings) {}

  async add<D extends MessageDefinition>(
    manager: EntityManager,
    definition: D,
    data: DataOf<D>,
    opts: EnvelopeOptions = {},
  ): Promise<Envelope<DataOf<D>>> {
    const [envelope] = await this.addMany(manager, [{ definition, data, opts }]);
    return envelope as Envelope<DataOf<D>>;
  }

  /** One multi-row INSERT for many messages (a consumer batch producing many events). */
  async addMany(manager: EntityManager, items: OutboxItem[]): Promise<Envelope[]> {
    const insert = this.insertion(manager, items);
    if (insert) await manager.query(insert.sql, insert.params);
    return insert?.envelopes ?? [];
  }

  /**
   * The INSERT `addMany` would run, for a caller that sends it inside a statement of its own (a data-modifying
   * CTE, so a flush of several tables is one round trip). It must run in `manager`'s transaction: the messages
   * count as added there (the relay is nudged after that transaction commits). Undefined for no messages. An item
   * may be a row built earlier by `row` (a message kept back, then released as it was built).
   */
  insertion(
    manager: EntityManager,
    items: (OutboxItem | OutboxRow)[],
  ): { sql: string; params: unknown[]; envelopes: Envelope[] } | undefined {
    if (items.length === 0) return undefined;
    this.written.add(manager);
    let current: string | undefined;
    const traceparent = () => (current ??= childTraceparent(currentContext()?.traceparent));
    const envelopes: Envelope[] = [];
    const values: unknown[] = [];
    const rows: string[] = [];
    for (const item of items) {
      let row: OutboxRow;
      if ('payload' in item) row = item;
      else {
        const built = this.build(item, traceparent);
        envelopes.push(built.envelope);
        row = built.row;
      }
      const n = values.length;
      rows.push(`($${n + 1}::uuid, $${n + 2}::text, $${n + 3}::text, $${n + 4}::text, $${n + 5}::jsonb)`);
      values.push(row.id, row.topic, row.key, row.payload, row.headers);
    }
    // ON CONFLICT: adding a message with a deterministic id twice (a retried request) keeps the first.
    return {
      sql: `INSERT INTO outbox (id, topic, key, payload, headers) VALUES ${rows.join(', ')} ON CONFLICT (id) DO NOTHING`,
      params: values,
      envelopes,
    };
  }

  /**
   * A message as the outbox row it would be, built now (its id, time, correlation and trace are fixed here), for a
   * caller that keeps it back and inserts it later through `insertion`.
   */
  row(item: OutboxItem): OutboxRow {
    return this.build(item, () => childTraceparent(currentContext()?.traceparent)).row;
  }

  private build(
    { definition, data, opts }: OutboxItem,
    traceparent: () => string,
  ): { row: OutboxRow; envelope: Envelope } {
    const envelope = createEnvelope(definition, data as never, this.settings.service, opts);
    const headers: Record<string, string> = {
      [Headers.correlationId]: envelope.correlationId,
      [Headers.traceparent]: opts?.traceparent ? childTraceparent(opts.traceparent) : traceparent(),
      [Headers.messageType]: envelope.type,
      [Headers.messageVersion]: String(envelope.version),
    };
    if (definition.subject) headers[Headers.subject] = definition.subject(envelope.data as never);
    return {
      envelope,
      row: {
        id: envelope.id,
        topic: definition.topic,
        key: definition.key(envelope.data as never),
        payload: JSON.stringify(envelope),
        headers,
      },
    };
  }

  /** For a caller that added messages with SQL of its own (rows moved in from elsewhere): nudge after commit. */
  addedIn(manager: EntityManager): void {
    this.written.add(manager);
  }

  /** Whether messages were added in the transaction of this manager. */
  wroteIn(manager: EntityManager): boolean {
    return this.written.has(manager);
  }

  /** Call after a transaction that added messages has committed. */
  nudge(): void {
    for (const l of this.listeners) l();
  }

  onNudge(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
