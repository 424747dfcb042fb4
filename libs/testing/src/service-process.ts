import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

export interface ServiceProcessOptions {
  /** Entry file relative to the repository root, e.g. `services/payments/src/main.ts`. */
  entry: string;
  port: number;
  env: Record<string, string>;
  name?: string;
  /** Also append every line to this file (the demo stack keeps one log per service). */
  logFile?: string;
}

/**
 * A service as a real child process (the same command as `nx serve`), so a test can SIGKILL it mid-work and
 * start it again. Logs are kept (JSON lines) for assertions such as "no secret ever reached a log line".
 */
/**
 * How to run an entry: by default through SWC at load time, as `nx serve` does; with SERVICE_RUNTIME=dist, the
 * output of `tools/scripts/build.js` with plain node, as deployed (benchmarks measure that: the load-time
 * compiler also installs source-map support, which makes every `new Error().stack` — the Stripe SDK takes one
 * per request — several times dearer).
 */
function entryArgs(entry: string): string[] {
  if (process.env.SERVICE_RUNTIME !== 'dist') return ['-r', '@swc-node/register', path.join(ROOT, entry)];
  const project = entry.split('/').slice(0, 2).join('/');
  return [path.join(ROOT, 'dist', project, entry.replace(/\.ts$/, '.js'))];
}

/** Every child started by this test process, so none outlives it (jest's forceExit runs 'exit' handlers). */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export class ServiceProcess {
  readonly logs: string[] = [];
  private child?: ChildProcess;
  private exited?: Promise<number | null>;
  /** How the last child ended: a graceful SIGTERM shutdown re-raises the signal (Nest), a hung one is SIGKILLed. */
  lastExit?: { code: number | null; signal: NodeJS.Signals | null };

  constructor(readonly options: ServiceProcessOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(timeoutMs = 60000): Promise<this> {
    // SERVICE_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) profiles the services of a benchmark run;
    // Node refuses --cpu-prof in NODE_OPTIONS.
    const extra = (process.env.SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...extra, ...entryArgs(this.options.entry)], {
      cwd: ROOT,
      env: { ...process.env, ...this.options.env, PORT: String(this.options.port), LOG_LEVEL: this.options.env.LOG_LEVEL ?? 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    running.add(child);
    child.on('exit', () => running.delete(child));
    const file = this.options.logFile ? createWriteStream(this.options.logFile, { flags: 'a' }) : undefined;
    const collect = (chunk: Buffer) => {
      this.logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (this.logs.length > 20000) this.logs.splice(0, 10000);
      file?.write(chunk);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.lastExit = undefined;
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.lastExit = { code, signal };
        resolve(code);
      }),
    );
    try {
      await this.waitReady(timeoutMs);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    return this;
  }

  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exitCode: number | null | undefined;
    void this.exited?.then((c) => (exitCode = c));
    while (Date.now() < deadline) {
      if (exitCode !== undefined) throw new Error(`${this.describe()} exited with ${exitCode}:\n${this.tail()}`);
      try {
        const res = await fetch(`${this.url}/health/ready`);
        if (res.ok) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${this.describe()} not ready after ${timeoutMs} ms:\n${this.tail()}`);
  }

  /** SIGKILL: no shutdown hooks, no flush, exactly like a crashed container. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait for a clean exit. */
  async stop(): Promise<number | null | undefined> {
    if (!this.child || this.child.exitCode !== null) return this.child?.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 15000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  async post<T = unknown>(pathname: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}${pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async get<T = unknown>(pathname: string, headers: Record<string, string> = {}): Promise<{ status: number; body: T; text: string }> {
    const res = await fetch(`${this.url}${pathname}`, { headers });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON (metrics) */
    }
    return { status: res.status, body: body as T, text };
  }

  private describe(): string {
    return this.options.name ?? this.options.entry;
  }

  tail(lines = 30): string {
    return this.logs.slice(-lines).join('\n');
  }
}
