import { together } from './together';

describe('several writes as one statement', () => {
  it("numbers each write's parameters after those before it, as CTEs s0, s1, …", () => {
    const { sql, params } = together(
      [
        { sql: 'UPDATE a SET x = $2 WHERE id = $1 RETURNING id', params: ['a1', 5] },
        { sql: 'INSERT INTO b VALUES ($1, $2), ($3, $1)', params: ['b1', 'b2', 'b3'] },
      ],
      'SELECT id FROM s0',
    );
    expect(sql).toBe('WITH s0 AS (UPDATE a SET x = $2 WHERE id = $1 RETURNING id),\ns1 AS (INSERT INTO b VALUES ($3, $4), ($5, $3))\nSELECT id FROM s0');
    expect(params).toEqual(['a1', 5, 'b1', 'b2', 'b3']);
  });

  it('sends a lone write as it is when nothing is read back', () => {
    expect(together([{ sql: 'DELETE FROM a WHERE id = $1', params: [1] }])).toEqual({ sql: 'DELETE FROM a WHERE id = $1', params: [1] });
  });

  it('renumbers two-digit placeholders whole', () => {
    const { sql } = together([
      { sql: 'SELECT $1', params: Array.from({ length: 12 }, (_, i) => i) },
      { sql: 'SELECT $10, $1', params: Array.from({ length: 10 }, (_, i) => i) },
    ]);
    expect(sql).toContain('s1 AS (SELECT $22, $13)');
  });
});
