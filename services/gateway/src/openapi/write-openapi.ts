// Regenerates services/gateway/openapi.json from the route table (npm run openapi).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildOpenApi } from './spec';

writeFileSync(path.resolve(__dirname, '../../openapi.json'), `${JSON.stringify(buildOpenApi(), null, 2)}\n`);
