import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
// The emulator is tagged as a tool application; a test driving a service with it is the intended use.
import { startEmulator, type EmulatorHandle } from '@omnipay/stripe-emulator';
import { PLATFORM_EVENT_TYPES } from '@omnipay/stripe';
import {
  ServiceProcess,
  TestDatabase,
  TopicRecorder,
  engines,
  eventually,
  freePort,
  isolatedServiceEnv,
  testKafka,
  uniqueName,
} from '@omnipay/testing';
import Stripe from 'stripe';
import { envelopeIdFor } from '../src/stripe-events/stripe-event';

const ADMIN_TOKEN = `admin-${randomBytes(16).toString('hex')}`;

/**
 * Webhooks that never arrive: the endpoint refuses every delivery until the emulator gives up, then the backfill
 * asks Stripe's Events API (with a restricted key that can only read events) for what was not delivered, and
 * stores and publishes it once, as a delivery would have been.
 */
describe('events backfill (real Postgres, Kafka and the Stripe emulator)', () => {
  const e = engines();
  const run = uniqueName('wh_backfill');
  const topic = `${run}.stripe.events.v1`;
  const secret = `whsec_${randomBytes(24).toString('hex')}`;
  const db = new TestDatabase(e.databaseUrl);
  let emu: EmulatorHandle;
  let service: ServiceProcess;
  let recorder: TopicRecorder;
  let stripe: Stripe;

  beforeAll(async () => {
    const port = await freePort();
    emu = await startEmulator({
      port: 0,
      webhooks: [{ url: `http://127.0.0.1:${port}/stripe/webhooks`, secret, enabled_events: [...PLATFORM_EVENT_TYPES] }],
      // Gives up on a delivery after ~1 s, as Stripe does after three days.
      webhookRetry: { initialDelayMs: 100, factor: 2, maxDelayMs: 400, maxDurationMs: 1000, attemptTimeoutMs: 2000 },
    });
    stripe = new Stripe(emu.secretKey, { ...emu.stripeConfig, maxNetworkRetries: 0 });
    service = await new ServiceProcess({
      entry: 'services/webhooks/src/main.ts',
      name: `webhooks(${run})`,
      port,
      env: {
        ...isolatedServiceEnv(run),
        OUTBOX_POLL_MS: '100',
        STRIPE_WEBHOOK_SECRETS: secret,
        STRIPE_API_BASE: emu.url,
        STRIPE_EVENTS_READ_KEY: emu.eventsReadKey,
        BACKFILL_INTERVAL_MS: '0',
        ADMIN_TOKEN,
      },
    }).start();
    recorder = await new TopicRecorder(testKafka(e.kafkaBrokers), [topic]).start();
  });

  afterAll(async () => {
    await service?.stop();
    await recorder?.stop();
    await emu?.close();
    await db.dropSchema(run);
    await db.close();
  });

  const stored = () => db.query<{ event_id: string; type: string; secret_index: number }>(`SELECT event_id, type, secret_index FROM "${run}".stripe_events`);
  const backfill = () =>
    fetch(`${service.url}/admin/backfill`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });

  it('stores and publishes once each platform event whose webhook never arrived, and nothing twice on the next pass', async () => {
    // The endpoint is unreachable for every attempt of these events (a firewall change, a bad deploy).
    emu.addWebhookFault({ drop_attempts: 1000 });
    const pi = await stripe.paymentIntents.create({ amount: 2500, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    await stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
    await new Promise((r) => setTimeout(r, 100)); // the async capture's charge.updated
    await emu.webhooksIdle(); // every delivery given up
    emu.clearFaults();
    expect(await stored()).toEqual([]);

    const undelivered = (await stripe.events.list({ delivery_success: false, limit: 100 })).data.filter((ev) =>
      PLATFORM_EVENT_TYPES.includes(ev.type),
    );
    expect(undelivered.map((ev) => ev.type)).toEqual(expect.arrayContaining(['payment_intent.succeeded', 'charge.succeeded', 'charge.refunded']));

    const res = await backfill();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ listed: undelivered.length, stored: undelivered.length });
    const rows = await stored();
    expect(rows.map((r) => r.event_id).sort()).toEqual(undelivered.map((ev) => ev.id).sort());
    expect(rows.every((r) => r.secret_index === -1)).toBe(true); // fetched, not a signed delivery
    // Published with the envelope id a delivery of the same event would have had, so consumers' inboxes dedup.
    const published = await eventually(
      async () => recorder.on(topic),
      (msgs) => msgs.length === undelivered.length,
      { what: 'the backfilled events on Kafka' },
    );
    expect(published.map((m) => m.json?.id).sort()).toEqual(undelivered.map((ev) => envelopeIdFor(ev.id)).sort());

    // A payment whose webhooks arrive: stored by its deliveries, and no business of the backfill.
    const delivered = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    await new Promise((r) => setTimeout(r, 100));
    await emu.webhooksIdle();
    const signed = await eventually(
      async () => (await stored()).filter((r) => r.secret_index === 0),
      (r) => r.some((x) => x.type === 'payment_intent.succeeded'),
      { what: 'the delivered events' },
    );
    expect(signed.length).toBeGreaterThan(0);
    void delivered;
    // The next pass lists only the undelivered ones again (Stripe still counts them so) and stores nothing twice.
    expect(await (await backfill()).json()).toEqual({ listed: undelivered.length, stored: 0 });
    expect(await stored()).toHaveLength(undelivered.length + signed.length);
    await new Promise((r) => setTimeout(r, 500));
    const backfilledIds = new Set(undelivered.map((ev) => envelopeIdFor(ev.id)));
    expect(recorder.on(topic).filter((m) => backfilledIds.has(String(m.json?.id)))).toHaveLength(undelivered.length);
  });

  it('skips a pass while another replica runs one (one advisory lock per schema), and runs once it is free', async () => {
    // Play the other replica: hold the pass's lock from another connection.
    const other = new Client({ connectionString: e.databaseUrl });
    await other.connect();
    try {
      await other.query(`SET search_path = "${run}"`);
      await other.query(`SELECT pg_advisory_lock(hashtext('events-backfill:' || current_schema()))`);
      expect(await (await backfill()).json()).toEqual({ listed: 0, stored: 0, skipped: true });
      await other.query(`SELECT pg_advisory_unlock(hashtext('events-backfill:' || current_schema()))`);
      const free = (await (await backfill()).json()) as { listed: number; skipped?: boolean };
      expect(free.skipped).toBeUndefined();
      expect(free.listed).toBeGreaterThan(0); // the undelivered events of the first test, listed again
    } finally {
      await other.end();
    }
  });

  it('holds a key that can do nothing but read events, and runs on demand only for the admin token', async () => {
    const asBackfill = new Stripe(emu.eventsReadKey, { ...emu.stripeConfig, maxNetworkRetries: 0 });
    await expect(asBackfill.paymentIntents.create({ amount: 100, currency: 'usd' })).rejects.toMatchObject({ statusCode: 403 });
    await expect(asBackfill.refunds.list()).rejects.toMatchObject({ statusCode: 403 });
    const unauthenticated = await fetch(`${service.url}/admin/backfill`, { method: 'POST' });
    expect(unauthenticated.status).toBe(401);
  });
});
