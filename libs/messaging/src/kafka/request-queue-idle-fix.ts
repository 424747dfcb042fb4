// kafkajs 2.2.4 (its last release) re-arms a timer in every broker connection's request queue after each check,
// even with nothing pending and no throttle: `throttledUntil - Date.now()` is then negative, so the timer fires
// after 1 ms and re-arms itself for as long as the connection lives. Each service holds several connections
// (producer, admin, one or more per consumer group), so an idle service spent 50–80 ms of CPU per second on it,
// and a busy one pays the same on top of its work. Upstream: tulios/kafkajs#1556 and #1704, fixes #1667/#1768
// never merged. The replacement below keeps the behaviour that matters (pending requests are re-checked when a
// throttle ends, or every 10 ms while the queue is full) and drops the spin.
import { createRequire } from 'node:module';

const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;
const PATCHED = Symbol.for('omnipay.kafkajs.requestQueueIdleFix');

/** The slice of kafkajs's internal RequestQueue this fix reads and writes. */
export interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: ReturnType<typeof setTimeout> | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** Arms a re-check only when a request waits: when the throttle ends, or after 10 ms if it waits for a free slot. */
export function scheduleCheckPendingRequests(this: RequestQueueInternals): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_REQUESTS_INTERVAL_MS,
  );
}

/** kafkajs's RequestQueue class, loaded from the same copy of kafkajs that `import 'kafkajs'` resolves to. */
export function kafkajsRequestQueue(): { prototype: RequestQueueInternals } {
  const requireFromKafkajs = createRequire(require.resolve('kafkajs'));
  return requireFromKafkajs('./src/network/requestQueue') as { prototype: RequestQueueInternals };
}

/**
 * Replaces RequestQueue.scheduleCheckPendingRequests once per process. Throws if kafkajs's internals changed shape,
 * so that an upgrade cannot silently drop (or mis-apply) the fix.
 */
export function applyKafkajsIdleFix(): void {
  const proto = kafkajsRequestQueue().prototype as RequestQueueInternals & { [PATCHED]?: true };
  if (proto[PATCHED]) return;
  if (typeof proto.scheduleCheckPendingRequests !== 'function' || typeof proto.checkPendingRequests !== 'function') {
    throw new Error('kafkajs RequestQueue no longer has scheduleCheckPendingRequests/checkPendingRequests: review request-queue-idle-fix.ts');
  }
  proto.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  proto[PATCHED] = true;
}
