import Stripe from 'stripe';
import { parseWebhooksEnv } from './main';
import { startEmulator } from './index';

describe('CLI configuration and logging', () => {
  it('parses STRIPE_EMULATOR_WEBHOOKS', () => {
    expect(parseWebhooksEnv('http://a/h|whsec_1, http://b/h|whsec_2')).toEqual([
      { url: 'http://a/h', secret: 'whsec_1' },
      { url: 'http://b/h', secret: 'whsec_2' },
    ]);
    expect(parseWebhooksEnv(undefined)).toEqual([]);
    expect(() => parseWebhooksEnv('http://a|nope')).toThrow();
  });

  it('logs one JSON line per request without keys or client secrets', async () => {
    const lines: Record<string, unknown>[] = [];
    const emu = await startEmulator({ secretKey: 'sk_test_logcheck', publishableKey: 'pk_test_logcheck', log: (l) => lines.push(l), webhooks: [{ url: 'http://127.0.0.1:9/x', secret: 'whsec_logcheck' }] });
    try {
      const stripe = new Stripe(emu.secretKey, { ...emu.stripeConfig, maxNetworkRetries: 0 });
      const browser = new Stripe(emu.publishableKey, { ...emu.stripeConfig, maxNetworkRetries: 0 });
      const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
      await browser.paymentIntents.retrieve(pi.id, { client_secret: pi.client_secret! });
      expect(lines).toHaveLength(2);
      expect(lines[0]).toEqual(expect.objectContaining({ method: 'POST', path: '/v1/payment_intents', status: 200 }));
      expect(typeof lines[1]!.ms).toBe('number');
      const text = JSON.stringify(lines);
      for (const s of ['sk_test_logcheck', 'pk_test_logcheck', 'whsec_logcheck', pi.client_secret!, 'secret']) expect(text).not.toContain(s);
    } finally {
      await emu.close();
    }
  });
});
