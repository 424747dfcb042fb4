/** Helpers for the emulator's own tests (and the services' tests): SDK clients, a webhook receiver, admin calls. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { startEmulator, EmulatorHandle, EmulatorOptions } from './index';

export interface TestEnv {
  emu: EmulatorHandle;
  /** secret-key client */
  stripe: Stripe;
  /** publishable-key client (what Stripe.js / the mobile SDK can do) */
  browser: Stripe;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

export function sdk(emu: EmulatorHandle, key: string): Stripe {
  return new Stripe(key, { host: emu.host, port: emu.port, protocol: 'http', maxNetworkRetries: 0, telemetry: false });
}

export async function startTestEnv(options: EmulatorOptions = {}): Promise<TestEnv> {
  const emu = await startEmulator({ webhookRetry: { initialDelayMs: 20, maxDelayMs: 200, maxDurationMs: 3000, attemptTimeoutMs: 1000 }, ...options });
  return {
    emu,
    stripe: sdk(emu, emu.secretKey),
    browser: sdk(emu, emu.publishableKey),
    admin: async (method, path, body) => {
      const res = await fetch(`${emu.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
  };
}

export interface Received {
  body: string;
  signature: string;
  at: number;
}

/** A local webhook endpoint. `respond` decides the status per request (default 200). */
export class WebhookReceiver {
  readonly received: Received[] = [];
  respond: (n: number, body: string) => number | 'hang' = () => 200;
  private server!: http.Server;
  url = '';

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const n = this.received.length;
        this.received.push({ body, signature: String(req.headers['stripe-signature'] ?? ''), at: Date.now() });
        const status = this.respond(n, body);
        if (status === 'hang') return; // never answer: the emulator's attempt timeout fires
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  events(): Stripe.Event[] {
    return this.received.map((r) => JSON.parse(r.body) as Stripe.Event);
  }

  types(): string[] {
    return this.events().map((e) => e.type);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Expect a promise to reject with a Stripe error and return it. */
export async function stripeError(p: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof Stripe.errors.StripeError) return e;
    throw e;
  }
  throw new Error('expected a Stripe error, got success');
}
