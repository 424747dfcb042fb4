/** Webhook endpoints (`we_…`); the `whsec_…` secret is returned on create only. */
import type { Emulator } from '../app';
import { invalidRequest } from '../http/errors';
import { f, EXPAND, LIST } from '../http/params';
import { newId, nowSeconds, randomToken } from '../ids';
import type { StripeObject } from '../store';
import { mergeMetadata } from './common';

export function createWebhookEndpoint(
  emu: Emulator,
  o: { url: string; enabled_events?: string[]; secret?: string; description?: string | null; metadata?: Record<string, string>; api_version?: string | null; preconfigured?: boolean },
): StripeObject {
  try {
    const u = new URL(o.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw invalidRequest(`Invalid URL: ${o.url}`, { param: 'url', code: 'url_invalid' });
  }
  const secret = o.secret ?? `whsec_${randomToken(32)}`;
  const ep: StripeObject = {
    id: newId('we'),
    object: 'webhook_endpoint',
    api_version: o.api_version ?? null,
    application: null,
    created: nowSeconds(),
    description: o.description ?? null,
    enabled_events: o.enabled_events ?? ['*'],
    livemode: false,
    metadata: o.metadata ?? {},
    status: 'enabled',
    url: o.url,
  };
  emu.store.webhookEndpoints.insert(ep);
  emu.store.endpointInternal.set(ep.id, { secrets: [secret], preconfigured: o.preconfigured });
  return { ...ep, secret };
}

export function register(emu: Emulator): void {
  const { store } = emu;
  emu.route({
    method: 'POST',
    path: '/v1/webhook_endpoints',
    spec: { ...EXPAND, url: f.req(), enabled_events: f.arr(f.str(), { required: true }), api_version: f.str(), connect: f.bool(), description: f.str({ emptyOk: true }), metadata: f.meta() },
    handler: (ctx) => {
      const p = ctx.params;
      if (!p.enabled_events.length) throw invalidRequest('Missing required param: enabled_events.', { param: 'enabled_events', code: 'parameter_missing' });
      return createWebhookEndpoint(emu, { url: p.url, enabled_events: p.enabled_events, description: p.description, metadata: p.metadata, api_version: p.api_version });
    },
  });
  emu.route({ method: 'GET', path: '/v1/webhook_endpoints/:id', spec: EXPAND, handler: (ctx) => emu.get(store.webhookEndpoints, 'webhook endpoint', ctx.pathParams.id!) });
  emu.route({
    method: 'POST',
    path: '/v1/webhook_endpoints/:id',
    spec: { ...EXPAND, url: f.str(), enabled_events: f.arr(f.str()), description: f.str({ emptyOk: true }), disabled: f.bool(), metadata: f.meta() },
    handler: (ctx) => {
      const ep = emu.get(store.webhookEndpoints, 'webhook endpoint', ctx.pathParams.id!);
      const p = ctx.params;
      if (p.url) ep.url = p.url;
      if (p.enabled_events) ep.enabled_events = p.enabled_events;
      if (p.description !== undefined) ep.description = p.description || null;
      if (p.disabled !== undefined) ep.status = p.disabled ? 'disabled' : 'enabled';
      if (p.metadata) ep.metadata = mergeMetadata(ep.metadata, p.metadata);
      return ep;
    },
  });
  emu.route({
    method: 'DELETE',
    path: '/v1/webhook_endpoints/:id',
    spec: {},
    handler: (ctx) => {
      const ep = emu.get(store.webhookEndpoints, 'webhook endpoint', ctx.pathParams.id!);
      store.webhookEndpoints.delete(ep.id);
      store.endpointInternal.delete(ep.id);
      return { id: ep.id, object: 'webhook_endpoint', deleted: true };
    },
  });
  emu.route({ method: 'GET', path: '/v1/webhook_endpoints', spec: LIST, handler: (ctx) => emu.list(store.webhookEndpoints, '/v1/webhook_endpoints', ctx.params) });
}
