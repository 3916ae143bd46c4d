import { Inject, Injectable } from '@nestjs/common';
import type { Kafka } from 'kafkajs';

import { KAFKA } from '@rotor/nest-kafka';
import { NotReady } from '@rotor/service-kit';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

import { AuditStore } from './audit.store';

/**
 * Marks a database without the auditor's state marker as holding its state, when that is safe:
 * state written before the marker existed, or a first start (an empty audit topic). If the topic
 * has records but the database no chain heads, the database lost them, and appending would
 * restart every chain at seq 0: refuse (fail closed) until an operator rebuilds the state from
 * the topic.
 *
 * Both the first append and the checkpoint timer ask, so a new installation signs its first
 * checkpoint (and turns ready) before any event arrives.
 */
@Injectable()
export class AuditStateInitializer {
  constructor(
    private readonly store: AuditStore,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
  ) {}

  async initialize(): Promise<void> {
    if (await this.store.hasAnyChainHead()) return this.store.markInitialized(); // written before the marker existed
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(this.config.auditTopic);
      const records = offsets.reduce((sum, { high, low }) => sum + (BigInt(high) - BigInt(low)), 0n);
      if (records > 0n) {
        // Written for operators, so /readyz may show it (a driver's error text it never shows).
        throw new NotReady(
          `the auditor's database state is missing but ${this.config.auditTopic} holds ${records} messages: run \`rotor audit replay --rebuild\` to restore it`,
        );
      }
      await this.store.markInitialized();
    } finally {
      await admin.disconnect();
    }
  }
}
