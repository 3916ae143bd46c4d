import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file so that a reader sees either the old content or the new, never a part: the
 * content goes to a temporary file in the same directory (so the rename stays on one file
 * system), created with the final mode, flushed to disk, then renamed over the target; the
 * directory is flushed too, so the rename survives a crash. On any failure the temporary file
 * is removed and the target is untouched.
 */
export async function writeFileAtomic(path: string, content: string, mode: number): Promise<void> {
  const directory = dirname(path);
  const temporary = join(directory, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(content, 'utf8');
      // After the write: open() is subject to the umask, chmod is not. Readers of the target only
      // ever see the final mode, since the file gets its name only after this.
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncDirectory(directory);
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on a directory (EINVAL); the rename is done all the same.
  } finally {
    await handle.close();
  }
}
