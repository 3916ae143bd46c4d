/**
 * The installable CLI (tools/cli-build): built into a temporary directory, then the bundle alone
 * is copied where there is no rotor checkout and no node_modules in any parent directory, and run
 * with plain `node` as someone who installed it would. npm packs the package the build writes.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('the bundled CLI, outside the monorepo', () => {
  let out: string;
  let alone: string;
  let bundle: string;

  /** Plain node, no inherited rotor settings: only what a fresh shell of an operator would have. */
  const run = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bundle, ...args], {
        cwd: alone,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: alone, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'rotor-cli-build-'));
    execFileSync(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'tools', 'cli-build', 'build.ts'), '--out', out], {
      cwd: ROOT,
      // The commit from git, as on a developer's machine (an image build passes ROTOR_BUILD_COMMIT).
      env: { ...process.env, ROTOR_BUILD_COMMIT: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    alone = mkdtempSync(join(tmpdir(), 'rotor-cli-alone-'));
    bundle = join(alone, 'rotor.js');
    copyFileSync(join(out, 'rotor.js'), bundle);
  }, 60_000);

  afterAll(() => {
    for (const dir of [out, alone]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is copied where nothing can lend it a module: no node_modules above it, no checkout', () => {
    for (let dir = alone; ; dir = dirname(dir)) {
      expect(existsSync(join(dir, 'node_modules'))).toBe(false);
      expect(existsSync(join(dir, 'package.json'))).toBe(false);
      if (dirname(dir) === dir) break;
    }
    expect(statSync(join(out, 'rotor.js')).mode & 0o111).toBe(0o111);
    expect(readFileSync(bundle, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('prints its help and lists the commands', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: rotor /);
    for (const command of ['login', 'leases', 'emergency', 'break-glass', 'audit', 'inventory', 'report', 'scan']) {
      expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  it('names the version of package.json and the commit it was built from', async () => {
    const { code, stdout } = await run(['version', '--output', 'json']);
    expect(code).toBe(0);
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    expect(JSON.parse(stdout)).toEqual({ version, commit: head, node: process.versions.node });
  });

  it('refuses an unknown flag with exit 2 and a suggestion', async () => {
    const { code, stderr } = await run(['leases', 'list', '--jsonn']);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown option '--jsonn'");
    expect(stderr).toContain('Did you mean --json?');
  });

  it('says it cannot reach the auditor, with exit 4, when nothing listens', async () => {
    const port = await closedPort();
    const { code, stderr } = await run(['leases', 'list', '--retries', '1'], {
      ROTOR_TOKEN: 'x',
      ROTOR_AUDITOR_URL: `https://127.0.0.1:${port}`,
    });
    expect(stderr).toContain(`cannot reach https://127.0.0.1:${port}`);
    expect(code).toBe(4);
  });

  it('writes a bash completion script and the help of audit replay (Kafka, PostgreSQL and GSM inside)', async () => {
    const completion = await run(['completion', 'bash']);
    expect(completion.code).toBe(0);
    expect(completion.stdout).toContain('complete ');
    expect(completion.stdout).toContain('rotor');
    const replay = await run(['audit', 'replay', '--help']);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/^Usage: rotor audit replay /);
    expect(replay.stdout).toContain('--rebuild');
  });

  it('is an npm package whose bin is the bundle and that depends on nothing', () => {
    const manifest = JSON.parse(readFileSync(join(out, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ name: '@rotor/cli', bin: { rotor: 'rotor.js' }, engines: { node: '>=24' } });
    expect(manifest).not.toHaveProperty('dependencies');
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--offline', out], {
        cwd: alone,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ) as Array<{ name: string; files: Array<{ path: string }> }>;
    expect(packed[0]?.name).toBe('@rotor/cli');
    expect(packed[0]?.files.map((file) => file.path).sort()).toEqual(['README.md', 'package.json', 'rotor.js']);
  });
});

/** A local port nothing listens on (taken, then released). */
const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
