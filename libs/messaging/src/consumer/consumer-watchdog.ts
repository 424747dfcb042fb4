import type { ConsumerGroupState } from './consumer-group-state';

/**
 * What the watchdog knows of one group: its state, when kafkajs last fetched, and when each chunk in hand began or
 * last made progress.
 */
export interface WatchedGroup {
  state: ConsumerGroupState['state'];
  /** `starting` because kafkajs is restarting the consumer after a crash it recovers from. */
  selfRestarting?: boolean;
  /** The last sign of life: a fetch started, a rebalance, a join, a crash, a chunk finished. */
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
 * something that never settles. Groups starting (but for kafkajs's own restart), restarting or stopped are their
 * own story (crash backoff, a first join) and are left alone.
 */
export function judgeGroup(group: WatchedGroup, now: number, limitMs: number): WatchdogVerdict {
  const silentFor = Math.round((now - group.lastFetchAt) / 1000);
  // kafkajs restarting a crashed consumer: each failed try is a crash, a sign of life; a restart that neither joins
  // nor fails is the hang users report after broker restarts (kafkajs#1513).
  if (group.state === 'starting' && group.selfRestarting)
    return now - group.lastFetchAt <= limitMs ? { action: 'none' } : { action: 'restart', reason: `kafkajs's restart of the consumer silent for ${silentFor} s` };
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
  return { action: 'restart', reason: `no fetch for ${silentFor} s` };
}
