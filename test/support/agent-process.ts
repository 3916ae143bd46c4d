import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** The rotor agent as a real child process (apps/agent/src/main.ts), its output kept for assertions. */
export class AgentProcess {
  private child?: ChildProcess;
  private output = '';
  private closed?: Promise<number | null>;

  constructor(
    private readonly args: string[],
    private readonly env: Record<string, string> = {},
  ) {}

  /** Everything it wrote to stdout and stderr. */
  get logs(): string {
    return this.output;
  }

  /** Its JSON log lines. */
  get records(): Record<string, unknown>[] {
    return this.output.split('\n').flatMap((line) => {
      try {
        return line.startsWith('{') ? [JSON.parse(line) as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  }

  start(): this {
    this.child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps', 'agent', 'src', 'main.ts'), ...this.args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'debug', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (this.output += chunk.toString());
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    const child = this.child;
    this.closed = new Promise((resolve) => child.on('close', (code) => resolve(code)));
    return this;
  }

  /** Waits for it to end and for all its output; its exit code. */
  async exitCode(timeoutMs = 60_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`agent still running after ${timeoutMs} ms:\n${this.output.slice(-3000)}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed!, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** For afterAll: ends it if a test left it running. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.closed;
  }
}
