import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '@omnipay/platform';
import { DataSource, type EntityManager } from 'typeorm';
import type { OrdersConfig } from '../config';
import type { CatalogPrice } from './pricing';

export interface Location {
  id: string;
  name: string;
  kind: 'store' | 'fulfilment';
  country: string;
}

/**
 * Catalog reads. Every checkout prices its lines and checks its store and currency; those change rarely, so the
 * checkout path reads them through a cache of `CATALOG_CACHE_MS` (a price change reaches checkouts that much
 * later; 0 reads the database every time).
 */
@Injectable()
export class CatalogService {
  private readonly cache = new Map<string, { value: unknown; until: number }>();

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: OrdersConfig,
  ) {}

  /** Active products of `skus` that have a price in `currency`, for a checkout (cached briefly, known SKUs only). */
  async checkoutPrices(skus: string[], currency: string): Promise<Map<string, CatalogPrice>> {
    const found = new Map<string, CatalogPrice>();
    const missing: string[] = [];
    for (const sku of skus) {
      const hit = this.cached<CatalogPrice>(`price:${currency}:${sku}`);
      if (hit) found.set(sku, hit);
      else missing.push(sku);
    }
    if (missing.length === 0) return found;
    for (const [sku, price] of await this.prices(this.dataSource.manager, missing, currency)) {
      this.remember(`price:${currency}:${sku}`, price);
      found.set(sku, price);
    }
    return found;
  }

  /** `location` and `currencies` for a checkout, cached briefly. */
  async checkoutLocation(id: string): Promise<Location | undefined> {
    const hit = this.cached<Location>(`location:${id}`);
    if (hit) return hit;
    const location = await this.location(id);
    if (location) this.remember(`location:${id}`, location);
    return location;
  }

  async checkoutCurrencies(): Promise<Set<string>> {
    const hit = this.cached<Set<string>>('currencies');
    if (hit) return hit;
    const currencies = await this.currencies();
    this.remember('currencies', currencies);
    return currencies;
  }

  private cached<T>(key: string): T | undefined {
    const entry = this.cache.get(key);
    if (!entry) return undefined;
    if (entry.until > Date.now()) return entry.value as T;
    this.cache.delete(key);
    return undefined;
  }

  private remember(key: string, value: unknown): void {
    const ttl = this.config.CATALOG_CACHE_MS;
    if (ttl <= 0) return;
    // Bounded: unknown keys are never stored, and the catalog is what bounds the known ones.
    if (this.cache.size > 10000) this.cache.clear();
    this.cache.set(key, { value, until: Date.now() + ttl });
  }

  /** Active products of `skus` that have a price in `currency`. */
  async prices(manager: EntityManager, skus: string[], currency: string): Promise<Map<string, CatalogPrice>> {
    const rows = await manager.query<{ sku: string; name: string; unit_amount: number }[]>(
      `SELECT p.sku, p.name, pp.unit_amount::int AS unit_amount
         FROM products p JOIN product_prices pp ON pp.sku = p.sku
        WHERE p.active AND pp.currency = $1 AND p.sku = ANY($2::text[])`,
      [currency, skus],
    );
    return new Map(rows.map((r) => [r.sku, { sku: r.sku, name: r.name, unitAmount: Number(r.unit_amount) }]));
  }

  async currencies(manager: EntityManager = this.dataSource.manager): Promise<Set<string>> {
    const rows = await manager.query<{ currency: string }[]>('SELECT DISTINCT currency FROM product_prices');
    return new Set(rows.map((r) => r.currency));
  }

  async location(
    id: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<Location | undefined> {
    const [row] = await manager.query<Location[]>(
      'SELECT id, name, kind, country FROM locations WHERE id = $1',
      [id],
    );
    return row;
  }

  async locations(): Promise<Location[]> {
    return await this.dataSource.query<Location[]>(
      'SELECT id, name, kind, country FROM locations ORDER BY id',
    );
  }

  async products(
    currency?: string,
  ): Promise<{ sku: string; name: string; prices: Record<string, number> }[]> {
    const rows = await this.dataSource.query<
      { sku: string; name: string; currency: string; unit_amount: number }[]
    >(
      `SELECT p.sku, p.name, pp.currency, pp.unit_amount::int AS unit_amount
         FROM products p JOIN product_prices pp ON pp.sku = p.sku
        WHERE p.active AND ($1::text IS NULL OR pp.currency = $1)
        ORDER BY p.sku, pp.currency`,
      [currency ?? null],
    );
    const bySku = new Map<string, { sku: string; name: string; prices: Record<string, number> }>();
    for (const r of rows) {
      const p = bySku.get(r.sku) ?? { sku: r.sku, name: r.name, prices: {} };
      p.prices[r.currency] = Number(r.unit_amount);
      bySku.set(r.sku, p);
    }
    return [...bySku.values()];
  }
}
