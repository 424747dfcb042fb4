import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { randomHex } from './random-hex';

/** What follows a unit of work (an HTTP request or a consumed message) through every log line and message. */
export interface RequestContext {
  correlationId: string;
  /** W3C trace context of the current span, `00-<trace-id>-<span-id>-<flags>`. */
  traceparent: string;
  /** Id of the message that caused this work, when the work is a consumed message. */
  causationId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

export function runWithContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Continues the caller's trace with a new span id, or starts a new trace when there is none (or it is malformed). */
export function childTraceparent(parent?: string | string[]): string {
  const m = typeof parent === 'string' ? TRACEPARENT.exec(parent) : null;
  if (m) return `00-${m[1]}-${randomHex(16)}-${m[3]}`;
  return `00-${randomHex(32)}-${randomHex(16)}-01`;
}

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a caller's correlation id only when it is a plausible id; anything else (log injection) is replaced. */
export function correlationIdFrom(value: unknown): string {
  return typeof value === 'string' && SAFE_ID.test(value) ? value : randomUUID();
}

export function newContext(input: { correlationId?: unknown; traceparent?: unknown; causationId?: string } = {}): RequestContext {
  return {
    correlationId: correlationIdFrom(input.correlationId),
    traceparent: childTraceparent(typeof input.traceparent === 'string' ? input.traceparent : undefined),
    causationId: input.causationId,
  };
}
