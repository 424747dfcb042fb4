import type { Emulator } from '../app';
import { f, EXPAND, LIST } from '../http/params';
import type { StripeObject } from '../store';

function typeMatcher(pattern: string): (t: string) => boolean {
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return (t) => t.startsWith(prefix);
  }
  return (t) => t === pattern;
}

export function register(emu: Emulator): void {
  const { store } = emu;
  emu.route({ method: 'GET', path: '/v1/events/:id', spec: EXPAND, handler: (ctx) => emu.get(store.events, 'event', ctx.pathParams.id!) });
  emu.route({
    method: 'GET',
    path: '/v1/events',
    spec: { ...LIST, type: f.str(), types: f.arr(f.str()), delivery_success: f.bool() },
    handler: (ctx) => {
      const p = ctx.params;
      const matchers = [...(p.type ? [p.type as string] : []), ...((p.types as string[] | undefined) ?? [])].map(typeMatcher);
      const ds = p.delivery_success as boolean | undefined;
      const filter =
        matchers.length || ds !== undefined
          ? (e: StripeObject) => (!matchers.length || matchers.some((m) => m(e.type))) && (ds === undefined || (e.pending_webhooks === 0) === ds)
          : undefined;
      return emu.list(store.events, '/v1/events', p, filter);
    },
  });
}
