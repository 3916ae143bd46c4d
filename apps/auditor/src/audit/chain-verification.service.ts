import { Inject, Injectable } from '@nestjs/common';
import type { Kafka } from 'kafkajs';

import { ChainVerifier } from '@rotor/audit-chain';
import { AuditLogMessageSchema } from '@rotor/contracts';
import { readTopicRange } from '@rotor/kafka';
import { KAFKA } from '@rotor/nest-kafka';
import type { AuditVerifyReport } from '@rotor/rest-contract';
import { DependencyGate } from '@rotor/service-kit';
import { Metrics } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

import { AuditSigningKeys } from './audit-signing-keys';
import { CheckpointArchive } from './checkpoint-archive';

/**
 * Walks the audit topic from its start and reports the first broken record by partition and
 * offset: chains and checkpoints checked with the public keys, the checkpoint kept in GSM
 * compared with the topic's. ROTOR_AUDIT_KEY only checks records from before the transition.
 */
@Injectable()
export class ChainVerificationService {
  /** The latest verification's outcome and time; none before the first. */
  private latest?: { ok: boolean; at: number };

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    private readonly keys: AuditSigningKeys,
    private readonly archive: CheckpointArchive,
    private readonly gate: DependencyGate,
    metrics: Metrics,
  ) {
    // No sample until a verification has run: a 0 before any would claim a sound log.
    metrics.gauge(
      'rotor_audit_chain_broken',
      "1 when this auditor's latest verification of the audit log found a break, 0 when sound",
      [],
      () => Promise.resolve(this.latest ? Number(!this.latest.ok) : undefined),
    );
    metrics.gauge(
      'rotor_audit_chain_verified_timestamp_seconds',
      "When this auditor's latest verification of the audit log completed",
      [],
      () => Promise.resolve(this.latest && this.latest.at / 1000),
    );
  }

  async verify(): Promise<AuditVerifyReport> {
    const verifier = new ChainVerifier({ keyring: this.keys.keyring, legacyKey: this.config.auditKey });
    const started = Date.now();
    // Before the topic: the auditor writes Kafka first, so the topic read next must reach it.
    verifier.setExternalCheckpoint(await this.gate.bounded('gsm', this.archive.latest()));
    let unreadable: { partition: number; offset: string } | undefined;
    await readTopicRange(this.kafka, {
      groupPrefix: 'rotor-auditor-verify',
      topic: this.config.auditTopic,
      onMessage: (message, partition) => {
        const parsed = AuditLogMessageSchema.safeParse(safeJson(message.value));
        if (!parsed.success) {
          unreadable ??= { partition, offset: message.offset };
          return;
        }
        const located = { partition, offset: message.offset };
        if ('kind' in parsed.data) verifier.addCheckpoint({ checkpoint: parsed.data, ...located });
        else verifier.add({ record: parsed.data, ...located });
      },
    });
    const result = verifier.result();
    const ok = result.ok && !unreadable;
    this.latest = { ok, at: Date.now() };
    return {
      ...result,
      ok,
      ...(unreadable ? { firstUnreadable: unreadable } : {}),
      tookMs: Date.now() - started,
    };
  }
}

const safeJson = (value: Buffer | null): unknown => {
  try {
    return value ? JSON.parse(value.toString('utf8')) : null;
  } catch {
    return null;
  }
};
