// A payments schema of its own for a reconciliation benchmark, with N succeeded card payments whose charges the
// reconciliation worker has done (`pay_i`, `ord_i`, `pi_i`, `ch_i`, 2000 usd each).
import { MessagingRetention1700000000010, MessagingTables1700000000000, dataSourceOptions, ensureSchema, runMigrations } from '@omnipay/persistence';
import { DataSource } from 'typeorm';
import { paymentsMigrations } from '../../services/payments/src/migrations';
import { loadInfraEnv } from '../processes';

export async function paymentsBenchSchema(prefix: string, payments: number): Promise<{ ds: DataSource; schema: string; drop(): Promise<void> }> {
  loadInfraEnv(['DATABASE_URL']);
  const url = process.env.DATABASE_URL!;
  const schema = `${prefix}_${Date.now().toString(36)}`;
  await ensureSchema(url, schema);
  const ds = new DataSource(
    dataSourceOptions({ url, schema, poolSize: 4, entities: [], migrations: [MessagingTables1700000000000, MessagingRetention1700000000010, ...paymentsMigrations] }),
  );
  await ds.initialize();
  await runMigrations(ds, schema);
  await ds.query(
    `INSERT INTO payments (id, order_id, attempt, channel, amount, currency, capture_method, payment_intent_id, charge_id, status)
     SELECT 'pay_' || i, 'ord_' || i, 1, 'web', 2000, 'usd', 'automatic', 'pi_' || i, 'ch_' || i, 'succeeded' FROM generate_series(0, $1 - 1) i`,
    [payments],
  );
  await ds.query(
    `INSERT INTO reconciliation_sources (source_id, kind, payment_id, done_at) SELECT 'ch_' || i, 'charge', 'pay_' || i, now() FROM generate_series(0, $1 - 1) i`,
    [payments],
  );
  return {
    ds,
    schema,
    async drop() {
      if (!process.argv.includes('--keep')) await ds.query(`DROP SCHEMA "${schema}" CASCADE`).catch(() => undefined);
      await ds.destroy();
    },
  };
}
