import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Kafka } from 'kafkajs';

import { ChainState, StateMarkers, ViewWriter } from '@rotor/audit-store';
import { AuditLogMessageSchema, type AuditRecord } from '@rotor/contracts';
import { readTopicRange } from '@rotor/kafka';
import { KAFKA } from '@rotor/nest-kafka';
import { allKeys, createRedis, forEachKey, type Redis } from '@rotor/redis-store';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

/** The two Redis layouts the auditor used before PostgreSQL: hash-tagged, and the one before it. */
export const PREVIOUS_PREFIXES = ['{auditor:views}:', 'auditor:'] as const;
const WRITE_BATCH = 2_000;

export interface RedisLayoutMoveResult {
  /** Records written into the views from the audit topic (0: nothing to move). */
  records: number;
  /** The checkpoint number carried over. */
  checkpointNumber?: number;
  /** Keys of the previous layouts removed from Redis. */
  keysRemoved: number;
}

/**
 * Upgrade from the auditor that kept its state in Redis (chain heads, dedupe marks, views that
 * grew with history). Once, at start-up, before anything appends: when Redis holds that state
 * and the database does not yet, the views are built from the audit topic (the truth both were
 * derived from) with the projection the rebuild runs, the checkpoint numbering is carried over
 * from Redis, and the database is marked as holding the state; then the old keys are removed,
 * and a second marker says so, so that Redis is never read again. A start cut short anywhere
 * runs again idempotently. Stop the auditors of the previous version first.
 */
@Injectable()
export class RedisLayoutMove implements OnModuleInit {
  constructor(
    private readonly chains: ChainState,
    private readonly writer: ViewWriter,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(AUDITOR_CONFIG) private readonly config: AuditorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    try {
      await this.run();
    } catch (error) {
      // Moved already, only the old keys left: not worth refusing to start over; the next start removes them.
      if (!(await this.chains.hasMarker(StateMarkers.initialized))) throw error;
      this.logger.warn({ err: error }, 'could not remove the previous auditor state from Redis; the next start tries again');
    }
  }

  async run(): Promise<RedisLayoutMoveResult> {
    if (await this.chains.hasMarker(StateMarkers.redisLayoutCleared)) return { records: 0, keysRemoved: 0 };
    const redis = createRedis(this.config.redis.url, {
      connectionName: 'rotor-auditor-upgrade',
      clusterNodes: this.config.redis.clusterNodes,
      security: this.config.redis.security,
      commandTimeoutMs: 10_000,
    });
    try {
      const previous = await previousState(redis);
      const result: RedisLayoutMoveResult = { records: 0, keysRemoved: 0 };
      if (previous.present && !(await this.chains.hasMarker(StateMarkers.initialized))) {
        result.records = await this.buildFromTopic();
        const number = Math.max(previous.checkpointNumber ?? 0, this.lastCheckpointInTopic);
        if (number > 0) await this.chains.setCheckpointNumber(number, previous.checkpointIssuedAt);
        result.checkpointNumber = number || undefined;
        await this.chains.setMarker(StateMarkers.initialized);
      }
      result.keysRemoved = await removeKeys(redis);
      await this.chains.setMarker(StateMarkers.redisLayoutCleared);
      if (result.records + result.keysRemoved > 0)
        this.logger.info({ ...result }, "auditor state moved from Redis to PostgreSQL; Redis keeps none of the auditor's keys");
      return result;
    } finally {
      redis.disconnect();
    }
  }

  private lastCheckpointInTopic = 0;

  /** Every record of the audit topic into the views, in batches, with progress in the log. */
  private async buildFromTopic(): Promise<number> {
    let batch: AuditRecord[] = [];
    let written = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await this.writer.write(batch);
      written += batch.length;
      batch = [];
    };
    await readTopicRange(this.kafka, {
      groupPrefix: 'rotor-auditor-upgrade',
      topic: this.config.auditTopic,
      progressEvery: 50_000,
      onProgress: (done, total) => this.logger.info({ done, total }, 'moving the audit views to PostgreSQL: reading the audit topic'),
      onMessage: async (message) => {
        const parsed = AuditLogMessageSchema.safeParse(safeJson(message.value));
        if (!parsed.success) return;
        if ('kind' in parsed.data) {
          this.lastCheckpointInTopic = Math.max(this.lastCheckpointInTopic, parsed.data.number);
          return;
        }
        batch.push(parsed.data);
        if (batch.length >= WRITE_BATCH) await flush();
      },
    });
    await flush();
    return written;
  }
}

async function previousState(redis: Redis): Promise<{ present: boolean; checkpointNumber?: number; checkpointIssuedAt?: string }> {
  for (const prefix of PREVIOUS_PREFIXES) {
    const marked = (await redis.exists(`${prefix}state`)) === 1;
    const heads = marked ? [] : await allKeys(redis, `${prefix}chain:*`, 1000);
    if (!marked && heads.length === 0) continue;
    const checkpoint = await redis.hgetall(`${prefix}checkpoint`);
    return {
      present: true,
      ...(checkpoint['number'] ? { checkpointNumber: Number(checkpoint['number']) } : {}),
      ...(checkpoint['issuedAt'] ? { checkpointIssuedAt: checkpoint['issuedAt'] } : {}),
    };
  }
  return { present: false };
}

/** UNLINK one key at a time: the layout before the hash tag spreads over every Redis Cluster slot. */
async function removeKeys(redis: Redis): Promise<number> {
  let removed = 0;
  for (const prefix of PREVIOUS_PREFIXES)
    await forEachKey(redis, `${prefix}*`, async (key) => {
      // Not `removed += await …`: that reads `removed` before the wait, and the page's deletes run at once.
      const count = await redis.unlink(key);
      removed += count;
    });
  return removed;
}

const safeJson = (value: Buffer | null): unknown => {
  try {
    return value ? JSON.parse(value.toString('utf8')) : null;
  } catch {
    return null;
  }
};
