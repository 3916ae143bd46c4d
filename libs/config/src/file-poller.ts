import { stat, statSync, type Stats } from 'node:fs';

/** What identifies one version of a file: a Secret volume swaps in a new inode, an in-place write moves mtime/size. */
const versionOf = (stats: Stats | undefined): string =>
  stats ? `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}` : 'missing';

/** The version of `path` now (through symlinks); take it BEFORE reading the file. */
export function fileVersion(path: string): string {
  try {
    return versionOf(statSync(path));
  } catch {
    return versionOf(undefined);
  }
}

export interface FilePoller {
  close(): void;
}

/**
 * Calls `onChange` whenever `path` (followed through symlinks, as a Kubernetes Secret volume's
 * `..data` swap needs) is no longer the version `seen`, taken before the caller read it: a change
 * between that read and the first poll is not missed, as it can be with fs.watchFile, whose
 * baseline is taken later, asynchronously.
 */
export function pollFile(path: string, { seen, intervalMs }: { seen: string; intervalMs: number }, onChange: () => void): FilePoller {
  let last = seen;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    stat(path, (error, stats) => {
      busy = false;
      const version = versionOf(error ? undefined : stats);
      if (version === last) return;
      last = version;
      onChange();
    });
  }, intervalMs);
  timer.unref();
  return { close: () => clearInterval(timer) };
}
