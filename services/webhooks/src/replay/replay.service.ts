import { Injectable } from '@nestjs/common';
import { OutboxService } from '@omnipay/messaging';
import { currentContext } from '@omnipay/observability';
import { DataSource } from 'typeorm';
import { eventFacts, envelopeIdFor } from '../stripe-events/stripe-event';
import { outboxItem } from '../stripe-events/stripe-event-store';
import { replayedEvents } from '../stripe-events/webhook.metrics';
import type { ReplayRequest } from './dto/replay-request.dto';

interface StoredRow {
  event_id: string;
  payload: string;
  received_at: Date;
}

const CHUNK = 500;

/**
 * Re-publishes stored events through the outbox with their original envelope ids, so a consumer group being
 * rebuilt receives them again while groups that already applied them drop them in their inbox.
 *
 * The outbox keeps one row per envelope id (`UNIQUE (id)`, and `addMany` skips a known id), so re-adding would
 * publish nothing. Each chunk therefore deletes the old outbox rows of its events and inserts them again in one
 * transaction: the new rows get new sequence numbers and the relay publishes them like any other. A row the relay
 * is publishing right now is locked; the delete waits for it, so that copy still goes out and the replay adds
 * one more. Nothing is lost by the delete: a published outbox row is only history, and the event itself stays
 * in `stripe_events`.
 */
@Injectable()
export class ReplayService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxService,
  ) {}

  async replay(req: ReplayRequest): Promise<number> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (req.eventIds) add('event_id = ANY(?::text[])', req.eventIds);
    if (req.type?.endsWith('.*')) add("type LIKE ? || '%'", req.type.slice(0, -1));
    else if (req.type) add('type = ?', req.type);
    if (req.from) add('received_at >= ?', new Date(req.from));
    if (req.to) add('received_at < ?', new Date(req.to));

    const correlationId = currentContext()?.correlationId;
    let queued = 0;
    let after = null as { at: Date; id: string } | null;
    for (;;) {
      const page: string[] = [...where];
      const pageParams = [...params];
      if (after) {
        pageParams.push(after.at, after.id);
        page.push(`(received_at, event_id) > ($${pageParams.length - 1}, $${pageParams.length})`);
      }
      const rows = await this.dataSource.transaction(async (manager) => {
        const rows: StoredRow[] = await manager.query(
          `SELECT event_id, payload, received_at FROM stripe_events WHERE ${page.join(' AND ')}
            ORDER BY received_at, event_id LIMIT ${CHUNK}`,
          pageParams,
        );
        if (rows.length === 0) return rows;
        await manager.query('DELETE FROM outbox WHERE id = ANY($1::uuid[])', [
          rows.map((r) => envelopeIdFor(r.event_id)),
        ]);
        const items = rows.map((r) => {
          const event = JSON.parse(r.payload) as Record<string, unknown>;
          const facts = eventFacts(event);
          // Stored rows passed the same check on the way in; a failure here means the table was edited by hand.
          if (!facts || facts.eventId !== r.event_id)
            throw new Error(`stored Stripe event ${r.event_id} does not parse`);
          return outboxItem(facts, event, r.received_at, correlationId ?? 'replay', r.payload);
        });
        await this.outbox.addMany(manager, items);
        return rows;
      });
      if (rows.length === 0) break;
      queued += rows.length;
      this.outbox.nudge();
      if (rows.length < CHUNK) break;
      after = { at: rows[rows.length - 1].received_at, id: rows[rows.length - 1].event_id };
    }
    replayedEvents.inc(queued);
    return queued;
  }
}
