import { Inject, Injectable } from '@nestjs/common';
import type { Kafka } from 'kafkajs';

import { ChainVerifier } from '@rotor/audit-chain';
import { AuditRecordSchema } from '@rotor/contracts';
import { readTopicRange } from '@rotor/kafka';
import { KAFKA } from '@rotor/nest-kafka';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

/** Walks the audit topic from its start and reports the first broken record by partition and offset. */
@Injectable()
export class ChainVerificationService {
  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
  ) {}

  async verify() {
    const verifier = new ChainVerifier(this.config.auditKey);
    const started = Date.now();
    let unreadable: { partition: number; offset: string } | undefined;
    await readTopicRange(this.kafka, {
      groupPrefix: 'rotor-auditor-verify',
      topic: this.config.auditTopic,
      onMessage: (message, partition) => {
        const parsed = AuditRecordSchema.safeParse(safeJson(message.value));
        if (!parsed.success) {
          unreadable ??= { partition, offset: message.offset };
          return;
        }
        verifier.add({ record: parsed.data, partition, offset: message.offset });
      },
    });
    const result = verifier.result();
    return {
      ...result,
      ok: result.ok && !unreadable,
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
