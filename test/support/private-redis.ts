import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { eventually } from './eventually';
import { insecureStack } from './principals';
import { ensurePortFree } from './temp-files';

const STATE = join(__dirname, '..', '..', '.rotor');
const TLS = join(STATE, 'tls');
/** The stack's ACL file (docs/access-policy.md's users): a private Redis has the same users as the shared one. */
const ACL_FILE = join(STATE, 'redis', 'users.acl');

const secure = () => !insecureStack() && existsSync(ACL_FILE);

/** redis-cli against a local Redis, as admin over TLS on the secure stack. */
export const redisCli = (port: number, ...args: string[]): Promise<string> =>
  new Promise((resolve) => {
    const tls = secure() ? ['--tls', '--cacert', join(TLS, 'ca.crt'), '--user', 'admin'] : [];
    const env = secure()
      ? { ...process.env, REDISCLI_AUTH: readFileSync(join(STATE, 'secrets', 'redis-admin.password'), 'utf8').trim() }
      : process.env;
    execFile('redis-cli', [...tls, '-p', String(port), ...args], { env }, (_error, stdout, stderr) => resolve(`${stdout}${stderr}`.trim()));
  });

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
    return `${secure() ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    // A server left on the port (an interrupted run) would answer the ping below with its old data.
    await ensurePortFree(this.port);
    const child = spawn(
      'redis-server',
      [
        ...(secure()
          ? [
              '--port',
              '0',
              '--tls-port',
              String(this.port),
              '--tls-cert-file',
              join(TLS, 'server.crt'),
              '--tls-key-file',
              join(TLS, 'server.key'),
              '--tls-ca-cert-file',
              join(TLS, 'ca.crt'),
              '--tls-auth-clients',
              'optional',
              '--aclfile',
              ACL_FILE,
            ]
          : ['--port', String(this.port)]),
        ...['--bind', '127.0.0.1', '--save', '', '--appendonly', this.options.appendonly ? 'yes' : 'no', '--dir', this.dir],
      ],
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
    if (child.exitCode !== null) throw new Error(`redis-server on ${this.port} exited (${child.exitCode}): another server answers there`);
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
