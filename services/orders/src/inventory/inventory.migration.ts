import type { MigrationInterface, QueryRunner } from 'typeorm';
import { SEED_LOCATIONS, SEED_PRODUCTS } from '../catalog/catalog.migration';

/** Units of every product at every location in a fresh database (demo and tests; tests set their own counts). */
export const SEED_STOCK = 100;

export class Inventory1710000000300 implements MigrationInterface {
  name = 'Inventory1710000000300';

  async up(q: QueryRunner): Promise<void> {
    // The CHECKs are the last line of defence: no code path can oversell or release more than was reserved.
    await q.query(`
      CREATE TABLE stock (
        sku         text NOT NULL,
        location_id text NOT NULL,
        on_hand     int NOT NULL CHECK (on_hand >= 0),
        reserved    int NOT NULL DEFAULT 0 CHECK (reserved >= 0),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (sku, location_id),
        CHECK (reserved <= on_hand)
      )`);
    // One hold per order: what it reserved where, and what the order expects to be paid (for the mismatch rule).
    await q.query(`
      CREATE TABLE inventory_holds (
        order_id    text PRIMARY KEY,
        location_id text NOT NULL,
        currency    text NOT NULL,
        total       bigint NOT NULL,
        status      text NOT NULL CHECK (status IN ('open', 'committed', 'released', 'flagged', 'shortfall')),
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE inventory_hold_lines (
        order_id text NOT NULL REFERENCES inventory_holds (order_id),
        sku      text NOT NULL,
        quantity int NOT NULL CHECK (quantity > 0),
        returned int NOT NULL DEFAULT 0 CHECK (returned >= 0 AND returned <= quantity),
        PRIMARY KEY (order_id, sku)
      )`);
    // One row per refund that gave items back: a refund restocks once even if re-emitted under another message id.
    await q.query(`
      CREATE TABLE inventory_returns (
        refund_id   text PRIMARY KEY,
        order_id    text NOT NULL,
        location_id text NOT NULL,
        items       jsonb NOT NULL,
        status      text NOT NULL CHECK (status IN ('pending', 'restocked')),
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    for (const l of SEED_LOCATIONS) {
      for (const p of SEED_PRODUCTS) {
        await q.query('INSERT INTO stock (sku, location_id, on_hand) VALUES ($1, $2, $3)', [
          p.sku,
          l.id,
          SEED_STOCK,
        ]);
      }
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      'DROP TABLE inventory_returns; DROP TABLE inventory_hold_lines; DROP TABLE inventory_holds; DROP TABLE stock',
    );
  }
}

/** The inventory consumer looks up an order's pending returns on every committed sale: index them. */
export class InventoryPendingReturns1710000000500 implements MigrationInterface {
  name = 'InventoryPendingReturns1710000000500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX inventory_returns_pending_by_order ON inventory_returns (order_id) WHERE status = 'pending'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX inventory_returns_pending_by_order');
  }
}

/**
 * `flagged_released` (see `HoldStatus`): a released hold decided by a mismatched payment, so that a later success of
 * another payment (a duplicate, refunded) does not take the stock. The new CHECK is validated in the migration's
 * transaction, holding the table's lock for one scan of it (a row per order). Holds flagged and then released
 * before this migration stay `released`: inventory keeps no trace of the mismatch to tell them apart.
 */
export class InventoryFlaggedReleased1710000001100 implements MigrationInterface {
  name = 'InventoryFlaggedReleased1710000001100';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE inventory_holds DROP CONSTRAINT inventory_holds_status_check');
    await q.query(
      `ALTER TABLE inventory_holds ADD CONSTRAINT inventory_holds_status_check
         CHECK (status IN ('open', 'committed', 'released', 'flagged', 'shortfall', 'flagged_released'))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE inventory_holds SET status = 'released' WHERE status = 'flagged_released'`);
    await q.query('ALTER TABLE inventory_holds DROP CONSTRAINT inventory_holds_status_check');
    await q.query(
      `ALTER TABLE inventory_holds ADD CONSTRAINT inventory_holds_status_check
         CHECK (status IN ('open', 'committed', 'released', 'flagged', 'shortfall'))`,
    );
  }
}
