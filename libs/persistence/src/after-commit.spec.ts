import type { EntityManager } from 'typeorm';
import { afterCommit, committed, rolledBack } from './after-commit';

const inTransaction = () => ({ queryRunner: { isTransactionActive: true } }) as unknown as EntityManager;

describe('work after a commit', () => {
  it('runs once the transaction committed, once, in order', () => {
    const m = inTransaction();
    const ran: string[] = [];
    afterCommit(m, () => ran.push('a'));
    afterCommit(m, () => ran.push('b'));
    expect(ran).toEqual([]);
    committed(m);
    committed(m);
    expect(ran).toEqual(['a', 'b']);
  });

  it('never runs for a transaction that rolled back', () => {
    const m = inTransaction();
    const ran: string[] = [];
    afterCommit(m, () => ran.push('a'));
    rolledBack(m);
    committed(m);
    expect(ran).toEqual([]);
  });

  it('runs at once outside a transaction, where nothing is left to commit', () => {
    const ran: string[] = [];
    afterCommit({ queryRunner: undefined } as unknown as EntityManager, () => ran.push('now'));
    expect(ran).toEqual(['now']);
  });

  it('keeps one failing callback from stopping the others', () => {
    const m = inTransaction();
    const ran: string[] = [];
    afterCommit(m, () => {
      throw new Error('boom');
    });
    afterCommit(m, () => ran.push('b'));
    expect(() => committed(m)).not.toThrow();
    expect(ran).toEqual(['b']);
  });
});
