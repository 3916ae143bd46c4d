import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { eventually } from './eventually';

export const redisCli = (port: number, ...args: string[]): Promise<string> =>
  new Promise((resolve) =>
    execFile('redis-cli', ['-p', String(port), ...args], (_error, stdout, stderr) => resolve(`${stdout}${stderr}`.trim())),
  );

/**
 * A throw-away redis-server on its own port that a test can stop, kill and start again;
 * with `appendonly` it persists to its own directory as production Redis does (AOF).
 */
export class PrivateRedis {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private readonly dir = mkdtempSync(join(tmpdir(), 'rotor-private-redis-'));

  constructor(
    readonly port: number,
    private readonly options: { appendonly?: boolean } = {},
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', this.options.appendonly ? 'yes' : 'no', '--dir', this.dir],
      {
        stdio: 'ignore',
      },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await eventually(async () => ((await redisCli(this.port, 'ping')) === 'PONG' ? true : undefined), {
      timeoutMs: 10_000,
      what: `redis-server on ${this.port}`,
    });
  }

  /** SHUTDOWN NOSAVE, the way an operator stops it; resolves once the server process is gone. */
  async shutdown(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    await redisCli(this.port, 'shutdown', 'nosave');
    await this.exited;
  }

  /** Last resort for afterAll: the server we started, by its own process. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

