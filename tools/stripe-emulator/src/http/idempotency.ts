/**
 * Idempotency-Key store, scoped per API key. Entries are `in_flight` while the first request runs
 * (a concurrent request with the same key gets 409) and `done` afterwards (replayed when the request
 * fingerprint matches, 400 idempotency_error when it does not). Oldest entries are pruned past `maxEntries`
 * or 24 h, like Stripe's pruning.
 */
export interface StoredResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
}

interface Entry {
  fingerprint: string;
  state: 'in_flight' | 'done';
  response?: StoredResponse;
  at: number;
}

const DAY_MS = 24 * 3600 * 1000;

export type Lookup =
  | { kind: 'new' }
  | { kind: 'in_flight' }
  | { kind: 'mismatch' }
  | { kind: 'replay'; response: StoredResponse };

export class IdempotencyStore {
  private entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = 500_000) {}

  /** Looks the key up and, when new, marks it in flight. */
  begin(scope: string, key: string, fingerprint: string): Lookup {
    const k = `${scope}\u0000${key}`;
    const e = this.entries.get(k);
    if (e && Date.now() - e.at < DAY_MS) {
      if (e.fingerprint !== fingerprint) return { kind: 'mismatch' };
      if (e.state === 'in_flight') return { kind: 'in_flight' };
      return { kind: 'replay', response: e.response! };
    }
    if (e) this.entries.delete(k);
    this.entries.set(k, { fingerprint, state: 'in_flight', at: Date.now() });
    this.prune();
    return { kind: 'new' };
  }

  complete(scope: string, key: string, response: StoredResponse): void {
    const e = this.entries.get(`${scope}\u0000${key}`);
    if (!e) return;
    e.state = 'done';
    e.response = response;
  }

  /** Forget the key (validation errors and 409/429 are not stored, so a retry is a new request). */
  abandon(scope: string, key: string): void {
    this.entries.delete(`${scope}\u0000${key}`);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Forgets every finished request now, as Stripe does 24 h after it; requests still running keep their key. */
  expire(): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.state !== 'done') continue;
      this.entries.delete(k);
      n++;
    }
    return n;
  }

  private prune(): void {
    if (this.entries.size <= this.maxEntries) return;
    const it = this.entries.keys();
    while (this.entries.size > this.maxEntries) {
      const k = it.next();
      if (k.done) break;
      this.entries.delete(k.value);
    }
  }
}

/** Order-insensitive fingerprint of a request body. */
export function fingerprint(method: string, path: string, body: string): string {
  return `${method} ${path} ${body.split('&').filter(Boolean).sort().join('&')}`;
}
