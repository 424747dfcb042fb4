/**
 * Secrets must never reach a log line (design invariant 7). Structured fields are redacted by name, and any
 * string is scrubbed of things shaped like Stripe secrets, whatever field or message they hide in.
 */
const SECRET_PATTERNS: RegExp[] = [
  /\b(sk|rk)_(test|live)_[A-Za-z0-9]+/g, // secret and restricted keys
  /\bwhsec_[A-Za-z0-9+/=]+/g, // webhook signing secrets
  /\b(pi|seti)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+/g, // client secrets
  /\bek_(test|live)_[A-Za-z0-9]+/g, // ephemeral key secrets
  /\bpst_(test|live)_[A-Za-z0-9]+/g, // terminal connection token secrets
  /\bcuss_secret_[A-Za-z0-9_]+/g, // customer session client secrets
  /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, // JWTs (a bearer token pasted without its scheme)
  /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, // bearer tokens
];

const SECRET_FIELD = /(secret|password|authorization|api[_-]?key|token|signature|cookie)/i;

export function scrubString(value: string): string {
  let out = value;
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, '[redacted]');
  // Connection strings carry passwords: postgres://user:pass@host, and redis://:pass@host with no user.
  return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/\s@]*:)[^@/\s]+@/gi, '$1[redacted]@');
}

export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  // Deeper than any field we log on purpose: cut off, never passed on unscrubbed.
  if (depth > 8) return '[truncated]';
  if (value instanceof Error) {
    return { type: value.name, message: scrubString(value.message), stack: value.stack && scrubString(value.stack) };
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_FIELD.test(k) && typeof v === 'string' ? '[redacted]' : scrub(v, depth + 1);
  }
  return out;
}
