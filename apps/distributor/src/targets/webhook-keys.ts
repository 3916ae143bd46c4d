import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';

import type { Target } from '@rotor/catalog';
import { ConfigError } from '@rotor/config';
import {
  parseWebhookKeyring,
  signingKeyOf,
  WebhookKeyringError,
  type WebhookKeyring,
  type WebhookSigningKey,
} from '@rotor/webhook-signature';

/** Where one receiver's keyring comes from: the variable itself, or the file `<variable>_FILE` names. */
type KeyringSource =
  | { kind: 'env'; variable: string; keyring: WebhookKeyring }
  | { kind: 'file'; variable: string; path: string; keyring: WebhookKeyring; stamp: string };

/**
 * The signing keyring of every webhook receiver, by the variable its catalog target names
 * (`signingKeyEnv`). A keyring is `<key id>:<key>[,…]`, newest first; the newest signs. With
 * `<variable>_FILE` the keyring is read from a mounted file and read again when the file changes,
 * so the sender moves to a new key without a restart.
 */
export class WebhookKeyrings {
  private constructor(private readonly sources: Map<string, KeyringSource>) {}

  /** Reads every keyring the catalog's webhook targets need; refuses to start, naming the variable, if one is missing or malformed. */
  static fromEnvironment(targets: readonly Target[], env: NodeJS.ProcessEnv): WebhookKeyrings {
    const sources = new Map<string, KeyringSource>();
    const problems: string[] = [];
    for (const target of targets) {
      if (target.kind !== 'webhook' || sources.has(target.signingKeyEnv)) continue;
      const variable = target.signingKeyEnv;
      const file = env[`${variable}_FILE`];
      try {
        if (file && env[variable]) throw new ConfigError([`${variable}_FILE: set it or ${variable}, not both`]);
        if (file) sources.set(variable, { kind: 'file', variable, path: file, ...readKeyringFileSync(`${variable}_FILE`, file) });
        else if (env[variable]) sources.set(variable, { kind: 'env', variable, keyring: parseOrExplain(variable, env[variable]) });
        else throw new ConfigError([`${variable}: is required by webhook target ${target.name} (or ${variable}_FILE)`]);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        problems.push(...error.problems);
      }
    }
    if (problems.length) throw new ConfigError(problems);
    return new WebhookKeyrings(sources);
  }

  /** The key to sign with now for the receiver whose keyring is in `variable`. */
  async signingKey(variable: string): Promise<WebhookSigningKey> {
    const source = this.sources.get(variable);
    if (!source) throw new Error(`no signing keyring: ${variable} was not read at start-up`);
    if (source.kind === 'file') await this.refresh(source);
    return signingKeyOf(source.keyring);
  }

  /** Re-reads a keyring file whose size or modification time moved; an unreadable or invalid file fails the delivery (it is retried). */
  private async refresh(source: Extract<KeyringSource, { kind: 'file' }>): Promise<void> {
    const now = await stat(source.path);
    const stamp = `${now.mtimeMs}:${now.size}:${now.ino}`;
    if (stamp === source.stamp) return;
    source.keyring = parseOrExplain(`${source.variable}_FILE`, await readFile(source.path, 'utf8'));
    source.stamp = stamp;
  }
}

function readKeyringFileSync(variable: string, path: string): { keyring: WebhookKeyring; stamp: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  // The first refresh re-reads once: cheaper than a second stat here, and it closes the gap between read and stat.
  return { keyring: parseOrExplain(variable, text), stamp: '' };
}

function parseOrExplain(variable: string, text: string): WebhookKeyring {
  try {
    return parseWebhookKeyring(text);
  } catch (error) {
    if (error instanceof WebhookKeyringError) throw new ConfigError([`${variable}: ${error.message}`]);
    throw error;
  }
}
