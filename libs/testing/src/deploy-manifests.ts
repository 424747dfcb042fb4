import { PATH_METADATA } from '@nestjs/common/constants';
import { ConfigValidationError, kafkaSecurity, validateConfig, type BaseConfig } from '@omnipay/config';
import { dataSourceOptions } from '@omnipay/persistence';
import { HealthController, PlatformModule } from '@omnipay/platform';
import type { EdgeConfig } from '@omnipay/config';
import type { JsonLogger } from '@omnipay/observability';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import type { z } from 'zod';

/**
 * The deployment manifests (deploy/k8s, docker-compose.yml) against a service's code: each service's
 * `src/deploy-manifests.spec.ts` calls `describeDeployManifests` with its own config schema, so that the settings a
 * container would get are validated exactly as the service validates them at start (docs/deployment.md).
 * It reads the YAML itself (no kustomize needed) and understands only the kustomize features the manifests use:
 * anything else fails loudly rather than being skipped.
 */

export type ServiceName = 'gateway' | 'orders' | 'payments' | 'webhooks' | 'terminal';
export const SERVICES: readonly ServiceName[] = ['gateway', 'orders', 'payments', 'webhooks', 'terminal'];
const STATEFUL: readonly ServiceName[] = ['orders', 'payments', 'webhooks', 'terminal'];

/**
 * Settings that are secrets, and the only services that may hold each: the Stripe secret key stays with payments
 * and terminal (docs/architecture.md, invariant 5), the webhook secrets and the events-read key with webhooks, the
 * JWT key with the gateway; ADMIN_TOKEN guards `/admin/*`, which only the services with PostgreSQL have.
 */
export const SECRET_HOLDERS: Readonly<Record<string, readonly ServiceName[]>> = {
  STRIPE_SECRET_KEY: ['payments', 'terminal'],
  STRIPE_WEBHOOK_SECRETS: ['webhooks'],
  STRIPE_EVENTS_READ_KEY: ['webhooks'],
  JWT_SECRET: ['gateway'],
  ADMIN_TOKEN: STATEFUL,
  DATABASE_URL: STATEFUL, // carries a password
  REDIS_URL: SERVICES, // may carry one
  METRICS_TOKEN: SERVICES,
  SERVICE_TOKEN: ['gateway', 'orders', 'payments', 'terminal'],
  KAFKA_SASL_PASSWORD: STATEFUL,
};

export const ROOT = join(__dirname, '..', '..', '..');
const K8S = join(ROOT, 'deploy', 'k8s');
const rel = (path: string) => relative(ROOT, path);

/** PostgreSQL's statement_timeout on every pooled connection (libs/persistence/src/data-source.ts). */
export const STATEMENT_TIMEOUT_MS = Number(
  (
    dataSourceOptions({ url: 'postgres://x', schema: 'x', poolSize: 1, entities: [], migrations: [] })
      .extra as { statement_timeout: number }
  ).statement_timeout,
);

/** stripe-node's cap on the wait between two retries of a call (MAX_NETWORK_RETRY_DELAY_SEC). */
const STRIPE_MAX_RETRY_DELAY_MS = 5000;

/** The longest one Stripe call of the SDK can take with its retries (libs/stripe/src/client.ts). */
export function stripeCallMs(c: { STRIPE_TIMEOUT_MS: number; STRIPE_MAX_NETWORK_RETRIES: number }): number {
  return (
    c.STRIPE_TIMEOUT_MS * (1 + c.STRIPE_MAX_NETWORK_RETRIES) +
    STRIPE_MAX_RETRY_DELAY_MS * c.STRIPE_MAX_NETWORK_RETRIES
  );
}

// ---- Kubernetes objects: only the fields read here --------------------------------------------------------------

type Labels = Record<string, string>;
interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { configMapKeyRef?: KeyRef; secretKeyRef?: KeyRef } & Record<string, unknown>;
}
interface EnvFrom {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: EnvFrom[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  resources?: { requests?: Labels; limits?: Labels };
  securityContext?: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    runAsUser?: number;
    runAsNonRoot?: boolean;
  };
}
export interface K8sObject {
  kind: string;
  metadata: { name: string; labels?: Labels };
  data?: Labels;
  stringData?: Labels;
  spec?: unknown;
}
export interface Deployment extends K8sObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Labels };
    template: {
      metadata: { labels: Labels };
      spec: {
        containers: Container[];
        terminationGracePeriodSeconds?: number;
        securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
      };
    };
  };
}
export interface Service extends K8sObject {
  spec: { selector: Labels; ports: { name?: string; port: number; targetPort?: string | number }[] };
}
interface Pdb extends K8sObject {
  spec: {
    selector: { matchLabels: Labels };
    maxUnavailable?: number | string;
    minAvailable?: number | string;
  };
}
interface IngressPath {
  path: string;
  pathType: string;
  backend: { service: { name: string; port: { name?: string; number?: number } } };
}
interface Ingress extends K8sObject {
  spec: { rules: { http?: { paths: IngressPath[] } }[] };
}
interface ServiceMonitor extends K8sObject {
  spec: {
    selector: { matchLabels: Labels };
    endpoints: {
      port?: string;
      path?: string;
      authorization?: { type?: string; credentials?: { name: string; key: string } };
    }[];
  };
}

// ---- a small kustomize ---------------------------------------------------------------------------------------

export interface Build {
  objects: K8sObject[];
  configMaps: Map<string, Labels>;
  secrets: Map<string, Labels>;
}

interface Generator {
  name: string;
  behavior?: 'create' | 'merge' | 'replace';
  literals?: string[];
  envs?: string[];
  options?: unknown;
}

const UNDERSTOOD = new Set([
  'apiVersion',
  'kind',
  'resources',
  'components',
  'configMapGenerator',
  'secretGenerator',
  'labels',
  'namespace',
  'replicas',
]);

export function readYaml(path: string): K8sObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).flatMap((doc) => {
    if (doc.errors.length > 0)
      throw new Error(`${rel(path)}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJSON() as K8sObject | null;
    return value ? [value] : [];
  });
}

/** KEY=VALUE lines, `#` comments: kustomize's `envs` files. */
function readEnvFile(path: string): Labels {
  const out: Labels = {};
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim() || line.trimStart().startsWith('#')) continue;
    const i = line.indexOf('=');
    if (i <= 0) throw new Error(`${rel(path)}: "${line.slice(0, 20)}…" is not KEY=VALUE`);
    out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

function literals(entries: string[], where: string): Labels {
  const out: Labels = {};
  for (const entry of entries) {
    const i = entry.indexOf('=');
    if (i <= 0) throw new Error(`${where}: literal "${entry.slice(0, 20)}…" is not KEY=VALUE`);
    out[entry.slice(0, i)] = entry.slice(i + 1);
  }
  return out;
}

/** What `kustomize build <dir>` would output, reduced to objects by name and ConfigMap/Secret data by name. */
export function kustomize(dir: string): Build {
  const file = join(dir, 'kustomization.yaml');
  const k = parse(readFileSync(file, 'utf8')) as Record<string, unknown> & {
    resources?: string[];
    components?: string[];
    configMapGenerator?: Generator[];
    secretGenerator?: Generator[];
    replicas?: { name: string; count: number }[];
  };
  const unknown = Object.keys(k).filter((key) => !UNDERSTOOD.has(key));
  if (unknown.length > 0)
    throw new Error(
      `${rel(file)}: ${unknown.join(', ')} not understood by libs/testing/src/deploy-manifests.ts; teach it`,
    );
  const build: Build = { objects: [], configMaps: new Map(), secrets: new Map() };
  for (const entry of [...(k.resources ?? []), ...(k.components ?? [])]) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) {
      const sub = kustomize(path);
      build.objects.push(...sub.objects);
      sub.configMaps.forEach((v, name) => build.configMaps.set(name, v));
      sub.secrets.forEach((v, name) => build.secrets.set(name, v));
      continue;
    }
    for (const o of readYaml(path)) {
      build.objects.push(o);
      if (o.kind === 'ConfigMap') build.configMaps.set(o.metadata.name, { ...o.data });
      if (o.kind === 'Secret') build.secrets.set(o.metadata.name, secretData(o));
    }
  }
  const generate = (gens: Generator[] | undefined, into: Map<string, Labels>, what: string) => {
    for (const g of gens ?? []) {
      const where = `${rel(file)} ${what} ${g.name}`;
      const data = { ...literals(g.literals ?? [], where) };
      for (const env of g.envs ?? []) Object.assign(data, readEnvFile(resolve(dir, env)));
      const behavior = g.behavior ?? 'create';
      const existing = into.get(g.name);
      if (behavior === 'create' && existing) throw new Error(`${where}: already exists (behavior: merge?)`);
      if (behavior !== 'create' && !existing) throw new Error(`${where}: nothing to ${behavior}`);
      into.set(g.name, behavior === 'merge' ? { ...existing, ...data } : data);
    }
  };
  generate(k.configMapGenerator, build.configMaps, 'configMapGenerator');
  generate(k.secretGenerator, build.secrets, 'secretGenerator');
  for (const r of k.replicas ?? []) {
    const d = build.objects.find(
      (o): o is Deployment => o.kind === 'Deployment' && o.metadata.name === r.name,
    );
    if (!d) throw new Error(`${rel(file)}: replicas of ${r.name}, which is not a Deployment here`);
    d.spec.replicas = r.count;
  }
  return build;
}

function secretData(o: K8sObject): Labels {
  const decoded = Object.fromEntries(
    Object.entries(o.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
  return { ...decoded, ...o.stringData };
}

/** deploy/k8s/base, with the placeholders of base/secret.example.yaml as the Secrets it refers to. */
export function loadBase(): Build {
  const build = kustomize(join(K8S, 'base'));
  for (const o of readYaml(join(K8S, 'base', 'secret.example.yaml'))) {
    if (o.kind !== 'Secret') throw new Error(`base/secret.example.yaml: a ${o.kind}; it holds Secrets only`);
    build.secrets.set(o.metadata.name, secretData(o));
  }
  return build;
}

export const loadDevOverlay = (): Build => kustomize(join(K8S, 'overlays', 'dev'));
export const loadExamples = (): K8sObject[] => readYaml(join(K8S, 'examples', 'ingress.yaml'));
export const loadPrometheusComponent = (): Build => kustomize(join(K8S, 'components', 'prometheus-operator'));

export function find<T extends K8sObject>(objects: K8sObject[], kind: string, name: string): T | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name) as T | undefined;
}

const selects = (selector: Labels, labels: Labels | undefined) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

// ---- the image -------------------------------------------------------------------------------------------------

/** ENV and USER of deploy/Dockerfile's last stage: what every container starts with. */
export function imageDefaults(): { env: Labels; user?: string } {
  const text = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const last = text.split(/^FROM /m).pop() ?? '';
  const env: Labels = {};
  let user: string | undefined;
  for (const line of last.split('\n')) {
    const m = /^(ENV|USER)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'USER') user = m[2].trim();
    else
      for (const pair of m[2].trim().split(/\s+/))
        env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1);
  }
  return { env, user };
}

/** The official node images' `node` user, which deploy/Dockerfile runs as. */
const NODE_UID = 1000;

// ---- a container's environment ----------------------------------------------------------------------------------

export interface EnvSource {
  from: 'image' | 'literal' | 'configMap' | 'secret';
  name?: string;
  key?: string;
}
export interface ContainerEnv {
  env: Labels;
  sources: Record<string, EnvSource>;
  problems: string[];
}

/** The environment Kubernetes would give a container: the image's ENV, then `envFrom` in order, then `env`. */
export function containerEnv(
  build: Build,
  container: Container,
  image: Labels = imageDefaults().env,
): ContainerEnv {
  const env: Labels = { ...image };
  const sources: Record<string, EnvSource> = Object.fromEntries(
    Object.keys(image).map((k) => [k, { from: 'image' }]),
  );
  const problems: string[] = [];
  const seen = new Set<string>();
  const set = (key: string, value: string, source: EnvSource) => {
    if (seen.has(key))
      problems.push(
        `${key}: given twice (${sources[key].from} ${sources[key].name ?? ''}, ${source.from} ${source.name ?? ''})`,
      );
    seen.add(key);
    env[key] = value;
    sources[key] = source;
  };
  for (const f of container.envFrom ?? []) {
    const ref = f.configMapRef ?? f.secretRef;
    const from = f.configMapRef ? 'configMap' : 'secret';
    if (!ref) {
      problems.push('envFrom: neither configMapRef nor secretRef');
      continue;
    }
    const data = (from === 'configMap' ? build.configMaps : build.secrets).get(ref.name);
    if (!data) {
      if (!ref.optional) problems.push(`envFrom: ${from} ${ref.name} does not exist`);
      continue;
    }
    for (const [k, v] of Object.entries(data))
      set(`${f.prefix ?? ''}${k}`, v, { from, name: ref.name, key: k });
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined || !e.valueFrom) {
      // $(VAR) is expanded from what is defined before it, as Kubernetes does.
      set(
        e.name,
        (e.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m),
        { from: 'literal' },
      );
      continue;
    }
    const ref = e.valueFrom.configMapKeyRef ?? e.valueFrom.secretKeyRef;
    if (!ref) {
      problems.push(
        `${e.name}: valueFrom ${Object.keys(e.valueFrom).join(', ')} not understood by this check`,
      );
      continue;
    }
    const from = e.valueFrom.configMapKeyRef ? 'configMap' : 'secret';
    const value = (from === 'configMap' ? build.configMaps : build.secrets).get(ref.name)?.[ref.key];
    if (value === undefined) {
      if (!ref.optional) problems.push(`${e.name}: ${from} ${ref.name} has no key ${ref.key}`);
      continue;
    }
    set(e.name, value, { from, name: ref.name, key: ref.key });
  }
  return { env, sources, problems };
}

// ---- docker-compose.yml -----------------------------------------------------------------------------------------

interface ComposeService {
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | { target: number })[];
}

/** docker-compose.yml's services, with its anchors and `<<` merge keys resolved as Compose resolves them. */
export function loadCompose(file = join(ROOT, 'docker-compose.yml')): Record<string, ComposeService> {
  return (parse(readFileSync(file, 'utf8'), { merge: true }) as { services: Record<string, ComposeService> })
    .services;
}

export function composeEnv(s: ComposeService, image: Labels = imageDefaults().env): Labels {
  const env: Labels = { ...image };
  const e = s.environment ?? {};
  const pairs = Array.isArray(e)
    ? e.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
    : Object.entries(e);
  // A key without a value is taken from the host's environment: unset here.
  for (const [k, v] of pairs) if (v !== null && v !== undefined) env[k] = String(v);
  return env;
}

const commandOf = (c: string | string[] | undefined) =>
  typeof c === 'string' ? c.trim().split(/\s+/) : (c ?? []);

// ---- checks ------------------------------------------------------------------------------------------------------

/**
 * What is wrong with an environment for a service: what its own validation at start refuses (a missing or invalid
 * setting), and keys it never reads (a typo, or meant for another service). Secrets are `secretProblems`' business.
 */
export function settingsProblems(schema: z.AnyZodObject, env: Labels): string[] {
  const problems: string[] = [];
  try {
    const config = validateConfig(schema, env) as BaseConfig;
    // The settings checked together at start (bootstrapService), for the services that talk to Kafka.
    if ('KAFKA_BROKERS' in schema.shape) kafkaSecurity(config);
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    problems.push(...error.problems);
  }
  for (const key of Object.keys(env))
    if (!(key in schema.shape) && !SECRET_HOLDERS[key])
      problems.push(`${key}: not a setting of this service (a typo, or meant for another one)`);
  return problems;
}

/** Secrets a service is given but must not hold (SECRET_HOLDERS). */
export function secretProblems(service: ServiceName, env: Labels): string[] {
  return Object.keys(env)
    .filter((key) => SECRET_HOLDERS[key] && !SECRET_HOLDERS[key].includes(service))
    .map((key) => `${key}: a secret only ${SECRET_HOLDERS[key].join(' and ')} may hold`);
}

/** Whether an Ingress path (Kubernetes' matching rules) takes a request for `path`. */
export function ingressTakes(p: { path: string; pathType: string }, path: string): boolean {
  if (p.pathType === 'Exact') return path === p.path;
  const prefix = p.path.replace(/\/+$/, '');
  if (p.pathType === 'Prefix') return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
  return path.startsWith(p.path); // ImplementationSpecific: assume the widest
}

/** The routes `PlatformModule` serves in every service, as `/prefix/path`, by handler name. */
function platformRoutes(): { health: Record<string, string[]>; all: string[] } {
  const routesOf = (controller: object): Record<string, string[]> => {
    const prefix = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    const proto = (controller as { prototype: Record<string, unknown> }).prototype;
    const out: Record<string, string[]> = {};
    const segments = (...s: string[]) =>
      `/${s
        .map((x) => x.replace(/^\/+|\/+$/g, ''))
        .filter(Boolean)
        .join('/')}`;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const handler = proto[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      if (paths !== undefined) out[name] = [paths].flat().map((p) => segments(prefix, p));
    }
    return out;
  };
  const edge = PlatformModule.forEdge({
    service: 'check',
    config: {} as EdgeConfig,
    logger: {} as JsonLogger,
  });
  // /admin/* (dead letters, replay, backfill) are operators' routes behind ADMIN_TOKEN.
  const all = [
    ...(edge.controllers ?? []).flatMap((c) => Object.values(routesOf(c)).flat()),
    '/admin',
    '/admin/dead-letters',
  ];
  return { health: routesOf(HealthController), all };
}

export interface ServiceUnderTest<S extends z.AnyZodObject> {
  service: ServiceName;
  /** The service's real config schema (`src/config.ts`). */
  schema: S;
  /** The longest work a SIGTERM waits for (requests in flight, the chunk in hand), from the settings the container gets. */
  drainMs: (config: z.infer<S>) => number;
  /** Routes an Ingress may expose (each Ingress path must take at least one, and no operational route); none = internal. */
  publicRoutes?: string[];
}

/** The jest suite of one service's manifests: deploy/k8s (base, dev overlay, examples, components) and docker-compose.yml. */
export function describeDeployManifests<S extends z.AnyZodObject>(t: ServiceUnderTest<S>): void {
  const { service, schema } = t;
  const image = imageDefaults();
  const base = loadBase();
  const dev = loadDevOverlay();
  const compose = loadCompose();
  const mainJs = `dist/services/${service}/services/${service}/src/main.js`; // tools/scripts/build.js's layout
  const stateful = 'DATABASE_URL' in schema.shape;

  const deploymentIn = (b: Build): Deployment => {
    const d = find<Deployment>(b.objects, 'Deployment', service);
    if (!d) throw new Error(`no Deployment ${service}`);
    return d;
  };
  const containerIn = (b: Build): Container => {
    const d = deploymentIn(b);
    const c = d.spec.template.spec.containers.find((x) => x.name === service);
    if (!c) throw new Error(`Deployment ${service} has no container ${service}`);
    return c;
  };
  const k8sEnv = (b: Build) => containerEnv(b, containerIn(b), image.env);
  const parsed = (env: Labels): z.infer<S> => validateConfig(schema, env);
  const servicesIn = (b: Build) => b.objects.filter((o): o is Service => o.kind === 'Service');

  describe(`${service}: deploy/k8s and docker-compose.yml against the code`, () => {
    it("runs the service's main from the omnipay image, with the command docker-compose.yml uses", () => {
      expect(existsSync(join(ROOT, 'services', service, 'src', 'main.ts'))).toBe(true);
      const c = containerIn(base);
      expect(c.image).toBe('omnipay:latest');
      expect([...(c.command ?? []), ...(c.args ?? [])]).toEqual(['node', mainJs]);
      expect(commandOf(compose[service]?.command)).toEqual(['node', mainJs]);
    });

    for (const [what, load] of [
      ['deploy/k8s/base (secret.example.yaml as the Secrets)', () => base],
      ['deploy/k8s/overlays/dev', () => dev],
    ] as const) {
      it(`${what}: the settings it gets pass the service's own validation, and it reads every one`, () => {
        const { env, problems } = k8sEnv(load());
        expect([...problems, ...settingsProblems(schema, env)]).toEqual([]);
      });
    }

    it("docker-compose.yml: the settings it gets pass the service's own validation, and it reads every one", () => {
      expect(compose[service]).toBeDefined();
      expect(settingsProblems(schema, composeEnv(compose[service], image.env))).toEqual([]);
    });

    it('gets the service token wherever it serves or calls the internal APIs in production (decision 0024)', () => {
      const needs = SECRET_HOLDERS.SERVICE_TOKEN.includes(service);
      for (const env of [k8sEnv(base).env, k8sEnv(dev).env, composeEnv(compose[service], image.env)]) {
        const config = parsed(env) as { NODE_ENV: string; SERVICE_TOKEN?: string[] };
        if (needs && config.NODE_ENV === 'production') expect(config.SERVICE_TOKEN?.length ?? 0).toBeGreaterThan(0);
        if (!needs) expect(config.SERVICE_TOKEN).toBeUndefined();
      }
    });

    it('is given only the secrets it needs, in Kubernetes from a Secret', () => {
      const problems: string[] = [];
      for (const [what, b] of [
        ['base', base],
        ['dev', dev],
      ] as const) {
        const { env, sources } = k8sEnv(b);
        problems.push(...secretProblems(service, env).map((p) => `${what}: ${p}`));
        for (const [key, source] of Object.entries(sources))
          if (SECRET_HOLDERS[key] && source.from !== 'secret')
            problems.push(`${what}: ${key} from a ${source.from}, not a Secret`);
      }
      problems.push(
        ...secretProblems(service, composeEnv(compose[service], {})).map((p) => `docker-compose.yml: ${p}`),
      );
      expect(problems).toEqual([]);
    });

    it('listens on its PORT default, on all interfaces, behind a Service with the same port', () => {
      const setting = (key: 'PORT' | 'HOST', env: Labels) =>
        (schema.shape[key] as z.ZodTypeAny).parse(env[key]) as unknown;
      const port = setting('PORT', {}) as number;
      const env = k8sEnv(base).env;
      const c = containerIn(base);
      expect(c.ports).toEqual([{ name: 'http', containerPort: port }]);
      expect(setting('PORT', env)).toBe(port);
      expect(setting('HOST', env)).toBe('0.0.0.0');
      const svc = find<Service>(base.objects, 'Service', service);
      expect(svc).toBeDefined();
      expect(selects(svc!.spec.selector, deploymentIn(base).spec.template.metadata.labels)).toBe(true);
      expect(svc!.spec.ports).toEqual([{ name: 'http', port, targetPort: 'http' }]);
      const composed = composeEnv(compose[service], image.env);
      expect(setting('HOST', composed)).toBe('0.0.0.0');
      for (const p of compose[service].ports ?? []) {
        const target = typeof p === 'object' ? p.target : Number(String(p).split(':').pop());
        expect(target).toBe(setting('PORT', composed));
      }
    });

    it('is probed on the health routes the platform serves: ready on /health/ready, live on /health/live', () => {
      const { health } = platformRoutes();
      const c = containerIn(base);
      const onHttp = (p: Probe | undefined) => {
        expect(p?.httpGet).toBeDefined();
        expect(['http', c.ports?.[0].containerPort]).toContain(p!.httpGet!.port);
        return p!;
      };
      const ready = onHttp(c.readinessProbe);
      expect(health.ready).toContain(ready.httpGet!.path);
      expect(ready.httpGet!.path).toBe('/health/ready');
      // Each engine probe is given up after 2 s (health.controller.ts): the answer comes after that.
      expect(ready.timeoutSeconds ?? 1).toBeGreaterThan(2);
      const live = onHttp(c.livenessProbe);
      expect(health.live).toContain(live.httpGet!.path);
      expect(live.httpGet!.path).toBe('/health/live');
      // The port opens only after migrations and, with consumers, topics and group joins: give that time.
      const startup = onHttp(c.startupProbe);
      expect([...health.live, ...health.ready]).toContain(startup.httpGet!.path);
      expect((startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3)).toBeGreaterThanOrEqual(
        stateful ? 120 : 30,
      );
    });

    it('is given longer to stop than what a SIGTERM waits for', () => {
      const d = deploymentIn(base);
      const c = containerIn(base);
      const preStop = c.lifecycle?.preStop;
      const preStopS =
        preStop?.sleep?.seconds ??
        (preStop?.exec?.command[0] === 'sleep' ? Number(preStop.exec.command[1]) : 0);
      const grace = d.spec.template.spec.terminationGracePeriodSeconds;
      expect(grace).toBeDefined();
      expect(grace! * 1000).toBeGreaterThan(preStopS * 1000 + t.drainMs(parsed(k8sEnv(base).env)));
    });

    it("runs as the image's non-root user on a read-only root filesystem, with resources set", () => {
      const pod = deploymentIn(base).spec.template.spec;
      const c = containerIn(base);
      expect(image.user).toBe('node');
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser).toBe(NODE_UID);
      expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
      expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
      expect(c.resources?.requests?.cpu).toBeDefined();
      expect(c.resources?.requests?.memory).toBeDefined();
      expect(c.resources?.limits?.memory).toBeDefined();
    });

    it('keeps a replica serving through voluntary disruptions', () => {
      const d = deploymentIn(base);
      const pdbs = base.objects.filter(
        (o): o is Pdb =>
          o.kind === 'PodDisruptionBudget' &&
          selects((o as Pdb).spec.selector.matchLabels, d.spec.template.metadata.labels),
      );
      expect(pdbs).toHaveLength(1);
      const replicas = d.spec.replicas ?? 1;
      expect(replicas).toBeGreaterThanOrEqual(2);
      const { maxUnavailable, minAvailable } = pdbs[0].spec;
      expect(
        typeof maxUnavailable === 'number' ? maxUnavailable : replicas - Number(minAvailable),
      ).toBeGreaterThanOrEqual(1);
      expect(
        typeof maxUnavailable === 'number' ? replicas - maxUnavailable : Number(minAvailable),
      ).toBeGreaterThanOrEqual(1);
    });

    it('calls the other services at the ports their Services and the compose services listen on', () => {
      const problems: string[] = [];
      const portsByName = new Map(
        [...servicesIn(base), ...servicesIn(dev)].map((s) => [
          s.metadata.name,
          s.spec.ports.map((p) => p.port),
        ]),
      );
      const check = (where: string, env: Labels) => {
        for (const [key, value] of Object.entries(env)) {
          if (!/^https?:\/\//.test(value)) continue;
          const url = new URL(value);
          if (url.hostname.includes('.')) continue; // outside the cluster or the compose network
          const ports = portsByName.get(url.hostname);
          if (!ports) problems.push(`${where}: ${key} names ${url.hostname}, which no Service here is`);
          else if (!ports.includes(Number(url.port || (url.protocol === 'https:' ? 443 : 80))))
            problems.push(
              `${where}: ${key} calls ${url.hostname} on ${url.port || 'the default port'}; it listens on ${ports.join(', ')}`,
            );
        }
      };
      check('base', k8sEnv(base).env);
      check('dev', k8sEnv(dev).env);
      check('docker-compose.yml', composeEnv(compose[service], {}));
      expect(problems).toEqual([]);
      // The Stripe emulator is for development only.
      expect(base.objects.some((o) => o.metadata.name === 'stripe-emulator')).toBe(false);
    });

    it('is exposed by an Ingress only where meant to be, and never its health, metrics or admin routes', () => {
      const { all: operational } = platformRoutes();
      const paths = loadExamples()
        .filter((o): o is Ingress => o.kind === 'Ingress')
        .flatMap((i) => i.spec.rules.flatMap((r) => r.http?.paths ?? []))
        .filter((p) => p.backend.service.name === service);
      const problems: string[] = [];
      if (paths.length > 0 && !t.publicRoutes)
        problems.push(`${service} is internal, but an Ingress routes to it`);
      for (const p of paths) {
        const exposed = operational.filter((route) => ingressTakes(p, route));
        if (exposed.length > 0) problems.push(`${p.pathType} ${p.path} exposes ${exposed.join(', ')}`);
        if (!(t.publicRoutes ?? []).some((route) => ingressTakes(p, route)))
          problems.push(`${p.pathType} ${p.path} takes none of its public routes`);
        if (
          p.backend.service.port.name !== 'http' &&
          p.backend.service.port.number !== containerIn(base).ports?.[0].containerPort
        )
          problems.push(`${p.path}: not the Service's http port`);
      }
      expect(problems).toEqual([]);
      // A public port shows its metrics to the internet unless METRICS_TOKEN is set (metrics.controller.ts).
      if (paths.length > 0) expect(k8sEnv(base).env.METRICS_TOKEN).toBeDefined();
    });

    it('is scraped at /metrics as a job of its own, with the bearer token it asks for', () => {
      const { all } = platformRoutes();
      expect(all).toContain('/metrics');
      const svc = find<Service>(base.objects, 'Service', service)!;
      const monitors = loadPrometheusComponent().objects.filter(
        (o): o is ServiceMonitor =>
          o.kind === 'ServiceMonitor' &&
          selects((o as ServiceMonitor).spec.selector.matchLabels, svc.metadata.labels),
      );
      expect(monitors).toHaveLength(1);
      expect(monitors[0].spec.endpoints).toHaveLength(1);
      const endpoint = monitors[0].spec.endpoints[0];
      expect(endpoint.port).toBe('http');
      expect(endpoint.path).toBe('/metrics');
      const token = k8sEnv(base).sources.METRICS_TOKEN;
      if (token)
        expect(endpoint.authorization).toEqual({
          type: 'Bearer',
          credentials: { name: token.name, key: token.key },
        });
    });
  });
}
