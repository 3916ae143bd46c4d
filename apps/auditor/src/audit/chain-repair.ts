import { Inject, Injectable } from '@nestjs/common';
import type { Kafka } from 'kafkajs';

import { GENESIS } from '@rotor/audit-chain';
import { AuditRecordSchema, type AuditRecord } from '@rotor/contracts';
import { readTopicRange } from '@rotor/kafka';
import { KAFKA } from '@rotor/nest-kafka';
import { LOGGER } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

import { AuditStore, type StoredHead } from './audit.store';

/** Producers' clocks may run behind the source event's timestamp the head records. */
const CLOCK_SLACK_MS = 60_000;

/**
 * Catches the auditor's database up with the audit topic on one chain. A database replicating
 * asynchronously: a replica promoted in a failover can lack the last writes its master
 * acknowledged, among them a chain head moved after its records were produced and their
 * source offsets committed. Left alone, the chain stops (the next run does not continue the
 * unconfirmed one) or, had the reservation been lost too, forks. The audit topic is the truth:
 * the chain's records after the stored head are read back from it and projected again (the
 * projection the rebuild runs), which moves the head to the last of them.
 */
@Injectable()
export class ChainRepair {
  private readonly repaired;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly store: AuditStore,
    metrics: Metrics,
  ) {
    this.repaired = metrics.counter(
      'rotor_audit_chain_repaired_records_total',
      'Audit records that the auditor database had lost (a failover) and were restored from the audit topic',
    );
  }

  /** Restores the records of `chain` that follow `head` on the audit topic; returns how many. */
  async catchUp(chain: string, head: StoredHead | undefined): Promise<number> {
    const headTime = head ? await this.store.recordedAt(chain, head.seq) : undefined;
    const after = head?.seq ?? -1;
    const found = new Map<number, AuditRecord>();
    await readTopicRange(this.kafka, {
      groupPrefix: 'rotor-auditor-repair',
      topic: this.config.auditTopic,
      // A record is produced after its source event: everything after the head is newer than the head's event.
      ...(headTime ? { from: { time: new Date(headTime.getTime() - CLOCK_SLACK_MS) } } : {}),
      onMessage: (message) => {
        if (message.key?.toString('utf8') !== chain || !message.value) return;
        const parsed = AuditRecordSchema.safeParse(parseJson(message.value));
        if (parsed.success && parsed.data.seq > after) found.set(parsed.data.seq, parsed.data);
      },
    });
    // Only what continues the head, link by link: the topic's chain decides, never the store being repaired.
    const run: AuditRecord[] = [];
    for (let prev = head?.hash ?? GENESIS, next = found.get(after + 1); next?.prev === prev; next = found.get(next.seq + 1)) {
      run.push(next);
      prev = next.hash;
    }
    if (run.length === 0) return 0;
    await this.store.recordAppended(run);
    this.repaired.inc(run.length);
    this.logger.warn(
      { chain, fromSeq: run[0]!.seq, toSeq: run[run.length - 1]!.seq },
      "audit chain head restored from the audit topic: the database had lost the chain's last records (a failover)",
    );
    return run.length;
  }
}

const parseJson = (value: Buffer): unknown => {
  try {
    return JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
};
