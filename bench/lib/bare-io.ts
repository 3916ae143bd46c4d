import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import type Redis from 'ioredis';
import { logLevel, Partitioners, type Admin, type LogEntry, type Producer } from 'kafkajs';
import { escapeIdentifier, escapeLiteral, Pool } from 'pg';

import { describeError, type Outcome } from './closed-loop';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';

export interface BareIoSettings {
  kafkaBrokers: string[];
  redisUrl: string;
  databaseUrl: string;
  /** Distinguishes this run's topic, keys and roles from everything else. */
  runId: string;
  /** The topic whose partitions and replication the bench topic copies. */
  mirrorTopic: string;
  /** The same grant statements as the catalog role (`{{role}}` is the quoted role name). */
  grants: string[];
}

const ms = (since: number) => performance.now() - since;

/** kafkajs logs to stdout by default; stdout is for results. */
const stderrLogCreator = () => (entry: LogEntry) => process.stderr.write(`[kafkajs ${entry.namespace}] ${entry.log.message}\n`);

/**
 * The I/O an issuance needs, done directly with the same clients and client settings as the
 * issuer (ioredis; kafkajs idempotent producer, acks=-1, maxInFlightRequests 1, murmur2;
 * pg Pool of 8), with none of the issuer around it:
 *  - opaque-token: a MULTI with HSET (a lease-record-shaped hash) + PEXPIREAT, then one acked
 *    produce of a lease.issued-shaped CloudEvent to a bench topic with the same partitions.
 *  - postgres: a transaction with CREATE ROLE … LOGIN PASSWORD … VALID UNTIL … and the grants,
 *    then the same Redis and Kafka steps.
 */
export class BareIo {
  readonly topic: string;
  private readonly redisKeys: string[] = [];
  /** Every role name this baseline tried to create (cleanup drops those that exist). */
  readonly roles: string[] = [];
  private topicCreated = false;

  private constructor(
    private readonly settings: BareIoSettings,
    private readonly redis: Redis,
    private readonly admin: Admin,
    private readonly producer: Producer,
    readonly pool: Pool,
  ) {
    this.topic = `bench.issuance-baseline.${settings.runId}`;
  }

  static async connect(settings: BareIoSettings): Promise<BareIo> {
    const redis = redisFromEnv(settings.redisUrl, { connectionName: 'rotor-bench-baseline', maxRetriesPerRequest: 2, lazyConnect: true });
    redis.on('error', () => undefined);
    await redis.connect();
    const kafka = kafkaFromEnv(
      'rotor-bench-baseline',
      { ...process.env, KAFKA_BROKERS: settings.kafkaBrokers.join(',') },
      {
        logLevel: logLevel.WARN,
        logCreator: stderrLogCreator,
        retry: { initialRetryTime: 200, retries: 8 },
      },
    );
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const pool = new Pool({ connectionString: settings.databaseUrl, max: 8, connectionTimeoutMillis: 3_000 });
    pool.on('error', () => undefined);
    const bare = new BareIo(settings, redis, admin, producer, pool);
    await bare.createTopic();
    return bare;
  }

  /** Partitions × replication of the bench topic (copied from the mirrored rotor topic). */
  topicShape = { partitions: 0, replicationFactor: 0 };

  private async createTopic(): Promise<void> {
    const metadata = await this.admin.fetchTopicMetadata({ topics: [this.settings.mirrorTopic] });
    const partitions = metadata.topics[0]?.partitions ?? [];
    this.topicShape = { partitions: partitions.length || 6, replicationFactor: partitions[0]?.replicas.length || 1 };
    await this.admin.createTopics({
      topics: [{ topic: this.topic, numPartitions: this.topicShape.partitions, replicationFactor: this.topicShape.replicationFactor }],
      waitForLeaders: true,
    });
    this.topicCreated = true;
  }

  /** Byte size of one produced event (value only). */
  get eventBytes(): number {
    return Buffer.byteLength(this.event(randomUUID(), new Date(), 'opaque-token', { backend: 'opaque-token' }));
  }

  async opaque(index: number): Promise<Outcome> {
    const leaseId = randomUUID();
    const now = new Date();
    const steps: Record<string, number> = {};
    let step = 'redis';
    let t = performance.now();
    try {
      await this.writeLease(leaseId, now, 'opaque-token', { backend: 'opaque-token' }, index);
      steps['redis'] = ms(t);
      step = 'kafka';
      t = performance.now();
      await this.produce(leaseId, now, 'opaque-token', { backend: 'opaque-token' });
      steps['kafka'] = ms(t);
      return { ok: true, stepsMs: steps };
    } catch (error) {
      return { ok: false, error: `${step}: ${describeError(error)}` };
    }
  }

  async postgres(index: number): Promise<Outcome> {
    const leaseId = randomUUID();
    const now = new Date();
    const role = `bench_${leaseId.replace(/-/g, '')}`; // same length and alphabet as rotor_<32 hex>
    const handle = { backend: 'postgres', roleName: role };
    const steps: Record<string, number> = {};
    let step = 'postgres';
    let t = performance.now();
    try {
      this.roles.push(role);
      await this.createRole(role, new Date(now.getTime() + 600_000));
      steps['postgres'] = ms(t);
      step = 'redis';
      t = performance.now();
      await this.writeLease(leaseId, now, 'postgres', handle, index);
      steps['redis'] = ms(t);
      step = 'kafka';
      t = performance.now();
      await this.produce(leaseId, now, 'postgres', handle);
      steps['kafka'] = ms(t);
      return { ok: true, stepsMs: steps };
    } catch (error) {
      const pgError = error as { code?: string; message?: string };
      return {
        ok: false,
        error:
          step === 'postgres'
            ? `postgres (${pgError.code ?? '?'}): ${pgError.message ?? String(error)}`
            : `${step}: ${describeError(error)}`,
      };
    }
  }

  private async createRole(role: string, validUntil: Date): Promise<void> {
    const quoted = escapeIdentifier(role);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `CREATE ROLE ${quoted} LOGIN PASSWORD ${escapeLiteral(randomBytes(24).toString('base64url'))} VALID UNTIL ${escapeLiteral(validUntil.toISOString())}`,
      );
      for (const grant of this.settings.grants) await client.query(grant.replaceAll('{{role}}', quoted));
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async writeLease(leaseId: string, now: Date, backend: string, handle: object, index: number): Promise<void> {
    const key = `bench:issuance:${this.settings.runId}:lease:{${leaseId}}`;
    this.redisKeys.push(key);
    const expiresAt = new Date(now.getTime() + 600_000);
    const maxExpiresAt = new Date(now.getTime() + 3_600_000);
    const results = await this.redis
      .multi()
      .hset(key, {
        id: leaseId,
        role: `bench-${backend}`,
        owner: 'team-bench',
        backend,
        workload: JSON.stringify({ namespace: `bench-${this.settings.runId}`, serviceAccount: `bare-${index % 8}` }),
        issuedAt: now.toISOString(),
        expiresAt: expiresAt.toISOString(),
        maxExpiresAt: maxExpiresAt.toISOString(),
        state: 'active',
        handle: JSON.stringify(handle),
      })
      .pexpireat(key, maxExpiresAt.getTime())
      .exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('Redis transaction aborted');
  }

  private async produce(leaseId: string, now: Date, backend: string, handle: object): Promise<void> {
    const id = randomUUID();
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [
        {
          key: leaseId,
          value: this.event(leaseId, now, backend, handle, id),
          headers: {
            'content-type': 'application/cloudevents+json',
            'ce-id': id,
            traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
          },
        },
      ],
    });
  }

  /** A lease.issued-shaped CloudEvent (the size and shape the issuer publishes). */
  private event(leaseId: string, now: Date, backend: string, handle: object, id: string = randomUUID()): string {
    return JSON.stringify({
      specversion: '1.0',
      id,
      source: '/rotor/issuer',
      type: 'rotor.lease.issued.v1',
      time: now.toISOString(),
      subject: leaseId,
      datacontenttype: 'application/json',
      data: {
        leaseId,
        role: `bench-${backend}`,
        owner: 'team-bench',
        backend,
        workload: { namespace: `bench-${this.settings.runId}`, serviceAccount: 'bare-0' },
        issuedAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + 600_000).toISOString(),
        maxExpiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
        revocationHandle: handle,
      },
    });
  }

  /** Deletes the bench's Redis keys and topic (roles are dropped by the caller, with the issuer's). */
  async cleanup(): Promise<{ redisKeysDeleted: number; topicDeleted: boolean }> {
    let redisKeysDeleted = 0;
    for (let i = 0; i < this.redisKeys.length; i += 500) {
      redisKeysDeleted += await this.redis.unlink(...this.redisKeys.slice(i, i + 500));
    }
    let topicDeleted = false;
    if (this.topicCreated) {
      await this.admin.deleteTopics({ topics: [this.topic], timeout: 10_000 }).then(
        () => (topicDeleted = true),
        (error: unknown) => process.stderr.write(`could not delete topic ${this.topic}: ${describeError(error)}\n`),
      );
    }
    return { redisKeysDeleted, topicDeleted };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect(), this.pool.end()]);
    this.redis.disconnect();
  }

  get redisClient(): Redis {
    return this.redis;
  }
}
