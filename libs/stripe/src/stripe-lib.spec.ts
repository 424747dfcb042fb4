import Stripe from 'stripe';
import { apiBaseOptions, createStripeClient } from './client';
import { stripeConfigSchema } from './config';
import { isAmbiguousStripeError, isIdempotencyMismatch, redactSecrets, stripeErrorInfo } from './errors';
import { canonicalJson, requestFingerprint, stripeIdempotencyKey } from './idempotency';
import { StripeEventScope } from './event-scope';

describe('stripe settings', () => {
  const valid = { STRIPE_SECRET_KEY: 'sk_test_abcdef', STRIPE_PUBLISHABLE_KEY: 'pk_test_abcdef' };

  it('accepts sk_ and rk_ secret keys and leaves the API base unset for real Stripe', () => {
    const parsed = stripeConfigSchema.parse(valid);
    expect(parsed.STRIPE_API_BASE).toBeUndefined();
    expect(parsed).toMatchObject({ STRIPE_TIMEOUT_MS: 10000, STRIPE_MAX_NETWORK_RETRIES: 2 });
    expect(stripeConfigSchema.safeParse({ ...valid, STRIPE_SECRET_KEY: 'rk_test_abcdef' }).success).toBe(
      true,
    );
  });

  it('rejects a publishable key as secret key, a secret key as publishable key and a non-http base', () => {
    // A key whose mode cannot be read: the consumers would not know which events are theirs.
    expect(stripeConfigSchema.safeParse({ ...valid, STRIPE_SECRET_KEY: 'sk_abcdefgh' }).success).toBe(false);
    expect(stripeConfigSchema.safeParse({ ...valid, STRIPE_SECRET_KEY: 'pk_test_abcdef' }).success).toBe(
      false,
    );
    expect(stripeConfigSchema.safeParse({ ...valid, STRIPE_PUBLISHABLE_KEY: 'sk_test_abcdef' }).success).toBe(
      false,
    );
    expect(stripeConfigSchema.safeParse({ ...valid, STRIPE_API_BASE: 'ftp://x:1' }).success).toBe(false);
  });

  it('treats an empty API base as unset', () => {
    expect(stripeConfigSchema.parse({ ...valid, STRIPE_API_BASE: '' }).STRIPE_API_BASE).toBeUndefined();
  });

  it('parses the API base into the SDK host, port and protocol', () => {
    expect(apiBaseOptions('http://127.0.0.1:12180')).toEqual({
      host: '127.0.0.1',
      port: 12180,
      protocol: 'http',
    });
    expect(apiBaseOptions('https://stripe.internal')).toEqual({
      host: 'stripe.internal',
      port: 443,
      protocol: 'https',
    });
    expect(apiBaseOptions(undefined)).toEqual({});
  });

  it('builds a client without exposing the key in its serialised form', () => {
    const client = createStripeClient({
      STRIPE_SECRET_KEY: 'sk_test_hidden123',
      STRIPE_API_BASE: undefined,
      STRIPE_TIMEOUT_MS: 1000,
      STRIPE_MAX_NETWORK_RETRIES: 0,
    });
    expect(client.getApiField('host')).toBe('api.stripe.com');
  });

  it('refuses a live key with a plain-http API base, where it would travel in clear; a test key may use one', () => {
    const settings = { STRIPE_TIMEOUT_MS: 1000, STRIPE_MAX_NETWORK_RETRIES: 0 };
    for (const key of ['sk_live_abcdef', 'rk_live_abcdef'])
      expect(() => createStripeClient({ ...settings, STRIPE_SECRET_KEY: key, STRIPE_API_BASE: 'http://proxy.internal:8080' })).toThrow(
        /STRIPE_API_BASE must be an https:\/\/ URL/,
      );
    expect(createStripeClient({ ...settings, STRIPE_SECRET_KEY: 'sk_live_abcdef', STRIPE_API_BASE: 'https://proxy.internal' }).getApiField('host')).toBe(
      'proxy.internal',
    );
    expect(createStripeClient({ ...settings, STRIPE_SECRET_KEY: 'sk_test_abcdef', STRIPE_API_BASE: 'http://127.0.0.1:12180' }).getApiField('protocol')).toBe(
      'http',
    );
  });
});

describe('idempotency keys', () => {
  it('are the same for the same ids and differ for different ids', () => {
    expect(stripeIdempotencyKey('pi.create', 'ord_1', 1)).toBe('omnipay:pi.create:ord_1:1');
    expect(stripeIdempotencyKey('pi.create', 'ord_1', 2)).not.toBe(
      stripeIdempotencyKey('pi.create', 'ord_1', 1),
    );
    expect(stripeIdempotencyKey('refund', 'rr_1')).not.toBe(stripeIdempotencyKey('capture', 'rr_1'));
  });

  it('cannot be made to collide by ids containing the separator', () => {
    expect(stripeIdempotencyKey('x', 'a:b', 'c')).not.toBe(stripeIdempotencyKey('x', 'a', 'b:c'));
  });

  it('stay within Stripe 255-character limit deterministically', () => {
    const long = 'o'.repeat(400);
    const k = stripeIdempotencyKey('pi.create', long, 1);
    expect(k.length).toBeLessThanOrEqual(255);
    expect(k).toBe(stripeIdempotencyKey('pi.create', long, 1));
  });

  it('refuse empty ids and no ids', () => {
    expect(() => stripeIdempotencyKey('x', '')).toThrow();
    expect(() => stripeIdempotencyKey('x')).toThrow();
  });

  it('fingerprint requests independently of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: [1, 2] } })).toBe('{"a":{"c":[1,2],"d":2},"b":1}');
    expect(requestFingerprint({ a: 1, b: 2 })).toBe(requestFingerprint({ b: 2, a: 1 }));
    expect(requestFingerprint({ a: 1 })).not.toBe(requestFingerprint({ a: 2 }));
  });
});

describe('secret redaction', () => {
  it('masks keys, webhook secrets and client secrets in Stripe messages', () => {
    const out = redactSecrets('Invalid API Key provided: sk_test_abc123; whsec_zzz; pi_123_secret_456 ok');
    expect(out).not.toMatch(/sk_test_abc|whsec_zzz|_secret_456/);
    expect(out).toContain('ok');
  });
});

describe('Stripe errors', () => {
  // As the SDK builds them from Stripe's answers (StripeError.generate picks the class from status and type).
  const answer = (statusCode: number, raw: Record<string, unknown>) =>
    Stripe.errors.StripeError.generate({ statusCode, ...raw } as Parameters<typeof Stripe.errors.StripeError.generate>[0]);

  it("tells an idempotency key reused with other parameters by Stripe's error type, which has no code", () => {
    const mismatch = answer(400, { type: 'idempotency_error', message: 'Keys for idempotent requests can only be used with the same parameters' });
    expect(isIdempotencyMismatch(mismatch)).toBe(true);
    expect(stripeErrorInfo(mismatch)).toMatchObject({ rawType: 'idempotency_error', code: null, statusCode: 400 });
    expect(isIdempotencyMismatch(answer(400, { type: 'invalid_request_error', code: 'amount_too_small', message: 'x' }))).toBe(false);
    expect(isIdempotencyMismatch(new Error('idempotency_error'))).toBe(false);
  });

  it('calls ambiguous what Stripe may have carried out (no answer, 5xx, our own first try in flight), not a refusal', () => {
    expect(isAmbiguousStripeError(new Stripe.errors.StripeConnectionError({ message: 'socket hang up' }))).toBe(true);
    const timeout = new Stripe.errors.StripeConnectionError({ message: 'Request aborted due to timeout', detail: { code: 'ETIMEDOUT' } });
    expect(isAmbiguousStripeError(timeout)).toBe(true);
    // Refused or unresolvable: nothing went out, so Stripe did nothing.
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'])
      expect(isAmbiguousStripeError(new Stripe.errors.StripeConnectionError({ message: 'x', detail: { code } }))).toBe(false);
    expect(isAmbiguousStripeError(answer(500, { type: 'api_error', message: 'x' }))).toBe(true);
    expect(isAmbiguousStripeError(answer(409, { type: 'invalid_request_error', code: 'idempotency_key_in_use', message: 'x' }))).toBe(true);
    expect(isAmbiguousStripeError(answer(409, { type: 'invalid_request_error', code: 'terminal_reader_busy', message: 'x' }))).toBe(false);
    expect(isAmbiguousStripeError(answer(429, { type: 'invalid_request_error', code: 'rate_limit', message: 'x' }))).toBe(false);
    expect(isAmbiguousStripeError(answer(402, { type: 'card_error', code: 'card_declined', message: 'x' }))).toBe(false);
    expect(isAmbiguousStripeError(new Error('timeout'))).toBe(false);
  });
});

describe('Stripe event scope', () => {
  it("takes the mode from the secret key and admits only that mode's events of the platform's own account", () => {
    expect(new StripeEventScope('sk_live_abc').livemode).toBe(true);
    expect(new StripeEventScope('rk_live_abc').livemode).toBe(true);
    expect(new StripeEventScope('sk_test_abc').livemode).toBe(false);
    expect(new StripeEventScope('sk_test_emulator_live_').livemode).toBe(false);
    const test = new StripeEventScope('sk_test_abc', '2026-10-28.endive');
    expect(test.admits({ livemode: false, api_version: '2026-10-28.endive' }, 'spec')).toBe(true);
    expect(test.admits({ livemode: false, account: null }, 'spec')).toBe(true);
    expect(test.admits({ livemode: true }, 'spec')).toBe(false);
    expect(test.admits({}, 'spec')).toBe(false);
    expect(test.admits({ livemode: false, account: 'acct_1' }, 'spec')).toBe(false);
    // Another version is applied all the same (and counted).
    expect(test.admits({ livemode: false, api_version: '2020-08-27' }, 'spec')).toBe(true);
  });
});
