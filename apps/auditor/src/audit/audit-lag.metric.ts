import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Admin, Kafka } from 'kafkajs';

import { DOMAIN_TOPICS } from '@rotor/contracts';
import { KAFKA } from '@rotor/nest-kafka';
import { Metrics } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

/**
 * Audit lag in messages: how many events on rotor's topics the auditor has not committed yet,
 * read from Kafka at scrape time. It grows while appends fail and falls to 0 once caught up.
 */
@Injectable()
export class AuditLagMetric implements OnApplicationShutdown {
  private admin?: Admin;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    metrics: Metrics,
  ) {
    metrics.gauge('rotor_audit_lag_messages', 'Events on rotor topics not yet audited and committed (-1: Kafka did not answer)', [], () =>
      this.lagMessages().catch(() => -1),
    );
  }

  async lagMessages(): Promise<number> {
    if (!this.admin) {
      this.admin = this.kafka.admin();
      await this.admin.connect();
    }
    const admin = this.admin;
    const committed = await admin.fetchOffsets({ groupId: this.config.consumerGroup, topics: [...DOMAIN_TOPICS] });
    let lag = 0n;
    for (const topic of DOMAIN_TOPICS) {
      const ends = await admin.fetchTopicOffsets(topic);
      const done = committed.find((entry) => entry.topic === topic)?.partitions ?? [];
      for (const { partition, high, low } of ends) {
        const offset = BigInt(done.find((entry) => entry.partition === partition)?.offset ?? '-1');
        lag += BigInt(high) - (offset < 0n ? BigInt(low) : offset);
      }
    }
    return Number(lag);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.admin?.disconnect();
  }
}
