import { Inject, Injectable } from '@nestjs/common';
import { ReaderRegistered, type ReaderId, type StoreId } from '@omnipay/contracts';
import { OutboxService, UnitOfWork } from '@omnipay/messaging';
import { JsonLogger } from '@omnipay/observability';
import { STRIPE, stripeIdempotencyKey, stripeErrorInfo } from '@omnipay/stripe';
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { conflict, fromStripeError, notFound } from '../common/http-errors';
import { deterministicUuid, newReaderId } from '../common/ids';
import { actionView } from '../reader-payments/reader-action.model';
import { ReaderActionsRepository } from '../reader-payments/reader-actions.repository';
import { StoresService, stripeMessage } from '../stores/stores.service';
import type { RegisterReaderBody } from './readers.dto';

export interface Reader {
  id: string;
  storeId: string;
  stripeReaderId: string;
  label: string;
  deviceType: string | null;
  serialNumber: string | null;
  registeredAt: Date;
}

type Row = {
  id: string;
  store_id: string;
  stripe_reader_id: string;
  label: string;
  device_type: string | null;
  serial_number: string | null;
  registered_at: Date;
};
const toReader = (r: Row): Reader => ({
  id: r.id,
  storeId: r.store_id,
  stripeReaderId: r.stripe_reader_id,
  label: r.label,
  deviceType: r.device_type,
  serialNumber: r.serial_number,
  registeredAt: r.registered_at,
});

/** Card readers, each registered to exactly one store (its Stripe location). */
@Injectable()
export class ReadersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly outbox: OutboxService,
    private readonly stores: StoresService,
    private readonly actions: ReaderActionsRepository,
    private readonly logger: JsonLogger,
    @Inject(STRIPE) private readonly stripe: Stripe,
  ) {}

  /**
   * Registers at the store's location. With an Idempotency-Key the Stripe call carries a key derived from it,
   * so a retried request registers once; a registration code is single-use at Stripe anyway.
   */
  async register(storeId: string, body: RegisterReaderBody, requestKey?: string): Promise<Reader> {
    const store = await this.stores.get(storeId);
    let sr: Stripe.Terminal.Reader;
    try {
      sr = await this.stripe.terminal.readers.create(
        {
          registration_code: body.registrationCode,
          label: body.label,
          location: store.stripeLocationId,
          metadata: { platform: 'omnipay', storeId },
        },
        {
          idempotencyKey: stripeIdempotencyKey('terminal.reader.create', storeId, requestKey ?? randomUUID()),
        },
      );
    } catch (error) {
      this.logger.pino.warn({ storeId, err: stripeMessage(error) }, 'Stripe refused the reader registration');
      throw fromStripeError(error) ?? error;
    }
    return this.uow.run(async (m) => {
      const [existing] = await m.query<Row[]>(`SELECT * FROM readers WHERE stripe_reader_id = $1`, [sr.id]);
      if (existing) return toReader(existing);
      const [row] = await m.query<Row[]>(
        `INSERT INTO readers (id, store_id, stripe_reader_id, label, device_type, serial_number)
         VALUES ($1,$2,$3,$4,$5,$6) RETURNING *`,
        [
          newReaderId(),
          storeId,
          sr.id,
          sr.label ?? body.label,
          sr.device_type ?? null,
          sr.serial_number ?? null,
        ],
      );
      const reader = toReader(row);
      await this.outbox.add(
        m,
        ReaderRegistered,
        {
          readerId: reader.id as ReaderId,
          storeId: storeId as StoreId,
          stripeReaderId: reader.stripeReaderId,
          label: reader.label,
        },
        { id: deterministicUuid(`${reader.id}:registered`) },
      );
      this.logger.pino.info({ storeId, readerId: reader.id, stripeReaderId: sr.id }, 'reader registered');
      return reader;
    });
  }

  /** A registered reader of this store; a reader of another store (or a deregistered one) is a 404. */
  async get(storeId: string, readerId: string): Promise<Reader> {
    const [row] = await this.dataSource.query<Row[]>(
      `SELECT * FROM readers WHERE id = $1 AND store_id = $2 AND deregistered_at IS NULL`,
      [readerId, storeId],
    );
    if (!row) throw notFound(`reader ${readerId} of store ${storeId}`);
    return toReader(row);
  }

  /** Any reader by our id, deregistered or not (background work on its past actions). */
  async byId(readerId: string): Promise<Reader> {
    const [row] = await this.dataSource.query<Row[]>(`SELECT * FROM readers WHERE id = $1`, [readerId]);
    if (!row) throw notFound(`reader ${readerId}`);
    return toReader(row);
  }

  async byStripeId(stripeReaderId: string): Promise<Reader | null> {
    const [row] = await this.dataSource.query<Row[]>(`SELECT * FROM readers WHERE stripe_reader_id = $1`, [
      stripeReaderId,
    ]);
    return row ? toReader(row) : null;
  }

  /** The store's readers with Stripe's live status (null when Stripe cannot be reached) and our current action. */
  async list(storeId: string) {
    const store = await this.stores.get(storeId);
    const rows = await this.dataSource.query<Row[]>(
      `SELECT * FROM readers WHERE store_id = $1 AND deregistered_at IS NULL ORDER BY registered_at`,
      [storeId],
    );
    const live = new Map<string, Stripe.Terminal.Reader>();
    try {
      for await (const r of this.stripe.terminal.readers.list({
        location: store.stripeLocationId,
        limit: 100,
      }))
        live.set(r.id, r);
    } catch (error) {
      this.logger.pino.warn({ storeId, err: stripeMessage(error) }, 'reader status unavailable from Stripe');
    }
    const readers = await Promise.all(
      rows.map((r) => this.view(toReader(r), live.get(r.stripe_reader_id) ?? null)),
    );
    return { storeId, readers };
  }

  async getView(storeId: string, readerId: string) {
    const reader = await this.get(storeId, readerId);
    let live: Stripe.Terminal.Reader | null = null;
    try {
      const r = await this.stripe.terminal.readers.retrieve(reader.stripeReaderId);
      live = 'deleted' in r && r.deleted ? null : (r as Stripe.Terminal.Reader);
    } catch (error) {
      this.logger.pino.warn({ readerId, err: stripeMessage(error) }, 'reader status unavailable from Stripe');
    }
    return this.view(reader, live);
  }

  /** Refused while the reader runs an action; Stripe forgetting the reader first is fine (already gone = done). */
  async deregister(storeId: string, readerId: string) {
    const reader = await this.get(storeId, readerId);
    if (await this.actions.activeForReader(this.dataSource.manager, reader.id))
      throw conflict('reader_busy', 'the reader is running an action; cancel it first');
    try {
      await this.stripe.terminal.readers.del(reader.stripeReaderId);
    } catch (error) {
      if (stripeErrorInfo(error)?.code !== 'resource_missing') throw fromStripeError(error) ?? error;
    }
    await this.dataSource.query(
      `UPDATE readers SET deregistered_at = now() WHERE id = $1 AND deregistered_at IS NULL`,
      [reader.id],
    );
    this.logger.pino.info({ storeId, readerId }, 'reader deregistered');
    return { readerId, storeId, deregistered: true };
  }

  private async view(reader: Reader, live: Stripe.Terminal.Reader | null) {
    const active = await this.actions.activeForReader(this.dataSource.manager, reader.id);
    return {
      readerId: reader.id,
      storeId: reader.storeId,
      stripeReaderId: reader.stripeReaderId,
      label: reader.label,
      deviceType: reader.deviceType,
      serialNumber: reader.serialNumber,
      status: live?.status ?? null,
      /** Stripe's view of the reader's current action (type and status), if any. */
      stripeAction: live?.action ? { type: live.action.type, status: live.action.status } : null,
      currentAction: active ? actionView(active) : null,
      registeredAt: reader.registeredAt,
    };
  }
}
