import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildOpenApi } from './spec';

const CHECKED_IN = path.resolve(__dirname, '../../openapi.json');

describe('OpenAPI document', () => {
  it('matches the checked-in services/gateway/openapi.json (regenerate with `npm run openapi`)', () => {
    expect(JSON.parse(readFileSync(CHECKED_IN, 'utf8'))).toEqual(buildOpenApi());
  });

  it('documents that clients never send prices: the checkout body has no amount field', () => {
    const spec = buildOpenApi() as { paths: Record<string, { post: { requestBody: { content: Record<string, { schema: unknown }> } } }> };
    const body = JSON.stringify(spec.paths['/v1/checkout'].post.requestBody);
    expect(body).toContain('lines');
    expect(body).not.toMatch(/amount|price|total/i);
  });
});
