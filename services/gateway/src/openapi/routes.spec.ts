import { RequestMethod, type DynamicModule, type Type } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { JsonLogger, createLogger } from '@omnipay/observability';
import { AppModule } from '../app.module';
import type { GatewayConfig } from '../config';
import { operationalRoutes, routes, successStatus } from './spec';

/**
 * `METHOD path status` of every handler of the controllers, as Nest routes and answers them (`:id` written `{id}`;
 * the status of a success: `@HttpCode`, or Nest's default, 201 for a POST).
 */
function served(controllers: Type[]): string[] {
  const out: string[] = [];
  for (const c of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, c) ?? '');
    for (const name of Object.getOwnPropertyNames(c.prototype)) {
      const handler = (c.prototype as Record<string, unknown>)[name];
      if (typeof handler !== 'function' || name === 'constructor') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (method === undefined) continue;
      const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[];
      const code = (Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined) ?? (method === RequestMethod.POST ? 201 : 200);
      for (const p of Array.isArray(paths) ? paths : [paths]) {
        const full = `/${[base, p].filter((s) => s && s !== '/').join('/')}`.replace(/:(\w+)/g, '{$1}');
        out.push(`${RequestMethod[method]} ${full} ${code}`);
      }
    }
  }
  return out.sort();
}

function controllersOf(m: DynamicModule): Type[] {
  return [...(m.controllers ?? []), ...((m.imports ?? []) as DynamicModule[]).flatMap((i) => controllersOf(i))];
}

describe('the routes the gateway serves', () => {
  it('are exactly the documented ones (with their success status) and the operational ones, so the OpenAPI document and the 405 answers are true', () => {
    const module = AppModule.register({} as GatewayConfig, new JsonLogger(createLogger('gateway', 'silent')));
    const documented = [
      ...routes.map((r) => `${r.method.toUpperCase()} ${r.path} ${successStatus(r)}`),
      ...operationalRoutes.map((r) => `GET ${r.path} 200`),
    ].sort();
    expect(served(controllersOf(module))).toEqual(documented);
  });
});
