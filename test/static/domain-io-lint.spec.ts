/**
 * Domain and contracts libs do no I/O, and the lint rule says so: eslint (as `npm run lint`
 * runs it, on a freshly built Nx graph) refuses Node's I/O modules and the I/O clients in a lib
 * tagged type:domain, and lets an infra lib use them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const repoRoot = join(__dirname, '..', '..');
const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);

interface LintMessage {
  ruleId: string | null;
  message: string;
}

/** Lints `code` as if it were the file at `path` (which must exist: typed linting reads its project). */
function lintAs(path: string, code: string): LintMessage[] {
  const result = spawnSync(bin('eslint'), ['--stdin', '--stdin-filename', path, '--format', 'json'], {
    cwd: repoRoot,
    input: code,
    encoding: 'utf8',
    env: { ...process.env, NX_DAEMON: 'false' },
  });
  const [report] = JSON.parse(result.stdout) as { messages: LintMessage[] }[];
  return report!.messages;
}

const IO_IMPORTS = `import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { jwtVerify } from 'jose';
export const io = [readFileSync, request, jwtVerify];
`;

describe('domain libs do no I/O (lint)', () => {
  beforeAll(() => {
    // What `npm run lint` does first: without a graph the Nx boundary rule skips itself.
    execFileSync(bin('nx'), ['show', 'projects', '--json'], {
      cwd: repoRoot,
      env: { ...process.env, NX_DAEMON: 'false' },
      stdio: 'ignore',
    });
  }, 60_000);

  it('refuses node:fs, node:https and jose in a type:domain lib', () => {
    const messages = lintAs('libs/identity/src/caller.ts', IO_IMPORTS);
    expect(messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message)).toEqual([
      expect.stringContaining("'node:fs'"),
      expect.stringContaining("'node:https'"),
    ]);
    expect(messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message)).toEqual([
      'A project tagged with "type:domain" is not allowed to import "jose"',
    ]);
  }, 60_000);

  it('lets an infra lib import them', () => {
    const messages = lintAs('libs/token-verification/src/key-set.ts', IO_IMPORTS);
    expect(
      messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports' || m.ruleId === '@nx/enforce-module-boundaries'),
    ).toEqual([]);
  }, 60_000);
});
