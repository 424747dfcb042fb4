import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Histogram, Registry, Summary, collectDefaultMetrics } from 'prom-client';
import { parse } from 'yaml';

/**
 * deploy/prometheus/alerts.yml against the code: every rule is well formed, every metric it reads is one the
 * services register (a rule on a renamed or removed metric never fires, silently), every label it matches on is
 * one that metric has, and docs/operations.md explains every alert.
 */

const ROOT = join(__dirname, '..', '..', '..');
const RULES_FILE = join(ROOT, 'deploy', 'prometheus', 'alerts.yml');
const GUIDE_FILE = join(ROOT, 'docs', 'operations.md');

interface Rule {
  alert?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: { severity?: unknown } & Record<string, unknown>;
  annotations?: { summary?: unknown; description?: unknown } & Record<string, unknown>;
}

interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

interface MetricDef {
  histogram: boolean;
  labels: string[];
  where: string;
}

/** Series Prometheus makes itself for every target: not registered by any code. */
const PROMETHEUS_SERIES: Record<string, MetricDef> = {
  up: { histogram: false, labels: [], where: 'Prometheus' },
};

/** Labels the scrape adds to every series. */
const TARGET_LABELS = ['job', 'instance'];

const AGGREGATIONS = [
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
];
const KEYWORDS = [
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'and',
  'or',
  'unless',
  'atan2',
  'start',
  'end',
  'inf',
  'nan',
];
const NOT_METRICS = new Set([...AGGREGATIONS, ...KEYWORDS]);

// ---------------------------------------------------------------------------------------------------------------
// What the code registers

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

function projectSources(): string[] {
  return ['libs', 'services'].flatMap((kind) =>
    readdirSync(join(ROOT, kind), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) => {
        const src = join(ROOT, kind, d.name, 'src');
        try {
          return sourceFiles(src);
        } catch {
          return [];
        }
      }),
  );
}

/**
 * `new Counter|Gauge|Histogram|Summary({ name: '…', labelNames: [...] … })` in the code. A constructor's object is
 * read up to the first `})`: at its end, or inside a `collect()` that comes after its name and labels.
 */
function metricsDefinedIn(text: string, where: string): Record<string, MetricDef> {
  const found: Record<string, MetricDef> = {};
  const constructor = /new\s+(Counter|Gauge|Histogram|Summary)\s*\(\s*\{([\s\S]*?)\}\s*\)/g;
  for (const m of text.matchAll(constructor)) {
    const body = m[2];
    const name = /\bname:\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/.exec(body)?.[1];
    if (!name) continue;
    const labelList = /\blabelNames:\s*\[([^\]]*)\]/.exec(body)?.[1] ?? '';
    const labels = [...labelList.matchAll(/'([^']+)'/g)].map((l) => l[1]);
    found[name] = { histogram: m[1] === 'Histogram' || m[1] === 'Summary', labels, where };
  }
  return found;
}

/** prom-client's default metrics, by the names this prom-client version gives them. */
function defaultMetrics(): Record<string, MetricDef> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const defs: Record<string, MetricDef> = {};
  for (const metric of registry.getMetricsAsArray()) {
    defs[metric.name] = {
      histogram: metric instanceof Histogram || metric instanceof Summary,
      labels: [],
      where: 'prom-client collectDefaultMetrics',
    };
  }
  return defs;
}

function registeredMetrics(): Record<string, MetricDef> {
  let defaultsCollected = false;
  let defs: Record<string, MetricDef> = {};
  for (const file of projectSources()) {
    const text = readFileSync(file, 'utf8');
    if (/\bcollectDefaultMetrics\s*\(/.test(text)) defaultsCollected = true;
    defs = { ...defs, ...metricsDefinedIn(text, relative(ROOT, file)) };
  }
  // Default metrics carry labels of their own (e.g. `kind`, `space`): they are not checked.
  const defaults = defaultsCollected ? defaultMetrics() : {};
  return { ...PROMETHEUS_SERIES, ...defaults, ...defs };
}

// ---------------------------------------------------------------------------------------------------------------
// What a rule reads

/** A PromQL expression without string literals, durations and the label lists of `by (…)`, `on (…)` and kin. */
function skeleton(expr: string): string {
  return expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1 ()')
    .replace(/\[[^\]]*\]/g, '[]');
}

interface Selector {
  name: string;
  /** Label names the selector matches on, `{label="…"}`. */
  labels: string[];
}

/**
 * The series selectors of an expression: identifiers followed by `{` or `[` or used bare, that are neither
 * functions (followed by `(`), aggregations nor keywords; with the label names of their matchers.
 */
function selectorsOf(expr: string): Selector[] {
  const text = skeleton(expr);
  const selectors: Selector[] = [];
  // A matcher block is skipped as a whole (it is read with the selector before it); what is left are identifiers.
  const token = /\{[^}]*\}|(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)/g;
  for (const m of text.matchAll(token)) {
    const name = m[1];
    if (!name) continue;
    const rest = text.slice((m.index ?? 0) + name.length);
    if (/^\s*\(/.test(rest)) continue; // a function call, or an aggregation written `sum(…)`
    if (NOT_METRICS.has(name.toLowerCase())) continue;
    const matchers = /^\s*\{([^}]*)\}/.exec(rest)?.[1] ?? '';
    const labels = [...matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]);
    selectors.push({ name, labels });
  }
  return selectors;
}

/** The metric a series name belongs to: a histogram's `_bucket`, `_count` and `_sum` series are its own. */
function metricOf(
  series: string,
  known: Record<string, MetricDef>,
): { name: string; def: MetricDef; bucket: boolean } | undefined {
  if (known[series]) return { name: series, def: known[series], bucket: false };
  const m = /^(.*)_(bucket|count|sum)$/.exec(series);
  const base = m && known[m[1]];
  if (m && base?.histogram) return { name: m[1], def: base, bucket: m[2] === 'bucket' };
  return undefined;
}

/** What is wrong with the metrics and labels an expression reads, in words; empty when nothing is. */
function exprProblems(expr: string, known: Record<string, MetricDef>): string[] {
  const problems: string[] = [];
  for (const s of selectorsOf(expr)) {
    const metric = metricOf(s.name, known);
    if (!metric) {
      problems.push(`${s.name} is not registered by any code`);
      continue;
    }
    if (metric.def.where === 'prom-client collectDefaultMetrics') continue;
    const allowed = new Set([...metric.def.labels, ...TARGET_LABELS, ...(metric.bucket ? ['le'] : [])]);
    for (const label of s.labels)
      if (!allowed.has(label))
        problems.push(`${s.name} has no label ${label} (it has: ${[...allowed].join(', ')})`);
  }
  return problems;
}

/** What is wrong with a rule's shape, in words; empty when nothing is. */
function ruleProblems(rule: Rule): string[] {
  const problems: string[] = [];
  const name = typeof rule.alert === 'string' && rule.alert !== '' ? rule.alert : undefined;
  if (!name) problems.push('a rule has no alert name');
  const who = name ?? JSON.stringify(rule).slice(0, 80);
  if (typeof rule.expr !== 'string' || rule.expr.trim() === '') problems.push(`${who}: no expr`);
  if (typeof rule.for !== 'string' || !/^(\d+(ms|s|m|h|d|w|y))+$/.test(rule.for))
    problems.push(`${who}: no for duration`);
  const severity = rule.labels?.severity;
  if (severity !== 'page' && severity !== 'ticket')
    problems.push(`${who}: severity is ${String(severity)}, not page or ticket`);
  if (typeof rule.annotations?.summary !== 'string' || rule.annotations.summary.trim() === '')
    problems.push(`${who}: no summary`);
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------

function loadRules(): Rule[] {
  const file = parse(readFileSync(RULES_FILE, 'utf8')) as RuleFile;
  return file.groups.flatMap((g) => g.rules);
}

describe('deploy/prometheus/alerts.yml', () => {
  const rules = loadRules();
  const known = registeredMetrics();

  it('has alerting rules', () => {
    expect(rules.length).toBeGreaterThan(0);
  });

  it('gives every rule an alert name, an expression, a for duration, a page or ticket severity and a summary', () => {
    expect(rules.flatMap(ruleProblems)).toEqual([]);
  });

  it('names each alert once', () => {
    const names = rules.map((r) => r.alert);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it('reads only metrics the code registers, with labels they have', () => {
    const problems = rules.flatMap((r) =>
      exprProblems(String(r.expr), known).map((p) => `${String(r.alert)}: ${p}`),
    );
    expect(problems).toEqual([]);
  });

  it('is explained alert by alert in docs/operations.md, which names no alert the file lacks', () => {
    const guide = readFileSync(GUIDE_FILE, 'utf8');
    const names = rules.map((r) => String(r.alert));
    expect(names.filter((n) => !new RegExp(`\\b${n}\\b`).test(guide))).toEqual([]);
    // Each alert has a `### Name` section under "## Alerts"; a section for an alert the file does not have is stale.
    const alertsPart = guide.split(/^## Alerts\s*$/m)[1]?.split(/^## /m)[0] ?? '';
    const documented = [...alertsPart.matchAll(/^### `?([A-Za-z0-9]+)`?\s*$/gm)].map((m) => m[1]);
    expect(documented.length).toBeGreaterThan(0);
    expect(documented.filter((d) => !names.includes(d))).toEqual([]);
  });
});

describe('the alert rules check', () => {
  const known: Record<string, MetricDef> = {
    messages_consumed_total: { histogram: false, labels: ['topic', 'group', 'outcome'], where: 'x.ts' },
    http_request_duration_seconds: { histogram: true, labels: ['method', 'route', 'status'], where: 'x.ts' },
    dead_letters_pending: { histogram: false, labels: ['group'], where: 'x.ts' },
  };

  it('reports a metric that no code registers', () => {
    expect(exprProblems('sum by (job) (rate(omnipay_bogus_total[5m])) > 0', known)).toEqual([
      'omnipay_bogus_total is not registered by any code',
    ]);
  });

  it('reports a label the metric does not have', () => {
    expect(exprProblems('increase(messages_consumed_total{outcom="dead_lettered"}[5m]) > 0', known)).toEqual([
      expect.stringContaining('messages_consumed_total has no label outcom'),
    ]);
  });

  it("takes a histogram's _bucket, _count and _sum series for the histogram, and le only on _bucket", () => {
    const expr = `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{le!="+Inf"}[5m])))
      / sum(rate(http_request_duration_seconds_sum[5m])) / sum(rate(http_request_duration_seconds_count{le="1"}[5m]))`;
    expect(exprProblems(expr, known)).toEqual([
      expect.stringContaining('http_request_duration_seconds_count has no label le'),
    ]);
  });

  it('does not take functions, aggregations, keywords, grouping labels, durations or strings for metrics', () => {
    const expr = `(sum by (job, group) (increase(messages_consumed_total{outcome="dead_lettered"}[15m])) > 0)
      or (sum without (instance) (messages_consumed_total unless on (group) messages_consumed_total offset 15m) > 0)
      and ignoring (topic) group_left (x) max(dead_letters_pending) > bool 0`;
    expect(selectorsOf(expr).map((s) => s.name)).toEqual([
      'messages_consumed_total',
      'messages_consumed_total',
      'messages_consumed_total',
      'dead_letters_pending',
    ]);
    expect(exprProblems(expr, known)).toEqual([]);
  });

  it('reports a rule without a severity, or with one other than page or ticket', () => {
    const rule: Rule = { alert: 'X', expr: 'up == 0', for: '5m', annotations: { summary: 's' } };
    expect(ruleProblems(rule)).toEqual(['X: severity is undefined, not page or ticket']);
    expect(ruleProblems({ ...rule, labels: { severity: 'critical' } })).toEqual([
      'X: severity is critical, not page or ticket',
    ]);
    expect(ruleProblems({ ...rule, labels: { severity: 'page' } })).toEqual([]);
  });

  it('reports a rule without an alert name, an expression, a for duration or a summary', () => {
    expect(ruleProblems({ labels: { severity: 'ticket' } })).toEqual([
      'a rule has no alert name',
      expect.stringContaining(': no expr'),
      expect.stringContaining(': no for duration'),
      expect.stringContaining(': no summary'),
    ]);
  });

  it('reads metric names and label names from the constructors in the code', () => {
    const text = `const a = new Counter({
  name: 'a_total',
  help: 'A',
  labelNames: ['x', 'y'] as const,
  registers: [metricsRegistry],
});
new Gauge({
  name: 'b',
  help: 'B',
  async collect() {
    this.set(1);
  },
});
const c = new Histogram({ name: 'c_seconds', help: 'C', buckets: [1] });
`;
    expect(metricsDefinedIn(text, 'x.ts')).toEqual({
      a_total: { histogram: false, labels: ['x', 'y'], where: 'x.ts' },
      b: { histogram: false, labels: [], where: 'x.ts' },
      c_seconds: { histogram: true, labels: [], where: 'x.ts' },
    });
  });
});
