import { readFileSync } from 'node:fs';

import { ConfigError } from './config-error';
import { fileVersion, pollFile } from './file-poller';

export interface WatchedSecretFile {
  /** The file's content now (trimmed). */
  current(): string;
  close(): void;
}

export interface WatchSecretFileOptions {
  /** The variable that names the file: every problem names it, never the content. */
  variable: string;
  path: string;
  /** Called with the new content after the file changed (not when only its timestamp did); may throw to refuse it. */
  onChange: (value: string) => void;
  /** Called when a changed file cannot be read or onChange refused it; the previous content stays in force. Default: a process warning. */
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
 * so a rotated credential is picked up without a restart. Polls like the keyring does (pollFile):
 * stat follows the symlink swap a Kubernetes Secret volume makes.
 */
export function watchSecretFile({ variable, path, onChange, onError, pollIntervalMs = 5_000 }: WatchSecretFileOptions): WatchedSecretFile {
  const seen = fileVersion(path);
  let value = read(variable, path);
  const listener = () => {
    try {
      const next = read(variable, path);
      if (next === value) return;
      onChange(next);
      value = next;
    } catch (error) {
      const problem = error instanceof ConfigError ? error : new ConfigError([`${variable}: cannot be used`]);
      if (onError) onError(problem);
      else process.emitWarning(problem.message, 'RotorSecretFileWarning');
    }
  };
  const poller = pollFile(path, { seen, intervalMs: pollIntervalMs }, listener);
  return { current: () => value, close: () => poller.close() };
}
