import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Target } from '@rotor/catalog';

import { FileTargetWriter } from './file.writer';
import { TargetRefusedError } from './target-writer';

type FileTarget = Extract<Target, { kind: 'file' }>;

const copy = {
  secret: 'payments-api-key',
  version: 1,
  gsmVersion: 'projects/p/secrets/payments-api-key/versions/1',
  contentHash: 'hash-1',
  value: Buffer.from('v1-value'),
};
const hashOf = (value: Buffer) => `h:${value.toString()}`;

describe('file target writer', () => {
  let root: string;
  let outside: string;
  let writer: FileTargetWriter;
  const target = (path: string): FileTarget => ({ kind: 'file', name: 'agent', path, repairDrift: false });

  beforeEach(() => {
    const base = mkdtempSync(join(tmpdir(), 'rotor-file-writer-'));
    root = join(base, 'root');
    outside = join(base, 'outside');
    mkdirSync(root);
    mkdirSync(outside);
    writer = new FileTargetWriter([root]);
  });

  it('writes, observes and removes a copy under a root, files 0400 in a 0700 directory', async () => {
    const path = join(root, 'payments', 'agent');
    await expect(writer.write(target(path), copy)).resolves.toEqual({ kind: 'written', locator: `file:${path}` });
    expect(readFileSync(join(path, 'value'), 'utf8')).toBe('v1-value');
    expect(statSync(path).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'payments')).mode & 0o777).toBe(0o700);
    await expect(writer.observe(target(path), hashOf)).resolves.toMatchObject({ kind: 'present', version: 1, actualHash: 'h:v1-value' });
    await expect(writer.remove(target(path), copy)).resolves.toMatchObject({ kind: 'removed' });
    await expect(writer.remove(target(join(root, 'never-written')), copy)).resolves.toMatchObject({ kind: 'absent' });
  });

  it('refuses at write time a path outside its roots, or with .., creating nothing', async () => {
    await expect(writer.write(target(join(outside, 'agent')), copy)).rejects.toThrow(TargetRefusedError);
    await expect(writer.write(target(join(outside, 'agent')), copy)).rejects.toThrow(/is outside the file target roots/);
    await expect(writer.write(target(`${root}/../outside/agent`), copy)).rejects.toThrow(/must not contain \.\./);
    await expect(writer.write(target(root), copy)).rejects.toThrow(/is outside the file target roots/);
    await expect(writer.remove(target(join(outside, 'agent')), copy)).rejects.toThrow(TargetRefusedError);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('refuses a path that a symlink inside the root leads outside, creating nothing there', async () => {
    symlinkSync(outside, join(root, 'escape'));
    await expect(writer.write(target(join(root, 'escape', 'agent')), copy)).rejects.toThrow(/leads outside its root/);
    await expect(writer.write(target(join(root, 'escape', 'deeper', 'agent')), copy)).rejects.toThrow(/leads outside its root/);
    await expect(writer.observe(target(join(root, 'escape', 'agent')), hashOf)).rejects.toThrow(/leads outside its root/);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('refuses a target directory that is itself a symlink, even to a place inside the root', async () => {
    mkdirSync(join(root, 'real'));
    symlinkSync(outside, join(root, 'agent'));
    symlinkSync(join(root, 'real'), join(root, 'inside-link'));
    await expect(writer.write(target(join(root, 'agent')), copy)).rejects.toThrow(/is a symbolic link/);
    await expect(writer.write(target(join(root, 'inside-link')), copy)).rejects.toThrow(/is a symbolic link/);
    expect(readdirSync(outside)).toEqual([]);
    expect(readdirSync(join(root, 'real'))).toEqual([]);
  });

  it('tightens an existing directory that others could read to 0700 before writing into it', async () => {
    const path = join(root, 'agent');
    mkdirSync(path, { mode: 0o755 });
    expect(statSync(path).mode & 0o777).toBe(0o755);
    await writer.write(target(path), copy);
    expect(statSync(path).mode & 0o777).toBe(0o700);
  });

  it('follows a root that is itself a symlink (e.g. /var/run → /run)', async () => {
    const linkedRoot = `${root}-link`;
    symlinkSync(root, linkedRoot);
    const linked = new FileTargetWriter([linkedRoot]);
    await expect(linked.write(target(join(linkedRoot, 'agent')), copy)).resolves.toMatchObject({ kind: 'written' });
    expect(existsSync(join(root, 'agent', 'value'))).toBe(true);
  });
});
