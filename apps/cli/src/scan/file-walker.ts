import { lstat, readdir, realpath } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';

export interface WalkedFile {
  path: string;
  size: number;
}

export interface SkipNote {
  path: string;
  reason: string;
}

export interface WalkResult {
  files: WalkedFile[];
  notes: SkipNote[];
}

/** Git's object store is compressed history: nothing readable to match, and often most of a checkout's bytes. */
const isGitObjects = (directory: string) => basename(directory) === 'objects' && basename(dirname(directory)) === '.git';

/**
 * Lists the regular files under the given paths, depth first, in name order. Symlinks are not
 * followed (a link inside the tree points at a file scanned where it lives; one leading out of
 * the tree is noted); unreadable directories and paths are noted, never fatal.
 */
export async function walkPaths(paths: readonly string[]): Promise<WalkResult> {
  const result: WalkResult = { files: [], notes: [] };
  const roots = await Promise.all(paths.map((path) => realpath(path).catch(() => path)));
  const insideTree = (target: string) =>
    roots.some((root) => !relative(root, target).startsWith('..') && !relative(root, target).startsWith(sep));

  const visit = async (path: string): Promise<void> => {
    let stats;
    try {
      stats = await lstat(path);
    } catch (error) {
      result.notes.push({ path, reason: `unreadable (${(error as NodeJS.ErrnoException).code ?? 'error'})` });
      return;
    }
    if (stats.isSymbolicLink()) {
      const target = await realpath(path).catch(() => undefined);
      if (!target) result.notes.push({ path, reason: 'broken symlink' });
      else if (!insideTree(target)) result.notes.push({ path, reason: 'symlink out of the scanned tree, not followed' });
      return;
    }
    if (stats.isFile()) {
      result.files.push({ path, size: stats.size });
      return;
    }
    if (!stats.isDirectory() || isGitObjects(path)) return;
    let entries;
    try {
      entries = await readdir(path);
    } catch (error) {
      result.notes.push({ path, reason: `unreadable directory (${(error as NodeJS.ErrnoException).code ?? 'error'})` });
      return;
    }
    for (const entry of entries.sort()) await visit(join(path, entry));
  };

  for (const path of paths) await visit(path);
  return result;
}
