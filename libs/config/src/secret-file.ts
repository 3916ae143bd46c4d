import { readFileSync, unwatchFile, watchFile } from 'node:fs';

import { ConfigError } from './config-error';

export interface WatchedSecretFile {
  /** The file's content now (trimmed). */
  current(): string;
  close(): void;
}

export interface WatchSecretFileOptions {
  /** The variable that names the file: every problem names it, never the content. */
  variable: string;
  path: string;
  /** Called with the new content after the file changed (not called when only its timestamp did). */
  onChange: (value: string) => void;
  /** Called when a changed file cannot be read; the previous content stays in force. Default: a process warning. */
  onError?: (error: ConfigError) => void;
  pollIntervalMs?: number;
}

const read = (variable: string, path: string): string => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new ConfigError([`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
};

/**
 * An upstream credential (an admin URL, a password) in a mounted file, re-read when it changes
 * so a rotated credential is picked up without a restart. Polls like the keyring does: stat
 * follows the symlink swap a Kubernetes Secret volume makes.
 */
export function watchSecretFile({ variable, path, onChange, onError, pollIntervalMs = 5_000 }: WatchSecretFileOptions): WatchedSecretFile {
  let value = read(variable, path);
  const listener = () => {
    try {
      const next = read(variable, path);
      if (next === value) return;
      value = next;
      onChange(next);
    } catch (error) {
      const problem = error instanceof ConfigError ? error : new ConfigError([`${variable}: cannot be used`]);
      if (onError) onError(problem);
      else process.emitWarning(problem.message, 'RotorSecretFileWarning');
    }
  };
  watchFile(path, { persistent: false, interval: pollIntervalMs }, listener);
  return { current: () => value, close: () => unwatchFile(path, listener) };
}
