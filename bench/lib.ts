// Small helpers shared by the benchmarks: percentiles, process CPU/RSS from /proc, table printing.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function summarize(samplesMs: number[]): { p50: number; p99: number; max: number; n: number } {
  const s = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN, n: s.length };
}

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) consumed so far by a process, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Peak resident set size in MB, from /proc/<pid>/status (VmHWM). */
export function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export function printTable(title: string, rows: Record<string, string | number>[]): void {
  const cols = Object.keys(rows[0] ?? {});
  const fmt = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(`\n${title}\n${line(cols)}\n${line(widths.map((w) => '-'.repeat(w)))}`);
  for (const r of rows) console.log(line(cols.map((c) => fmt(r[c]))));
}

export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/**
 * Benchmarks measure the services as deployed: compiled by tools/scripts/build.js and run with plain node
 * (SERVICE_RUNTIME=dist for ServiceProcess), not compiled at load time with source-map support installed.
 * `--ts` keeps the development runtime. Also drops source-map support in this process (the load generator and
 * the in-process emulator), where it would turn every `new Error().stack` into a source-map lookup: the Stripe
 * SDK takes one per request. Returns a line describing the runtime, for the output.
 */
export function useDeployedRuntime(services: string[]): string {
  (Error as { prepareStackTrace?: unknown }).prepareStackTrace = undefined;
  if (process.argv.includes('--ts')) return 'services run through @swc-node/register (--ts: development runtime)';
  const started = Date.now();
  for (const s of services) {
    execFileSync(process.execPath, [join(__dirname, '..', 'tools/scripts/build.js'), `services/${s}`], { stdio: 'ignore' });
  }
  process.env.SERVICE_RUNTIME = 'dist';
  return `services built with tools/scripts/build.js in ${((Date.now() - started) / 1000).toFixed(1)} s and run with plain node, as deployed (--ts for the development runtime)`;
}

const built = new Set<string>();

/**
 * Node arguments that start a service entry (e.g. `services/webhooks/src/main.ts`) the way benchmarks run
 * services: built and plain (see `useDeployedRuntime`), or through SWC at load time with `--ts`.
 */
export function serviceEntryArgs(entry: string): string[] {
  const root = join(__dirname, '..');
  // Only services have a build; other entries (a baseline server) run through SWC.
  if (process.argv.includes('--ts') || !entry.startsWith('services/')) return ['-r', '@swc-node/register', join(root, entry)];
  const project = entry.split('/').slice(0, 2).join('/');
  if (!built.has(project)) {
    execFileSync(process.execPath, [join(root, 'tools/scripts/build.js'), project], { stdio: 'ignore' });
    built.add(project);
  }
  return [join(root, 'dist', project, entry.replace(/\.ts$/, '.js'))];
}
