import type { EntityManager } from 'typeorm';

const pending = new WeakMap<EntityManager, (() => void)[]>();

/**
 * Runs `fn` once the transaction of `manager` has committed (never if it rolls back): for work that must see what
 * the transaction wrote, such as waking a worker that reads it. Needs a runner that calls `committed`/`rolledBack`
 * (the consumer transport and `UnitOfWork` do); `fn` must not throw. A savepoint rolled back inside the
 * transaction does not drop it: use it for wake-ups, never for effects.
 */
export function afterCommit(manager: EntityManager, fn: () => void): void {
  // Not in a transaction (a plain manager): what it wrote is committed already, and nobody would signal it.
  if (!manager.queryRunner?.isTransactionActive) return fn();
  const list = pending.get(manager);
  if (list) list.push(fn);
  else pending.set(manager, [fn]);
}

/** The transaction of `manager` committed: runs what was registered for it. */
export function committed(manager: EntityManager): void {
  const list = pending.get(manager);
  pending.delete(manager);
  for (const fn of list ?? []) {
    try {
      fn();
    } catch {
      // The transaction is committed whatever a wake-up does; its failure must not look like the transaction's.
    }
  }
}

/** The transaction of `manager` rolled back: what was registered for it is dropped. */
export function rolledBack(manager: EntityManager): void {
  pending.delete(manager);
}
