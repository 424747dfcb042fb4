/**
 * Admin API under /_emulator (JSON in, JSON out, no API key): reset, fault switches, 3-D Secure outcomes,
 * webhook endpoints with chosen secrets, delivery log, reader status, refund failure, payout runs and failures,
 * idempotency keys forgotten now instead of after 24 h.
 */
import type http from 'node:http';
import type { Emulator } from '../app';
import { StripeApiError } from '../http/errors';
import { send } from '../http/server';
import { newId } from '../ids';
import type { ApiFaultInput, WebhookFaultInput } from '../faults';
import { completeThreeDS } from '../resources/payment-intents';
import { completeSetupThreeDS } from '../resources/setup-intents';
import { createWebhookEndpoint } from '../resources/webhook-endpoints';
import { setReaderStatus } from '../resources/terminal';
import { failRefund } from '../resources/refunds';
import { failPayout, PayoutRunOptions, runPayouts } from '../resources/payouts';

export function resetEmulator(emu: Emulator): void {
  emu.reset();
  for (const w of emu.config.webhooks) createWebhookEndpoint(emu, { ...w, preconfigured: true });
}

class AdminError extends Error {
  constructor(public readonly status: number, message: string) {
    super(message);
  }
}

function num(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new AdminError(400, `${name} must be a non-negative number`);
  return n;
}

export function validateApiFault(b: Record<string, unknown>): ApiFaultInput {
  const allowed = ['method', 'path', 'status', 'code', 'delay_ms', 'ambiguous', 'times'];
  for (const k of Object.keys(b)) if (!allowed.includes(k)) throw new AdminError(400, `unknown field ${k} (allowed: ${allowed.join(', ')})`);
  const status = num(b.status, 'status');
  if (status !== undefined && ![400, 429, 500, 502, 503, 504].includes(status)) throw new AdminError(400, 'status must be 400, 429, 500, 502, 503 or 504');
  if (b.code !== undefined && status !== 400) throw new AdminError(400, 'code goes with status 400');
  const out: ApiFaultInput = {};
  if (b.code !== undefined) out.code = String(b.code);
  if (b.method !== undefined) out.method = String(b.method).toUpperCase();
  if (b.path !== undefined) out.path = String(b.path);
  if (status !== undefined) out.status = status;
  const delay = num(b.delay_ms, 'delay_ms');
  if (delay !== undefined) out.delay_ms = delay;
  if (b.ambiguous !== undefined) out.ambiguous = b.ambiguous === true || b.ambiguous === 'true';
  const times = num(b.times, 'times');
  if (times !== undefined) out.times = times;
  if (!out.status && !out.delay_ms && !out.ambiguous) throw new AdminError(400, 'give at least one of status, delay_ms, ambiguous');
  return out;
}

export function validateWebhookFault(b: Record<string, unknown>): WebhookFaultInput {
  const allowed = ['endpoint', 'duplicate', 'shuffle_window_ms', 'delay_ms', 'drop_first_attempt', 'drop_attempts'];
  for (const k of Object.keys(b)) if (!allowed.includes(k)) throw new AdminError(400, `unknown field ${k} (allowed: ${allowed.join(', ')})`);
  const out: WebhookFaultInput = {};
  if (b.endpoint !== undefined) out.endpoint = String(b.endpoint);
  const dup = num(b.duplicate, 'duplicate');
  if (dup !== undefined) {
    if (dup < 1 || dup > 100) throw new AdminError(400, 'duplicate must be between 1 and 100');
    out.duplicate = Math.floor(dup);
  }
  const sw = num(b.shuffle_window_ms, 'shuffle_window_ms');
  if (sw !== undefined) out.shuffle_window_ms = sw;
  const d = num(b.delay_ms, 'delay_ms');
  if (d !== undefined) out.delay_ms = d;
  if (b.drop_first_attempt !== undefined) out.drop_first_attempt = b.drop_first_attempt === true || b.drop_first_attempt === 'true';
  const da = num(b.drop_attempts, 'drop_attempts');
  if (da !== undefined) out.drop_attempts = Math.floor(da);
  return out;
}

export function validatePayoutRun(b: Record<string, unknown>): PayoutRunOptions {
  const allowed = ['currency', 'status'];
  for (const k of Object.keys(b)) if (!allowed.includes(k)) throw new AdminError(400, `unknown field ${k} (allowed: ${allowed.join(', ')})`);
  const out: PayoutRunOptions = {};
  if (b.currency !== undefined) {
    if (typeof b.currency !== 'string' || !/^[a-z]{3}$/.test(b.currency)) throw new AdminError(400, 'currency must be a lowercase three-letter code, e.g. usd');
    out.currency = b.currency;
  }
  if (b.status !== undefined) {
    if (b.status !== 'paid' && b.status !== 'failed') throw new AdminError(400, 'status must be paid or failed');
    out.status = b.status;
  }
  return out;
}

const THREE_DS_PAGE = (id: string) => `<!doctype html><html><body><h1>Emulated 3-D Secure challenge</h1><p>${id}</p>
<form method="post" action="/_emulator/3ds/${id}/complete"><button>Complete authentication</button></form>
<form method="post" action="/_emulator/3ds/${id}/fail"><button>Fail authentication</button></form></body></html>`;

export async function handleAdmin(
  emu: Emulator,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  query: string,
  body: string,
): Promise<number> {
  const rid = newId('req', 14);
  const method = req.method ?? 'GET';
  const parts = path.split('/').filter(Boolean).slice(1); // drop "_emulator"
  const ok = (b: unknown, status = 200) => send(res, status, b, rid, {});
  try {
    let json: Record<string, unknown> = {};
    if (body.trim()) {
      const ct = String(req.headers['content-type'] ?? '');
      if (ct.includes('application/x-www-form-urlencoded')) json = Object.fromEntries(new URLSearchParams(body));
      else {
        try {
          json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          throw new AdminError(400, 'admin bodies are JSON');
        }
      }
    }
    const q = Object.fromEntries(new URLSearchParams(query));
    const [a, b, c, d] = parts;
    const route = `${method} ${a ?? ''}`;

    if (route === 'GET health') return ok({ ok: true, api_version: emu.config.apiVersion });
    if (route === 'POST reset') {
      resetEmulator(emu);
      return ok({ reset: true });
    }
    if (a === 'faults') {
      if (method === 'GET' && !b) return ok({ api: emu.faults.api, webhooks: emu.faults.webhooks });
      if (method === 'DELETE' && !b) {
        emu.faults.clear();
        return ok({ cleared: true });
      }
      if (method === 'POST' && b === 'api') return ok(emu.faults.addApi(validateApiFault(json)));
      if (method === 'POST' && b === 'webhooks') return ok(emu.faults.addWebhook(validateWebhookFault(json)));
      if (method === 'DELETE' && b) {
        if (!emu.faults.remove(b)) throw new AdminError(404, `no fault ${b}`);
        return ok({ id: b, deleted: true });
      }
    }
    if (a === '3ds' && b) {
      if (method === 'GET' && !c) {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(THREE_DS_PAGE(b));
        return 200;
      }
      if (method === 'POST' && (c === 'complete' || c === 'fail')) {
        const success = c === 'complete';
        if (b.startsWith('pi_')) return ok(completeThreeDS(emu, emu.get(emu.store.paymentIntents, 'payment_intent', b), success));
        if (b.startsWith('seti_')) return ok(completeSetupThreeDS(emu, emu.get(emu.store.setupIntents, 'setup_intent', b), success));
        throw new AdminError(404, `no intent ${b}`);
      }
    }
    if (a === 'deliveries') {
      if (method === 'GET' && !b) {
        let list = [...emu.webhooks.deliveries.values()];
        if (q.event) list = list.filter((x) => x.event === q.event);
        if (q.endpoint) list = list.filter((x) => x.endpoint === q.endpoint);
        if (q.status) list = list.filter((x) => x.status === q.status);
        if (q.type) list = list.filter((x) => x.type === q.type);
        return ok({ object: 'list', data: list, pending: emu.webhooks.pending });
      }
      if (method === 'POST' && b === 'release' && !c) return ok({ released: emu.webhooks.release() });
      if (method === 'POST' && b === 'wait') {
        const timeout = num(json.timeout_ms, 'timeout_ms') ?? 30_000;
        const idle = await Promise.race([emu.webhooks.idle().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeout))]);
        return ok({ idle, pending: emu.webhooks.pending });
      }
    }
    if (a === 'webhook_endpoints') {
      if (method === 'GET') return ok({ object: 'list', data: [...emu.store.webhookEndpoints.values()] });
      if (method === 'POST') {
        if (typeof json.url !== 'string') throw new AdminError(400, 'url is required');
        const events = json.enabled_events;
        if (events !== undefined && (!Array.isArray(events) || !events.every((e) => typeof e === 'string'))) throw new AdminError(400, 'enabled_events must be a list of strings');
        if (json.secret !== undefined && (typeof json.secret !== 'string' || !json.secret.startsWith('whsec_'))) throw new AdminError(400, 'secret must start with whsec_');
        return ok(createWebhookEndpoint(emu, { url: json.url, secret: json.secret as string | undefined, enabled_events: events as string[] | undefined }));
      }
    }
    if (a === 'terminal' && b === 'readers' && c && d === 'status' && method === 'POST') {
      if (json.status !== 'online' && json.status !== 'offline') throw new AdminError(400, 'status must be online or offline');
      return ok(setReaderStatus(emu.get(emu.store.readers, 'terminal.reader', c), json.status));
    }
    if (a === 'idempotency_keys' && b === 'expire' && !c && method === 'POST') return ok({ expired: emu.idempotency.expire() });
    if (a === 'refunds' && b && c === 'fail' && method === 'POST') return ok(failRefund(emu, emu.get(emu.store.refunds, 'refund', b)));
    if (a === 'payouts' && method === 'POST') {
      if (!b) return ok({ object: 'list', data: runPayouts(emu, validatePayoutRun(json)) });
      if (c === 'fail' && !d) return ok(failPayout(emu, emu.get(emu.store.payouts, 'payout', b)));
    }
    if (a === 'receipts' && b && method === 'GET') {
      const ch = emu.get(emu.store.charges, 'charge', b);
      return ok({ receipt_for: ch.id, amount: ch.amount, currency: ch.currency, status: ch.status });
    }
    throw new AdminError(404, `unknown admin route ${method} ${path}`);
  } catch (e) {
    if (e instanceof AdminError) return ok({ error: { type: 'invalid_request_error', message: e.message } }, e.status);
    if (e instanceof StripeApiError) return ok({ error: e.body }, e.status);
    throw e;
  }
}
