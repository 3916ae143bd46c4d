import { randomUUID } from 'node:crypto';

import type { Kafka } from 'kafkajs';

import { startGroupAtEnd } from './kafka-groups';
import { PrivateAuditDatabase } from './private-audit-database';

/**
 * An audit installation of the suite's own: a database, an audit topic and a consumer group
 * (started at the end of the domain topics). A fresh database beside a topic that already holds
 * records rightly refuses to start its chains, so a suite's auditor needs all three.
 */
export class PrivateAuditLog {
  readonly topic: string;
  readonly group: string;
  readonly db = new PrivateAuditDatabase();

  constructor(
    private readonly kafka: Kafka,
    name: string,
  ) {
    const suffix = randomUUID().slice(0, 8);
    this.topic = `rotor.audit.${name}-${suffix}.v1`;
    this.group = `rotor-auditor-${name}-${suffix}`;
  }

  async create(): Promise<this> {
    await this.db.create();
    await startGroupAtEnd(this.kafka, this.group);
    return this;
  }

  /** What the suite's auditor process needs (on top of its identity and keys). */
  env(): Record<string, string> {
    return { ...this.db.env(), ROTOR_AUDIT_TOPIC: this.topic, ROTOR_AUDITOR_GROUP: this.group };
  }

  async drop(): Promise<void> {
    await this.db.drop();
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.deleteGroups([this.group]).catch(() => undefined);
      await admin.deleteTopics({ topics: [this.topic] }).catch(() => undefined);
    } finally {
      await admin.disconnect();
    }
  }
}
