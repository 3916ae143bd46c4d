import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { principalEnv, serviceScheme } from './principals';

const ROOT = join(__dirname, '..', '..');

export type ServiceName = 'issuer' | 'revoker' | 'distributor' | 'auditor';

/**
 * Compiles the services when a source changed since the last build (scripts/lib.sh ensure_build),
 * once per process: benches and the chaos run start services without Jest's global setup, which
 * does it once for a whole test run (and says so in ROTOR_BUILD_CHECKED).
 */
export function ensureServicesBuilt(): void {
  if (process.env['ROTOR_BUILD_CHECKED'] === '1') return;
  execFileSync('bash', ['-c', '. scripts/lib.sh && ensure_build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  process.env['ROTOR_BUILD_CHECKED'] = '1';
}

/**
 * One rotor service as a real child process, compiled as it ships (the entry point `npm start`
 * runs: dist/apps/<app>/main.js; the test run's global setup builds it when a source changed), with
 * everything it writes to stdout and stderr kept for assertions and written to a log file.
 */
export class ServiceProcess {
  private child?: ChildProcess;
  private output = '';
  private exited?: Promise<number | null>;
  private closed?: Promise<number | null>;

  constructor(
    readonly name: ServiceName,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `${serviceScheme()}://127.0.0.1:${this.port}`;
  }

  /** The running process's id (benches sample its CPU and memory). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** All the service wrote so far. */
  get logs(): string {
    return this.output;
  }

  start(): this {
    ensureServicesBuilt();
    const logDir = join(ROOT, '.rotor', 'logs', 'test');
    mkdirSync(logDir, { recursive: true });
    const file = join(logDir, `${this.name}-${this.port}.log`);
    // Appended, not truncated: a restarted service keeps its earlier run's log for diagnosis.
    appendFileSync(file, `\n===== start ${new Date().toISOString()} =====\n`);
    this.output = '';
    this.child = spawn(process.execPath, [join(ROOT, 'dist', 'apps', this.name, 'main.js')], {
      cwd: ROOT,
      // Its own principals over the admin ones of .rotor/env; what the test passes wins.
      env: {
        ...process.env,
        ...principalEnv(this.name),
        ...this.env,
        PORT: String(this.port),
        HOST: '127.0.0.1',
        LOG_LEVEL: this.env['LOG_LEVEL'] ?? 'debug',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString();
      appendFileSync(file, chunk); // synchronous: the file is complete even if the test process is killed
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    const child = this.child;
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    this.closed = new Promise((resolve) => child.on('close', (code) => resolve(code)));
    return this;
  }

  /** Waits for the process to end on its own (a boot failure) and for all its output; its exit code, null if a signal ended it. */
  async exitCode(timeoutMs = 30_000): Promise<number | null> {
    if (!this.closed) throw new Error(`${this.name} was never started`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name} still running after ${timeoutMs} ms:\n${this.output.slice(-4000)}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for /readyz to answer 200 (every dependency reachable, consumers running). */
  async ready(timeoutMs = 60_000): Promise<this> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined) {
        throw new Error(`${this.name} exited with ${this.child.exitCode}:\n${this.output.slice(-4000)}`);
      }
      try {
        const response = await fetch(`${this.url}/readyz`);
        if (response.ok) return this;
        last = await response.text();
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`${this.name} not ready after ${timeoutMs} ms (last: ${last})\n${this.output.slice(-4000)}`);
  }

  /** Waits for /healthz only: for a service expected to run while a dependency is down. */
  async live(timeoutMs = 60_000): Promise<this> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined)
        throw new Error(`${this.name} exited with ${this.child.exitCode}:\n${this.output.slice(-4000)}`);
      const ok = await fetch(`${this.url}/healthz`).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) return this;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`${this.name} not live after ${timeoutMs} ms\n${this.output.slice(-4000)}`);
  }

  /** SIGTERM and wait: the graceful path. */
  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const timeout = setTimeout(() => this.child?.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timeout);
  }

  /** SIGKILL: the crash path. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
