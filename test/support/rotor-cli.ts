import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { principalEnv } from './principals';

const ROOT = join(__dirname, '..', '..');

export interface CliRun {
  /** Resolves with the first match of `pattern` in what the CLI wrote to stderr so far or later. */
  stderrMatch(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/**
 * The operators' CLI as a child process, as a person or a pipeline runs it (`stdin` piped in),
 * its stderr readable while it runs.
 */
export function startRotorCli(args: string[], env: Record<string, string>, stdin?: string): CliRun {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps', 'cli', 'src', 'main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...principalEnv('cli'), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // Nothing to read unless `stdin` is given: the CLI sees end-of-input at once.
  child.stdin.end(stdin ?? '');
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const check of waiters) check();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      for (const check of waiters) check();
      resolve({ code, stdout, stderr });
    });
  });
  return {
    done,
    stderrMatch: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the CLI wrote no ${pattern} in ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        const check = () => {
          const match = pattern.exec(stderr);
          if (!match && child.exitCode === null) return;
          clearTimeout(timer);
          waiters.delete(check);
          if (match) resolve(match);
          else reject(new Error(`the CLI ended without writing ${pattern}; stderr: ${stderr}`));
        };
        waiters.add(check);
        check();
      }),
  };
}

/** The CLI run to its end. */
export const runRotorCli = (args: string[], env: Record<string, string>, stdin?: string) => startRotorCli(args, env, stdin).done;
