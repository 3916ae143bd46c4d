import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { writeFileAtomic } from './atomic-file';

describe('writeFileAtomic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-agent-atomic-'));

  it('writes the content with the mode asked, whatever the umask, and leaves no temporary file', async () => {
    const file = join(dir, 'db-url');
    const umask = process.umask(0o077);
    try {
      await writeFileAtomic(file, 'first', 0o440);
    } finally {
      process.umask(umask);
    }
    expect(readFileSync(file, 'utf8')).toBe('first');
    expect(statSync(file).mode & 0o777).toBe(0o440);
    expect(readdirSync(dir)).toEqual(['db-url']);
  });

  it('replaces a read-only file by rename: a new inode, never the old one rewritten in place', async () => {
    const file = join(dir, 'replaced');
    await writeFileAtomic(file, 'old', 0o440);
    const before = statSync(file).ino;
    await writeFileAtomic(file, 'new', 0o440);
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(statSync(file).ino).not.toBe(before);
  });

  it('leaves the target untouched and removes its temporary file when the write fails', async () => {
    const file = join(dir, 'kept');
    writeFileSync(file, 'current');
    // A directory where the target should go makes the rename fail after the content was written.
    const blocked = join(dir, 'blocked');
    mkdirSync(join(blocked, 'x'), { recursive: true });
    await expect(writeFileAtomic(blocked, 'new', 0o440)).rejects.toThrow();
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(readFileSync(file, 'utf8')).toBe('current');
  });
});
