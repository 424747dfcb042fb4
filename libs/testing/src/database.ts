import { Pool } from 'pg';

/** Direct SQL for assertions on final state. */
export class TestDatabase {
  private readonly pool: Pool;

  constructor(url: string) {
    this.pool = new Pool({ connectionString: url, max: 4 });
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const res = await this.pool.query(sql, params);
    return res.rows as T[];
  }

  async scalar<T = number>(sql: string, params: unknown[] = []): Promise<T> {
    const [row] = await this.query(sql, params);
    const v = row ? Object.values(row)[0] : undefined;
    return (typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v) as T;
  }

  async dropSchema(schema: string): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
