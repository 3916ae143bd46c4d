import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { account, type Accounts } from '../../tools/oidc-provider/accounts';

const ROOT = join(__dirname, '..', '..');

/**
 * The local OpenID Provider (tools/oidc-provider: the certified `oidc-provider` package) as a
 * child process, with the people a test names. HTTPS with the stack's certificate on a secure
 * stack (ROTOR_TLS_CERT_FILE), as operators' clients reach a real provider.
 */
export class LocalOpenIdProviderProcess {
  private child?: ChildProcess;
  issuer = '';
  output = '';

  constructor(private readonly people: { username: string; password: string; groups: string[] }[]) {}

  async start(): Promise<this> {
    const state = mkdtempSync(join(tmpdir(), 'rotor-oidc-'));
    const accounts: Accounts = Object.fromEntries(this.people.map(({ username, password, groups }) => account(username, password, groups)));
    writeFileSync(join(state, 'accounts.json'), JSON.stringify(accounts), { mode: 0o600 });
    this.child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'tools', 'oidc-provider', 'main.ts'), '--port', '0', '--state-dir', state],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.issuer = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      this.child!.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        this.output += chunk.toString();
        const line = stdout.split('\n')[0];
        if (stdout.includes('\n') && line) resolve(line.trim());
      });
      this.child!.once('exit', (code) => reject(new Error(`the OpenID Provider exited (${code}): ${this.output}`)));
    });
    return this;
  }

  /** Sign-in attempts it logged, by user: `accepted` or `refused`. */
  signIns(): string[] {
    return [...this.output.matchAll(/sign-in (accepted|refused) for "([^"]*)"/g)].map((match) => `${match[2]} ${match[1]}`);
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child!.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}
