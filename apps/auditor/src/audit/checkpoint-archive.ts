import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';

import { AuditCheckpointSchema, type AuditCheckpoint } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';
import { GsmSecretStore, gsmClient, processPacers } from '@rotor/secret-store';
import { LOGGER } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

/**
 * Each checkpoint also goes outside Kafka, as a version of its own of one GSM secret: whoever
 * rewrites the audit topic together with its checkpoints cannot rewrite these, so a removed
 * tail shows as a GSM checkpoint the topic does not reach.
 *
 * Paced by this process alone, not through the shared quota buckets in Redis (the auditor's
 * Redis user reaches only `auditor:` keys): one write per checkpoint interval is far below
 * GSM's 600 writes a minute and 2 version writes a second per secret.
 *
 * Only the latest version matters to a verifier (the topic holds every checkpoint, signed), and
 * GSM bills each version that is not destroyed, so the one before is destroyed once the next is
 * written: a checkpoint a minute would otherwise leave ~43,000 versions a month.
 */
@Injectable()
export class CheckpointArchive implements OnApplicationShutdown {
  private readonly store: GsmSecretStore;
  private secretReady = false;
  /** The version this process wrote last (versions from before a restart stay: a handful). */
  private previous?: string;

  constructor(
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.store = new GsmSecretStore(config.gsm, processPacers, gsmClient, metrics);
  }

  private get latestName(): string {
    return `${this.store.secretName(this.config.checkpoints.gsmSecret)}/versions/latest`;
  }

  async keep(checkpoint: AuditCheckpoint): Promise<void> {
    if (!this.secretReady) {
      await this.store.ensureSecret(this.config.checkpoints.gsmSecret, { 'managed-by': 'rotor', purpose: 'audit-checkpoints' });
      this.secretReady = true;
    }
    const written = await this.store.addVersion(this.config.checkpoints.gsmSecret, Buffer.from(JSON.stringify(checkpoint)));
    const previous = this.previous;
    this.previous = written;
    if (previous)
      await this.store
        .destroy(previous)
        .catch((error: unknown) =>
          this.logger.warn(
            { version: previous, err: error instanceof Error ? error.message : 'unknown error' },
            'could not destroy an older checkpoint version',
          ),
        );
  }

  /** The newest checkpoint kept in GSM; undefined before the first. */
  async latest(): Promise<AuditCheckpoint | undefined> {
    try {
      return AuditCheckpointSchema.parse(JSON.parse((await this.store.access(this.latestName)).toString('utf8')));
    } catch (error) {
      if (error instanceof DomainError && error.code === 'gsm-not-found') return undefined;
      throw error;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
