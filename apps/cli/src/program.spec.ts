import { execFileSync } from 'node:child_process';

import type { Command } from 'commander';

import { commandTree, completionScript } from './completion';
import { ApiError, ExitCode, exitCodeFor, UnavailableError, UsageError } from './exit-codes';
import { runInProcess } from './run-in-process.testing';
import { buildProgram } from './program';

const run = runInProcess;

const leafCommands = (program: Command) =>
  commandTree(program)
    .filter((node) => node.path.length > 0 && node.subcommands.length === 0)
    .map((node) => node.path);

describe('rotor command line', () => {
  it('gives every command its own help, with a usage line naming it, and examples where it has them', async () => {
    const leaves = leafCommands(buildProgram());
    expect(leaves.length).toBeGreaterThanOrEqual(25);
    for (const path of leaves) {
      const help = await run(...path, '--help');
      expect({ path, code: help.code }).toEqual({ path, code: 0 });
      expect(help.stdout).toContain(`Usage: rotor ${path.join(' ')}`);
      expect(help.stdout).toContain('Global Options:');
    }
    expect((await run('emergency', 'rotate', '--help')).stdout).toContain(
      'Examples:\n  $ rotor emergency rotate --selector namespace=payments',
    );
  });

  it('rejects an unknown flag or command with a suggestion, exit 2', async () => {
    const flag = await run('leases', 'list', '--namepsace', 'payments');
    expect(flag).toMatchObject({ code: ExitCode.usage });
    expect(flag.stderr).toContain("unknown option '--namepsace'\n(Did you mean --namespace?)");
    const command = await run('leases', 'lst');
    expect(command).toMatchObject({ code: ExitCode.usage });
    expect(command.stderr).toContain('(Did you mean list?)');
    // A flag another command takes is not silently accepted here.
    expect((await run('leases', 'show', 'x', '--mode', 'immediate')).code).toBe(ExitCode.usage);
  });

  it('checks values before anything is sent: choices, required flags, numbers', async () => {
    const cases = [
      ['emergency', 'rotate', '--selector', 'all', '--mode', 'later', '--reason', 'r'],
      ['emergency', 'rotate', '--selector', 'all', '--reason', 'r'],
      ['leases', 'list', '--limit', '5000'],
      ['leases', 'list', '--state', 'gone'],
      ['--output', 'xml', 'version'],
      ['--timeout', '0', 'version'],
      ['inventory', 'workload', 'just-a-namespace'],
      ['emergency', 'rotate', '--selector', 'colour=blue', '--mode', 'immediate', '--reason', 'r', '--dev'],
    ];
    for (const argv of cases) expect({ argv, code: (await run(...argv)).code }).toEqual({ argv, code: ExitCode.usage });
  });

  it('prints its version as text, JSON or YAML', async () => {
    expect((await run('version')).stdout).toMatch(/^rotor \d+\.\d+\.\d+ \(source, node 24\.\d+\.\d+\)\n$/);
    expect(JSON.parse((await run('version', '--output', 'json')).stdout)).toMatchObject({ commit: 'source' });
    expect((await run('--output', 'yaml', 'version')).stdout).toMatch(/^version: \d+\.\d+\.\d+\ncommit: source\nnode: /);
    expect((await run('--version')).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('completes every command and the choices of a flag, in bash, zsh and fish', async () => {
    const program = buildProgram();
    const bash = (await run('completion', 'bash')).stdout;
    expect(bash).toBe(completionScript(program, 'bash'));
    for (const node of commandTree(program)) expect(bash).toContain(`"${node.path.join(' ')}")`);
    // bash itself parses it and completes: `rotor leases li` → list, `rotor leases list --state ` → the states.
    const complete = (line: string) =>
      execFileSync(
        'bash',
        ['-c', `${bash}\nCOMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _rotor; echo "\${COMPREPLY[*]}"`],
        {
          encoding: 'utf8',
        },
      ).trim();
    expect(complete('rotor leases li')).toBe('list');
    expect(complete("rotor leases list --state ''")).toBe('active expired revoked irrevocable');
    expect(complete('rotor emergency rotate --sel')).toBe('--selector');
    expect((await run('completion', 'zsh')).stdout).toContain('bashcompinit');
    expect((await run('completion', 'fish')).stdout).toContain(
      "complete -c rotor -n '__fish_seen_subcommand_from leases; and __fish_seen_subcommand_from list' -l state -xa 'active expired revoked irrevocable'",
    );
    expect((await run('completion', 'tcsh')).code).toBe(ExitCode.usage);
  });

  it('says not signed in (exit 3) when no token can be had', async () => {
    const saved = { ...process.env };
    process.env['ROTOR_CONFIG_DIR'] = '/nonexistent/rotor-config';
    delete process.env['ROTOR_TOKEN'];
    try {
      const result = await run('leases', 'list');
      expect(result.code).toBe(ExitCode.auth);
      expect(result.stderr).toContain('not signed in: run rotor login');
    } finally {
      process.env = saved;
    }
  });
});

describe('exit codes', () => {
  it('maps each failure class to its code', () => {
    expect(exitCodeFor(new UsageError('x'))).toBe(2);
    expect(exitCodeFor(new ApiError(400, {}))).toBe(2);
    expect(exitCodeFor(new ApiError(422, {}))).toBe(2);
    expect(exitCodeFor(new ApiError(401, {}))).toBe(3);
    expect(exitCodeFor(new ApiError(403, {}))).toBe(3);
    expect(exitCodeFor(new ApiError(404, {}))).toBe(6);
    expect(exitCodeFor(new ApiError(409, {}))).toBe(6);
    expect(exitCodeFor(new ApiError(429, {}))).toBe(4);
    expect(exitCodeFor(new ApiError(503, {}))).toBe(4);
    expect(exitCodeFor(new UnavailableError('cannot reach', true))).toBe(4);
    expect(exitCodeFor(Object.assign(new Error('x'), { name: 'KafkaJSNumberOfRetriesExceeded' }))).toBe(70);
    expect(exitCodeFor(Object.assign(new Error('x'), { name: 'KafkaJSNumberOfRetriesExceededError' }))).toBe(4);
    expect(exitCodeFor(new TypeError('undefined is not a function'))).toBe(70);
  });
});
