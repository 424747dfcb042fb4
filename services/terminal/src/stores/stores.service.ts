import { Inject, Injectable } from '@nestjs/common';
import { JsonLogger } from '@omnipay/observability';
import { STRIPE, stripeIdempotencyKey } from '@omnipay/stripe';
import type Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { conflict, fromStripeError, notFound } from '../common/http-errors';
import type { CreateStoreBody } from './stores.dto';

export interface Store {
  id: string;
  displayName: string;
  address: CreateStoreBody['address'];
  stripeLocationId: string;
  createdAt: Date;
}

type Row = {
  id: string;
  display_name: string;
  address: Store['address'];
  stripe_location_id: string;
  created_at: Date;
};
const toStore = (r: Row): Store => ({
  id: r.id,
  displayName: r.display_name,
  address: r.address,
  stripeLocationId: r.stripe_location_id,
  createdAt: r.created_at,
});

/** Our stores, each one Stripe Terminal location. */
@Injectable()
export class StoresService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: JsonLogger,
    @Inject(STRIPE) private readonly stripe: Stripe,
  ) {}

  /**
   * Idempotent by store id: the Stripe key is derived from it, so a repeat (or a restart after a crash between
   * Stripe and our insert) gets the same location; the same id with other details is a 409.
   */
  async create(body: CreateStoreBody): Promise<{ store: Store; created: boolean }> {
    const existing = await this.find(body.id);
    if (existing) {
      if (!sameDetails(existing, body))
        throw conflict('store_conflict', `store ${body.id} exists with other details`);
      return { store: existing, created: false };
    }
    let location: Stripe.Terminal.Location;
    try {
      const a = body.address;
      location = await this.stripe.terminal.locations.create(
        {
          display_name: body.displayName,
          address: {
            line1: a.line1,
            ...(a.line2 ? { line2: a.line2 } : {}),
            city: a.city,
            postal_code: a.postalCode,
            ...(a.state ? { state: a.state } : {}),
            country: a.country,
          },
          metadata: { platform: 'omnipay', storeId: body.id },
        },
        { idempotencyKey: stripeIdempotencyKey('terminal.location.create', body.id) },
      );
    } catch (error) {
      this.logger.pino.warn({ storeId: body.id, err: stripeMessage(error) }, 'Stripe refused the location');
      throw fromStripeError(error) ?? error;
    }
    const inserted = await this.dataSource.query<unknown[]>(
      `INSERT INTO stores (id, display_name, address, stripe_location_id) VALUES ($1,$2,$3,$4)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [body.id, body.displayName, JSON.stringify(body.address), location.id],
    );
    const store = await this.get(body.id);
    if (inserted.length === 0 && !sameDetails(store, body))
      throw conflict('store_conflict', `store ${body.id} exists with other details`);
    if (inserted.length > 0)
      this.logger.pino.info({ storeId: store.id, stripeLocationId: store.stripeLocationId }, 'store created');
    return { store, created: inserted.length > 0 };
  }

  async list(): Promise<Store[]> {
    const rows = await this.dataSource.query<Row[]>(`SELECT * FROM stores ORDER BY id`);
    return rows.map(toStore);
  }

  async find(id: string): Promise<Store | null> {
    const [row] = await this.dataSource.query<Row[]>(`SELECT * FROM stores WHERE id = $1`, [id]);
    return row ? toStore(row) : null;
  }

  async get(id: string): Promise<Store> {
    const store = await this.find(id);
    if (!store) throw notFound(`store ${id}`);
    return store;
  }

  /** For SDK-driven POS apps: a token that can only connect readers of this store's location. */
  async connectionToken(storeId: string): Promise<{ storeId: string; location: string; secret: string }> {
    const store = await this.get(storeId);
    try {
      const token = await this.stripe.terminal.connectionTokens.create({ location: store.stripeLocationId });
      return { storeId, location: store.stripeLocationId, secret: token.secret };
    } catch (error) {
      throw fromStripeError(error) ?? error;
    }
  }
}

function sameDetails(store: Store, body: CreateStoreBody): boolean {
  const norm = (a: CreateStoreBody['address']) =>
    JSON.stringify([a.line1, a.line2 ?? null, a.city, a.postalCode, a.state ?? null, a.country]);
  return store.displayName === body.displayName && norm(store.address) === norm(body.address);
}

export function stripeMessage(error: unknown): string {
  const e = error as { type?: string; code?: string; message?: string };
  return `${e.type ?? 'Error'} ${e.code ?? ''} ${String(e.message ?? '')}`.slice(0, 300);
}
