// Jest globalSetup for integration suites. Engines are resolved in this order:
//  1. KAFKA_BROKERS, DATABASE_URL, REDIS_URL, STRIPE_MOCK_URL already set: use them, start nothing;
//  2. a container runtime is reachable (Docker): start them with testcontainers (see containers.js);
//  3. otherwise start (or reuse) the project's own local engines with tools/infra/infra.sh.
// Workers inherit process.env, so tests only ever read those four variables.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../../..');
const KEYS = ['KAFKA_BROKERS', 'DATABASE_URL', 'REDIS_URL', 'STRIPE_MOCK_URL'];

function loadEnvFile(file) {
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m && !process.env[m[1]]) process.env[m[1]] = m[2];
  }
}

module.exports = async function globalSetup() {
  if (KEYS.every((k) => process.env[k])) return;
  if (process.env.TEST_ENGINES !== 'local') {
    const containers = require('./containers.js');
    if (await containers.hasContainerRuntime()) {
      Object.assign(process.env, await containers.startContainers(), process.env);
      return;
    }
  }
  execFileSync('bash', [path.join(ROOT, 'tools/infra/infra.sh'), 'up'], { stdio: ['ignore', 'ignore', 'inherit'] });
  loadEnvFile(path.join(process.env.INFRA_DIR || path.join(ROOT, '.cache/infra'), 'env'));
};
