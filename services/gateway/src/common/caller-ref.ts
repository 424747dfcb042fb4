import { createHash } from 'node:crypto';

/** A `sub` as it goes into keys joined with `.` or `:`: kept when it holds neither (nor anything unusual). */
const PLAIN_SUB = /^[A-Za-z0-9_@|+-]{1,64}$/;

/**
 * The caller's `sub` as part of a key the gateway derives from it and a client's Idempotency-Key (downstream keys,
 * refund request ids, Redis keys). Keys may contain `.` and `:`, so a `sub` holding them would make two callers' keys
 * one (`jane` + `doe.1` and `jane.doe` + `1`): such a `sub` (or a long or non-ASCII one) is replaced by a digest,
 * marked with `~`, which no kept `sub` contains.
 */
export function callerRef(sub: string): string {
  return PLAIN_SUB.test(sub) ? sub : `~${createHash('sha256').update(sub).digest('base64url').slice(0, 32)}`;
}

/** The longest Idempotency-Key the services accept (and the gateway's clients may send). */
const MAX_KEY = 255;

/**
 * A key the gateway sends downstream, made of a prefix, the caller and the client's Idempotency-Key: as it is while
 * the services accept its length, else a digest of it. The client may send up to 255 characters, and with the prefix
 * the key would be refused downstream (for a checkout, after the order was placed: it would be cancelled again).
 */
export function downstreamKey(key: string): string {
  return key.length <= MAX_KEY ? key : `~${createHash('sha256').update(key).digest('base64url')}`;
}
