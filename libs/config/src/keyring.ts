import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { z } from 'zod';

import { ConfigError } from './config-error';
import { fileVersion, pollFile, type FilePoller } from './file-poller';

/**
 * rotor's own symmetric keys (token hash, content hash, …) as keyrings, so a key can be
 * rotated with no downtime: values are produced under the newest key and every value names
 * the id of the key that produced it; older keys stay accepted (for verification and
 * look-ups) until an operator removes them from the list.
 *
 * For a key named `ROTOR_X_KEY`, exactly one of:
 * - `ROTOR_X_KEY`: a single key (backward compatible); its id is derived from the key.
 * - `ROTOR_X_KEYS`: `id:key` entries separated by commas or newlines, newest first.
 * - `ROTOR_X_KEY_FILE`: a mounted file with the same entries (one a line, `#` comments), re-read
 *   when it changes.
 * An entry with an empty id (`:key`) gets the derived id, so the key that was `ROTOR_X_KEY` keeps
 * its id when it moves into a list. Rotation: add the new key second (every replica accepts it),
 * move it first (every replica produces with it), remove the old one when nothing needs it.
 */
export interface KeyringKey {
  readonly id: string;
  /** The key's bytes (the UTF-8 of the configured text, as a plain `ROTOR_X_KEY` always was). */
  readonly secret: Buffer;
}

export interface Keyring {
  /** The key new values are produced with: the first listed. */
  current(): KeyringKey;
  /** Every key still accepted, newest first. */
  live(): readonly KeyringKey[];
  find(id: string): KeyringKey | undefined;
  /** Stops watching a key file (no-op otherwise). */
  close(): void;
}

const MIN_KEY_CHARS = 32;
const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

/** A key given as at least 32 bytes of text (base64 or plain). */
export const keySchema = z.string().min(MIN_KEY_CHARS, `must be at least ${MIN_KEY_CHARS} characters`);

/** The id a key gets when none is given: a hash of it, which reveals nothing of a 32-character key. */
export const derivedKeyId = (secret: string): string =>
  `k${createHash('sha256').update('rotor/key-id/v1\0').update(secret, 'utf8').digest('hex').slice(0, 12)}`;

type KeyringEnvShape<N extends string> = { [K in N]: z.ZodOptional<typeof keySchema> } & {
  [K in `${N}S` | `${N}_FILE`]: z.ZodOptional<z.ZodString>;
};

/**
 * The three variables of one keyring, to spread into a service's env shape; `purpose` completes
 * their descriptions in the configuration reference ("keys the …, so …").
 */
export function keyringEnv<N extends string>(name: N, purpose: string): KeyringEnvShape<N> {
  const requiredWhen = `one of ${name}, ${name}S, ${name}_FILE`;
  return {
    [name]: keySchema
      .optional()
      .describe(`One key of at least 32 characters, which ${purpose}; set exactly one of ${name}, ${name}S, ${name}_FILE.`)
      .meta({ requiredWhen }),
    [`${name}S`]: z
      .string()
      .min(1)
      .optional()
      .describe(`The keyring as id:key entries, newest first, separated by commas or newlines: the newest produces, every one is accepted.`)
      .meta({ requiredWhen }),
    [`${name}_FILE`]: z
      .string()
      .min(1)
      .optional()
      .describe(`A mounted file with the ${name}S entries, one a line, re-read when it changes: how keys are rotated with no restart.`)
      .meta({ requiredWhen }),
  } as KeyringEnvShape<N>;
}

export interface KeyringOptions {
  /** How often a key file is checked for changes. */
  pollIntervalMs?: number;
  /** Called when a changed key file cannot be used; the previous keys stay in force. Default: a process warning. */
  onReloadError?: (error: ConfigError) => void;
  /** Called after a changed key file was loaded. */
  onReload?: (ids: string[]) => void;
}

/**
 * Builds the keyring `name` from validated env values. Problems name the variable (and the
 * entry's position or id), never a key.
 */
export function keyringFrom(name: string, env: Record<string, unknown>, options: KeyringOptions = {}): Keyring {
  const single = env[name] as string | undefined;
  const list = env[`${name}S`] as string | undefined;
  const file = env[`${name}_FILE`] as string | undefined;
  const given = [single && name, list && `${name}S`, file && `${name}_FILE`].filter(Boolean);
  if (given.length === 0) throw new ConfigError([`${name}: is required (or ${name}S, or ${name}_FILE)`]);
  if (given.length > 1) throw new ConfigError([`${name}: set only one of ${given.join(', ')}`]);
  if (single) return new StaticKeyring([{ id: derivedKeyId(single), secret: Buffer.from(single, 'utf8') }]);
  if (list) return new StaticKeyring(parseKeyEntries(`${name}S`, list));
  return new FileKeyring(`${name}_FILE`, file!, options);
}

/** Parses `id:key` entries (commas or newlines between them, `#` comments), newest first. */
export function parseKeyEntries(variable: string, text: string): KeyringKey[] {
  const entries = text
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const problems: string[] = [];
  const keys: KeyringKey[] = [];
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    const where = `${variable}: entry ${index + 1}`;
    if (colon < 0) return problems.push(`${where}: must be id:key (an empty id derives one from the key)`);
    const secret = entry.slice(colon + 1);
    const id = entry.slice(0, colon) || derivedKeyId(secret);
    if (!KEY_ID.test(id)) return problems.push(`${where}: the id must be 1-32 letters, digits, '.', '_' or '-'`);
    if (secret.length < MIN_KEY_CHARS) return problems.push(`${where} (id ${id}): must be at least ${MIN_KEY_CHARS} characters`);
    if (keys.some((key) => key.id === id)) return problems.push(`${where}: id ${id} is listed twice`);
    keys.push({ id, secret: Buffer.from(secret, 'utf8') });
  });
  if (problems.length === 0 && keys.length === 0) problems.push(`${variable}: lists no key`);
  if (problems.length > 0) throw new ConfigError(problems);
  return keys;
}

class StaticKeyring implements Keyring {
  constructor(protected keys: readonly KeyringKey[]) {}
  current(): KeyringKey {
    return this.keys[0]!;
  }
  live(): readonly KeyringKey[] {
    return this.keys;
  }
  find(id: string): KeyringKey | undefined {
    return this.keys.find((key) => key.id === id);
  }
  close(): void {
    /* nothing to release */
  }
}

/** A keyring in a mounted file (a Kubernetes Secret volume), polled so a rotation needs no restart. */
class FileKeyring extends StaticKeyring {
  private readonly poller: FilePoller;

  constructor(
    private readonly variable: string,
    private readonly path: string,
    private readonly options: KeyringOptions,
    seen = fileVersion(path),
  ) {
    super(readKeyFile(variable, path));
    // Polling stat follows the symlink swap a Secret volume does on update, where fs.watch would miss it.
    this.poller = pollFile(path, { seen, intervalMs: options.pollIntervalMs ?? 5_000 }, () => this.reload());
  }

  /** Re-reads the file; a bad file leaves the previous keys in force. */
  reload(): void {
    try {
      this.keys = readKeyFile(this.variable, this.path);
      this.options.onReload?.(this.keys.map((key) => key.id));
    } catch (error) {
      const problem = error instanceof ConfigError ? error : new ConfigError([`${this.variable}: cannot be read`]);
      // Without a handler it still reaches stderr (a Node warning), naming the variable and never a key.
      if (this.options.onReloadError) this.options.onReloadError(problem);
      else process.emitWarning(problem.message, 'RotorKeyringWarning');
    }
  }

  override close(): void {
    this.poller.close();
  }
}

function readKeyFile(variable: string, path: string): KeyringKey[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${variable}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  return parseKeyEntries(variable, text);
}
