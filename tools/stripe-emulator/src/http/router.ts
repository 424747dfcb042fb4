import type { Spec, Params } from './params';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

export interface RequestContext {
  requestId: string;
  idempotencyKey: string | null;
  /** events_read: the restricted key, which only reaches GET /v1/events… */
  auth: 'secret' | 'publishable' | 'events_read';
  /** Stripe-Version header as sent (null when absent) */
  stripeVersionHeader: string | null;
  method: HttpMethod;
  path: string;
  pathParams: Record<string, string>;
  params: Params;
}

export interface RouteDef {
  method: HttpMethod;
  path: string;
  spec: Spec;
  /** allowed with a publishable key (the handler then checks `client_secret`) */
  publishable?: boolean;
  handler: (ctx: RequestContext) => unknown | Promise<unknown>;
}

interface Compiled {
  def: RouteDef;
  segments: string[];
}

/** Static segments are matched exactly, `:name` segments capture. Routes are bucketed by method and segment count. */
export class Router {
  private readonly buckets = new Map<string, Compiled[]>();

  add(def: RouteDef): void {
    const segments = def.path.split('/').filter(Boolean);
    const key = `${def.method} ${segments.length}`;
    const list = this.buckets.get(key) ?? [];
    list.push({ def, segments });
    // static routes before parametrised ones (e.g. /readers/:id vs /readers/search)
    list.sort((a, b) => paramCount(a.segments) - paramCount(b.segments));
    this.buckets.set(key, list);
  }

  match(method: string, path: string): { def: RouteDef; pathParams: Record<string, string> } | null {
    const parts = path.split('/').filter(Boolean);
    const list = this.buckets.get(`${method} ${parts.length}`);
    if (!list) return null;
    outer: for (const c of list) {
      const pathParams: Record<string, string> = {};
      for (let i = 0; i < parts.length; i++) {
        const seg = c.segments[i]!;
        if (seg.startsWith(':')) {
          try {
            pathParams[seg.slice(1)] = decodeURIComponent(parts[i]!);
          } catch {
            continue outer;
          }
        } else if (seg !== parts[i]) continue outer;
      }
      return { def: c.def, pathParams };
    }
    return null;
  }
}

function paramCount(segs: string[]): number {
  return segs.filter((s) => s.startsWith(':')).length;
}
