import type { Target } from '@rotor/catalog';
import { createWebhookNotice, signedWebhookRequest, type WebhookNotice } from '@rotor/webhook-signature';

import type { RemoveOutcome, TargetWriter, VersionCopy, WriteOutcome } from './target-writer';
import type { WebhookKeyrings } from './webhook-keys';

type WebhookTarget = Extract<Target, { kind: 'webhook' }>;

export interface WebhookWriterOptions {
  /** Each receiver's own keyring, by the variable its target names; the newest key signs. */
  keyrings: WebhookKeyrings;
  timeoutMs: number;
}

/**
 * Announces versions to a receiver with an HMAC-signed POST. The notice names the version,
 * never the value nor where to read it (the receiver knows its issuer). A 2xx is the confirmation.
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
    const key = await this.options.keyrings.signingKey(target.signingKeyEnv);
    const { body, headers } = signedWebhookRequest({ key, notice: createWebhookNotice(notice) });
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
