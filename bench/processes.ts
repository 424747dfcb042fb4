// Process helpers shared by the benchmarks that start services themselves (webhooks, payments): the engines'
// settings, a service as a child process with its log in a file, and CPU of the engines from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { serviceEntryArgs } from './lib';

const ROOT = path.resolve(__dirname, '..');
const CLK_TCK = 100; // USER_HZ on Linux

/** Reads `.cache/infra/env` (written by tools/infra/infra.sh) into process.env, without overriding what is set. */
export function loadInfraEnv(required: string[] = ['DATABASE_URL', 'REDIS_URL', 'KAFKA_BROKERS']): void {
  const file = path.join(ROOT, '.cache/infra/env');
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m && !process.env[m[1]]) process.env[m[1]] = m[2];
    }
  }
  for (const v of required) {
    if (!process.env[v]) throw new Error(`${v} is not set (start the infra: npm run infra:up)`);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface BenchProcess {
  name: string;
  child: ChildProcess;
  port: number;
  url: string;
  logFile: string;
}

export interface StartOptions {
  /** Run id: the log goes to `/tmp/<run>.<name>.log`. */
  run: string;
  name: string;
  /** e.g. `services/webhooks/src/main.ts` (built and run plain, see `serviceEntryArgs`). */
  entry: string;
  env: Record<string, string>;
  /** e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the process under load. */
  nodeArgs?: string[];
  /** How readiness shows: `/health/ready` answering, or a line containing "ready" on stdout. */
  ready?: 'http' | 'stdout';
}

/**
 * Starts an entry as a child process; logs go to a file, as they would to a container's log driver, so the
 * load generator never parses them. Resolves once the process is ready.
 */
export async function startProcess(o: StartOptions): Promise<BenchProcess> {
  const ready = o.ready ?? 'http';
  const port = await freePort();
  const logFile = `/tmp/${o.run}.${o.name}.log`;
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), ...serviceEntryArgs(o.entry)], {
    cwd: ROOT,
    env: { ...process.env, ...o.env, PORT: String(port) },
    stdio: ['ignore', ready === 'stdout' ? 'pipe' : fd, fd],
  });
  closeSync(fd);
  let saidReady = false;
  child.stdout?.on('data', (c: Buffer) => {
    if (c.toString().includes('ready')) saidReady = true;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${o.name} exited: see ${logFile}`);
    if (ready === 'stdout' && saidReady) break;
    if (ready === 'http') {
      try {
        if ((await fetch(`${url}/health/ready`)).ok) break;
      } catch {
        /* not yet */
      }
    }
    if (Date.now() > deadline) throw new Error(`${o.name} not ready: see ${logFile}`);
    await sleep(200);
  }
  return { name: o.name, child, port, url, logFile };
}

/** SIGTERM, then SIGKILL after 15 s. */
export async function stopProcess(p: Pick<BenchProcess, 'child'>): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

/** utime and stime (kernel: syscalls, loopback TCP) of a process, in seconds, from /proc/<pid>/stat. */
export function cpuSplit(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLK_TCK, system: Number(fields[12]) / CLK_TCK };
}

/** CPU seconds per pid of every process whose command name matches (PostgreSQL backends, the Kafka JVM). */
export function cpuOfCommand(match: (comm: string, cmdline: string) => boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const cmdline = comm === 'java' ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
      if (match(comm, cmdline)) {
        const { user, system } = cpuSplit(Number(pid));
        out.set(pid, user + system);
      }
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** CPU used between two snapshots by processes alive at the end (backends that exited meanwhile are not counted). */
export function cpuDelta(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0;
  for (const [pid, cpu] of after) total += cpu - (before.get(pid) ?? 0);
  return total;
}

export const postgresCpu = () => cpuOfCommand((c) => c === 'postgres');
export const kafkaCpu = () => cpuOfCommand((c, cmd) => c === 'java' && /kafka/i.test(cmd));
