import type { Target } from '@rotor/catalog';
import { createWebhookNotice, signedWebhookRequest, type WebhookNotice } from '@rotor/webhook-signature';

import type { RemoveOutcome, TargetWriter, VersionCopy, WriteOutcome } from './target-writer';

type WebhookTarget = Extract<Target, { kind: 'webhook' }>;

export interface WebhookWriterOptions {
  /** Signing keys by environment variable name; the catalog names one per receiver. */
  keys: ReadonlyMap<string, string>;
  issuerUrl: string;
  timeoutMs: number;
}

/**
 * Announces versions to a receiver with an HMAC-signed POST. The notice names the version
 * and where to read it just in time; it never carries the value. A 2xx is the confirmation.
 * Each attempt is a new signed request (fresh delivery id), so a receiver that refuses
 * replays still accepts the distributor's retries.
 */
export class WebhookWriter implements TargetWriter<WebhookTarget> {
  readonly kind = 'webhook' as const;

  constructor(private readonly options: WebhookWriterOptions) {}

  locator(target: WebhookTarget): string {
    const url = new URL(target.url);
    return `webhook:${url.origin}${url.pathname}`;
  }

  async write(target: WebhookTarget, copy: VersionCopy): Promise<WriteOutcome> {
    await this.post(target, {
      type: 'rotor.secret.version-ready',
      secret: copy.secret,
      version: copy.version,
      gsmVersion: copy.gsmVersion,
    });
    return { kind: 'written', locator: this.locator(target) };
  }

  async remove(target: WebhookTarget, copy: { secret: string; version: number; gsmVersion: string }): Promise<RemoveOutcome> {
    await this.post(target, {
      type: 'rotor.secret.version-retired',
      secret: copy.secret,
      version: copy.version,
      gsmVersion: copy.gsmVersion,
    });
    return { kind: 'removed', locator: this.locator(target) };
  }

  private async post(target: WebhookTarget, notice: Pick<WebhookNotice, 'type' | 'secret' | 'version' | 'gsmVersion'>): Promise<void> {
    const key = this.options.keys.get(target.signingKeyEnv);
    if (!key) throw new Error(`no signing key: ${target.signingKeyEnv} is not set on the distributor`);
    const { body, headers } = signedWebhookRequest({ key, notice: createWebhookNotice({ ...notice, issuerUrl: this.options.issuerUrl }) });
    const response = await fetch(target.url, {
      method: 'POST',
      headers,
      body,
      redirect: 'error',
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    // Drain the body so the connection is reused; its content is the receiver's business.
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) throw new Error(`receiver answered HTTP ${response.status}`);
  }
}

/** The signing keys every webhook target in the catalog needs, read from the environment at boot. */
export function resolveWebhookKeys(targets: readonly Target[], env: NodeJS.ProcessEnv): Map<string, string> {
  const keys = new Map<string, string>();
  for (const target of targets) {
    if (target.kind !== 'webhook') continue;
    const value = env[target.signingKeyEnv];
    if (!value || value.length < 32) {
      throw new Error(`webhook target ${target.name}: ${target.signingKeyEnv} must be set to a key of at least 32 characters`);
    }
    keys.set(target.signingKeyEnv, value);
  }
  return keys;
}
