import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Admin, Kafka } from 'kafkajs';
import type { Counter } from 'prom-client';

import { DOMAIN_TOPICS } from '@rotor/contracts';
import { KAFKA } from '@rotor/nest-kafka';
import { Metrics } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

/**
 * Audit lag in messages: how many events on rotor's topics the auditor has not committed yet,
 * read from Kafka at scrape time. It grows while appends fail and falls to 0 once caught up.
 * When Kafka does not answer, the scrape has no lag sample and rotor_audit_lag_errors_total counts it.
 */
@Injectable()
export class AuditLagMetric implements OnApplicationShutdown {
  private admin?: Admin;
  /** Read by the same scrape before its lag query fails: a failure shows from the next scrape. */
  private readonly errors: Counter;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    metrics: Metrics,
  ) {
    this.errors = metrics.counter('rotor_audit_lag_errors_total', 'Scrapes at which Kafka did not answer the audit lag query');
    metrics.gauge(
      'rotor_audit_lag_messages',
      'Events on rotor topics not yet audited and committed (no sample: Kafka did not answer)',
      [],
      () => this.sample(),
    );
  }

  private async sample(): Promise<number | undefined> {
    try {
      return await this.lagMessages();
    } catch {
      this.errors.inc();
      return undefined;
    }
  }

  async lagMessages(): Promise<number> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      // Kept only once connected: a failed connect is tried again at the next scrape.
      await admin.connect();
      this.admin = admin;
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
