import type { ConsumerGroupState } from './consumer-group-state';

/**
 * What the watchdog knows of one group: its state, when kafkajs last fetched, and when each chunk in hand began or
 * last made progress.
 */
export interface WatchedGroup {
  state: ConsumerGroupState['state'];
  lastFetchAt: number;
  chunksProgressedAt: Iterable<number>;
}

export type WatchdogVerdict =
  | { action: 'none' }
  /** kafkajs stopped fetching with nothing in hand: a new consumer can take over. */
  | { action: 'restart'; reason: string }
  /** A handler never returned: nothing in the process can take its chunk back; only a new process can. */
  | { action: 'stuck'; reason: string };

/**
 * Whether a running group has gone silent (reliability catalogue F-KF-07). A running kafkajs consumer starts a fetch
 * at least every `maxWaitTimeInMs` when idle, and its chunks progress within statement timeouts when busy (a chunk
 * retrying failing messages one by one progresses with each attempt), so silence past `limitMs` is a hang, not load:
 * kafkajs waiting on a connection that neither answers nor fails (kafkajs#1163, #1513), or a handler awaiting
 * something that never settles. Groups starting, restarting or stopped are their own story (crash backoff, a join
 * under way) and are left alone.
 */
export function judgeGroup(group: WatchedGroup, now: number, limitMs: number): WatchdogVerdict {
  if (group.state !== 'running') return { action: 'none' };
  let stalest = Infinity;
  for (const at of group.chunksProgressedAt) stalest = Math.min(stalest, at);
  if (stalest !== Infinity) {
    // kafkajs does not fetch again until every chunk of the last fetch is done, so with a chunk in hand only the
    // chunk's own progress tells.
    if (now - stalest <= limitMs) return { action: 'none' };
    return { action: 'stuck', reason: `a chunk of messages has made no progress for ${Math.round((now - stalest) / 1000)} s` };
  }
  if (now - group.lastFetchAt <= limitMs) return { action: 'none' };
  return { action: 'restart', reason: `no fetch for ${Math.round((now - group.lastFetchAt) / 1000)} s` };
}
