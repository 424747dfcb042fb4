/**
 * Contract suite: every request shape the services send (src/contract/request-shapes.ts) goes through the
 * official SDK to the emulator (must succeed, in order, with real state) and to stripe-mock (must not be
 * rejected). Parameters stripe-mock cannot check because its bundled spec predates the SDK's API version are
 * listed explicitly per shape and reported, never skipped silently.
 */
import Stripe from 'stripe';
import { REQUEST_SHAPES, Ids } from '../src/contract/request-shapes';
import { startEmulator, EmulatorHandle } from '../src/index';

function client(url: string, key: string): Stripe {
  const u = new URL(url);
  return new Stripe(key, { host: u.hostname, port: Number(u.port), protocol: u.protocol === 'https:' ? 'https' : 'http', maxNetworkRetries: 0, telemetry: false });
}

const without = (params: Record<string, unknown>, keys: string[]) => Object.fromEntries(Object.entries(params).filter(([k]) => !keys.includes(k)));

describe('contract: request shapes the services send', () => {
  let emu: EmulatorHandle;
  const mockUrl = process.env.STRIPE_MOCK_URL;
  const unchecked: string[] = [];

  beforeAll(async () => {
    emu = await startEmulator();
  });
  afterAll(async () => {
    await emu.close();
    console.log(
      unchecked.length
        ? `stripe-mock could not check these parameters (its bundled API spec predates ${emu.apiVersion}):\n  ${unchecked.join('\n  ')}`
        : 'stripe-mock checked every parameter',
    );
  });

  it('has STRIPE_MOCK_URL', () => {
    expect(mockUrl).toMatch(/^https?:\/\//);
  });

  it('the emulator accepts every shape in order and reaches the expected states', async () => {
    const stripe = client(emu.url, emu.secretKey);
    const ids: Ids = {};
    let paidOut = false;
    for (const shape of REQUEST_SHAPES) {
      if (shape.requires === 'automatic_payout' && !paidOut) {
        expect(emu.runPayouts().length).toBeGreaterThan(0);
        paidOut = true;
      }
      let res: any;
      try {
        res = await shape.invoke(stripe, ids, shape.params(ids));
      } catch (e) {
        throw new Error(`emulator rejected "${shape.name}": ${(e as Error).message}`);
      }
      Object.assign(ids, shape.save?.(res) ?? {});
    }
    expect((await stripe.paymentIntents.retrieve(ids.pi_web!)).status).toBe('succeeded');
    const pos = await stripe.paymentIntents.retrieve(ids.pi_pos!);
    expect(pos.status).toBe('succeeded');
    expect(pos.amount_received).toBe(1500);
    expect((await stripe.paymentIntents.retrieve(ids.pi_pos2!)).status).toBe('canceled');
    expect((await stripe.setupIntents.retrieve(ids.seti!)).status).toBe('succeeded');
    expect((await stripe.charges.retrieve(ids.pi_web_charge!)).amount_refunded).toBe(1000);
    // the payout holds the web sale, its refund and the POS sale, net of fees
    const payout = await stripe.payouts.retrieve(ids.payout!);
    const txns = await stripe.balanceTransactions.list({ payout: payout.id, limit: 100 }).autoPagingToArray({ limit: 1000 });
    expect(txns.map((t) => t.type).sort()).toEqual(['charge', 'charge', 'payout', 'refund']);
    expect(txns.filter((t) => t.type !== 'payout').reduce((sum, t) => sum + t.net, 0)).toBe(payout.amount);
  });

  it('stripe-mock accepts every shape (apart from the listed version-skew parameters)', async () => {
    const stripe = client(mockUrl!, 'sk_test_123');
    const ids: Ids = {};
    const rejected: string[] = [];
    for (const shape of REQUEST_SHAPES) {
      const params = shape.params(ids);
      let res: any;
      try {
        res = await shape.invoke(stripe, ids, params);
      } catch (e) {
        const err = e as Stripe.errors.StripeError;
        const skew = (shape.versionSkewParams ?? []).filter((k) => k in params);
        if (!(err instanceof Stripe.errors.StripeInvalidRequestError) || skew.length === 0) {
          rejected.push(`${shape.name}: ${err.message}`);
          continue;
        }
        try {
          res = await shape.invoke(stripe, ids, without(params, skew));
          unchecked.push(...skew.map((k) => `${shape.method} ${shape.path} ${k} (${shape.name})`));
        } catch (e2) {
          rejected.push(`${shape.name} (even without ${skew.join(', ')}): ${(e2 as Error).message}`);
          continue;
        }
      }
      Object.assign(ids, shape.save?.(res) ?? {});
    }
    expect(rejected).toEqual([]);
  });
});
