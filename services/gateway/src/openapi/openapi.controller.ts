import { Controller, Get, Header } from '@nestjs/common';
import { Public } from '../auth/auth.decorators';
import { buildOpenApi, routes } from './spec';

@Public()
@Controller()
export class OpenApiController {
  private readonly spec = buildOpenApi();

  @Get('openapi.json')
  openapi(): Record<string, unknown> {
    return this.spec;
  }

  /** A plain page (no CDN: it must work offline) that lists the routes and links the spec. */
  @Get('docs')
  @Header('Content-Type', 'text/html; charset=utf-8')
  docs(): string {
    const rows = routes
      .map((r) => `<tr><td>${r.method.toUpperCase()}</td><td><code>${r.path}</code></td><td>${r.summary}</td><td>${r.roles === 'public' ? 'public' : r.roles.join(', ')}</td></tr>`)
      .join('');
    return `<!doctype html><html><head><title>omnipay gateway API</title><style>body{font-family:sans-serif;margin:2em}td{padding:.3em .8em;border-bottom:1px solid #ddd}</style></head><body><h1>omnipay gateway API</h1><p>OpenAPI 3: <a href="/openapi.json">/openapi.json</a></p><table>${rows}</table></body></html>`;
  }
}
