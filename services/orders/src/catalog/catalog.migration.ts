import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Stock locations: physical stores (pickup, in-store) and the online fulfilment centre (ship). */
export const SEED_LOCATIONS = [
  { id: 'store_berlin', name: 'Berlin Mitte', kind: 'store', country: 'de' },
  { id: 'store_paris', name: 'Paris Marais', kind: 'store', country: 'fr' },
  { id: 'store_nyc', name: 'New York SoHo', kind: 'store', country: 'us' },
  { id: 'online_fc', name: 'Online fulfilment centre', kind: 'fulfilment', country: 'de' },
] as const;

/** Demo catalog; prices in minor units per currency. Tests rely on these SKUs and prices. */
export const SEED_PRODUCTS = [
  { sku: 'TSHIRT-BLK-M', name: 'T-shirt, black, M', prices: { usd: 2500, eur: 2300, gbp: 2000 } },
  { sku: 'HOODIE-GRY-L', name: 'Hoodie, grey, L', prices: { usd: 6000, eur: 5500, gbp: 4800 } },
  { sku: 'MUG-WHT', name: 'Mug, white', prices: { usd: 1250, eur: 1100 } },
  { sku: 'CAP-NVY', name: 'Cap, navy', prices: { usd: 1999, eur: 1899 } },
  { sku: 'STICKER-PACK', name: 'Sticker pack', prices: { usd: 499, eur: 450, jpy: 700 } },
] as const;

export class Catalog1710000000100 implements MigrationInterface {
  name = 'Catalog1710000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE locations (
        id      text PRIMARY KEY,
        name    text NOT NULL,
        kind    text NOT NULL CHECK (kind IN ('store', 'fulfilment')),
        country text NOT NULL
      )`);
    await q.query(`
      CREATE TABLE products (
        sku    text PRIMARY KEY,
        name   text NOT NULL,
        active boolean NOT NULL DEFAULT true
      )`);
    await q.query(`
      CREATE TABLE product_prices (
        sku         text NOT NULL REFERENCES products (sku),
        currency    text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
        unit_amount bigint NOT NULL CHECK (unit_amount > 0),
        PRIMARY KEY (sku, currency)
      )`);
    for (const l of SEED_LOCATIONS) {
      await q.query('INSERT INTO locations (id, name, kind, country) VALUES ($1, $2, $3, $4)', [
        l.id,
        l.name,
        l.kind,
        l.country,
      ]);
    }
    for (const p of SEED_PRODUCTS) {
      await q.query('INSERT INTO products (sku, name) VALUES ($1, $2)', [p.sku, p.name]);
      for (const [currency, amount] of Object.entries(p.prices)) {
        await q.query('INSERT INTO product_prices (sku, currency, unit_amount) VALUES ($1, $2, $3)', [
          p.sku,
          currency,
          amount,
        ]);
      }
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE product_prices; DROP TABLE products; DROP TABLE locations');
  }
}
