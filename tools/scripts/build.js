// Compiles one deployable (a service or a tool) and the libs it uses into dist/<project>/ with SWC, rewriting
// the @omnipay/* path aliases to relative paths, so the output runs with plain `node` (no TypeScript at run time):
//   node tools/scripts/build.js services/payments  →  node dist/services/payments/services/payments/src/main.js
const { transformFileSync } = require('@swc/core');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../..');
const project = process.argv[2];
if (!project) {
  console.error('usage: node tools/scripts/build.js <project dir, e.g. services/payments>');
  process.exit(2);
}
const { compilerOptions } = require(path.join(ROOT, 'tsconfig.base.json'));
const outRoot = path.join(ROOT, 'dist', project);
const aliases = Object.entries(compilerOptions.paths).map(([alias, [target]]) => [alias, path.join(ROOT, target)]);

function* sources(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(full);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts')) yield full;
  }
}

fs.rmSync(outRoot, { recursive: true, force: true });
const dirs = [path.join(ROOT, project, 'src'), ...['libs', 'tools/stripe-emulator'].map((d) => path.join(ROOT, d))];
let count = 0;
for (const dir of dirs) {
  for (const file of sources(dir)) {
    if (file.includes(`${path.sep}test${path.sep}`)) continue;
    const out = path.join(outRoot, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
    let { code } = transformFileSync(file, {
      swcrc: false,
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
        keepClassNames: true,
      },
      module: { type: 'commonjs' },
      sourceMaps: 'inline',
    });
    for (const [alias, target] of aliases) {
      const rel = path.relative(path.dirname(file), target).replace(/\.ts$/, '');
      code = code.split(`require("${alias}")`).join(`require("${rel.startsWith('.') ? rel : `./${rel}`}")`);
    }
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, code);
    count++;
  }
}
console.log(`built ${project}: ${count} files → ${path.relative(ROOT, outRoot)}`);
