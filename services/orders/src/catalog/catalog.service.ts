import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { CatalogPrice } from './pricing';

export interface Location {
  id: string;
  name: string;
  kind: 'store' | 'fulfilment';
  country: string;
}

@Injectable()
export class CatalogService {
  constructor(private readonly dataSource: DataSource) {}

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
