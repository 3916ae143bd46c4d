import { ROOT_CONTEXT } from '@opentelemetry/api';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import { AuditKeyring, ChainVerifier } from '@rotor/audit-chain';
import { ChainState, ViewWriter, type AuditDatabase } from '@rotor/audit-store';
import { AuditRecordSchema, type AnyEnvelope, type AuditRecord } from '@rotor/contracts';
import { readTopicRange, type BatchItem } from '@rotor/kafka';
import { ReadinessRegistry } from '@rotor/service-kit';
import { createLogger, Metrics } from '@rotor/telemetry';

import { AppendHealth } from '../../apps/auditor/src/audit/append-health';
import { AuditAppender } from '../../apps/auditor/src/audit/audit-appender.service';
import { AuditLogProducer } from '../../apps/auditor/src/audit/audit-log-producer';
import { AuditStateInitializer } from '../../apps/auditor/src/audit/audit-state-initializer';
import { AuditStore } from '../../apps/auditor/src/audit/audit.store';
import { ChainRepair } from '../../apps/auditor/src/audit/chain-repair';
import type { CheckpointService } from '../../apps/auditor/src/audit/checkpoint.service';
import type { AuditorConfig } from '../../apps/auditor/src/config';
import { leaseIssuedEvent } from '../support/lease-events';
import { createTestTopics, deleteTestTopics } from '../support/test-topics';
import { PrivateAuditDatabase } from '../support/private-audit-database';
import { kafkaFromEnv } from '../../tools/security/env-clients';

const kafka = kafkaFromEnv('rotor-test-audit-append');
const logger = createLogger({ service: 'test', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });
/**
 * The source log the runs come from: a topic of this suite's own holding real messages at the
 * offsets the runs name, as the auditor checks that a log reaches past a chain's head.
 */
const SOURCE = `rotor.test.audit-source-${randomUUID().slice(0, 8)}.v1`;
const SOURCE_MESSAGES = 20;
const CHAIN = `${SOURCE}:0`;
/** A topic whose log is replaced under a chain (see the last test). */
const REPLACED = `rotor.test.audit-replaced-${randomUUID().slice(0, 8)}.v1`;

/** As if the process died after the records were produced, before the database recorded them. */
class StoreThatDiesAfterProduce extends AuditStore {
  override recordAppended(): Promise<void> {
    return Promise.reject(new Error('killed between produce and the database update'));
  }
}

/** Reads the chain head, then waits: a replica that stalls while another takes its partition over. */
class StalledStore extends AuditStore {
  release!: () => void;
  private headRead!: () => void;
  readonly stalled = new Promise<void>((resolve) => (this.release = resolve));
  readonly readHead = new Promise<void>((resolve) => (this.headRead = resolve));

  override async appendState(chain: string, eventIds: readonly string[]) {
    const state = await super.appendState(chain, eventIds);
    this.headRead();
    await this.stalled;
    return state;
  }
}

const leaseIssued = (leaseId: string): AnyEnvelope => leaseIssuedEvent(leaseId);

/** Checkpoints are not what these tests are about: the transition checkpoint counts as written. */
const checkpointsStarted = { ensureStarted: () => Promise.resolve() } as unknown as CheckpointService;

/** Events as consumed from partition 0 of a source topic (this suite's own by default) at offsets 0, 1, 2… */
const consumed = (events: AnyEnvelope[], topic = SOURCE): BatchItem<AnyEnvelope>[] =>
  events.map((message, offset) => ({
    message,
    context: {
      topic,
      partition: 0,
      offset: String(offset),
      key: null,
      timestamp: String(Date.now()),
      traceContext: ROOT_CONTEXT,
      headers: {},
      logger,
    },
  }));

/**
 * The appender's crash and fencing guarantees, against real Kafka and PostgreSQL, with the crash or
 * the stall placed exactly where it matters (the process-level SIGKILL test is in auditor-chain).
 */
describe('auditor: appending runs of events', () => {
  const privateDb = new PrivateAuditDatabase();
  const auditKey = randomBytes(32).toString('hex');
  let db: AuditDatabase;
  let producer: AuditLogProducer;
  let config: AuditorConfig;
  const storeParts = () => [new ChainState(db), new ViewWriter(db)] as const;

  const appenderWith = (store: AuditStore) =>
    new AuditAppender(
      store,
      producer,
      new AppendHealth(new ReadinessRegistry(), new Metrics('test')),
      checkpointsStarted,
      new ChainRepair(kafka, config, logger, store, new Metrics('test')),
      new AuditStateInitializer(store, kafka, config),
      kafka,
      config,
      new Metrics('test'),
    );

  const TABLES = ['state', 'chains', 'checkpoint_state', 'locks', 'seen', 'records', 'record_keys', 'entities', 'members'];
  /** Every row of the auditor's tables: what a replica holds at one moment. */
  const snapshot = async () => {
    const copy = `snap_${randomUUID().replace(/-/g, '').slice(0, 8)}`;
    for (const table of TABLES) await db.pool.query(`CREATE TABLE ${copy}_${table} AS SELECT * FROM ${table}`);
    return copy;
  };
  /** The database fails over to a replica that had only `copy`: acknowledged writes after it are lost. */
  const failOverTo = async (copy: string) => {
    await db.pool.query(`TRUNCATE ${TABLES.join(', ')}`);
    for (const table of TABLES) {
      // Every column but the generated ones (PostgreSQL computes those again).
      const { rows } = await db.pool.query<{ name: string }>(
        `SELECT column_name AS name FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position`,
        [table],
      );
      const columns = rows.map((row) => row.name).join(', ');
      await db.pool.query(`INSERT INTO ${table} (${columns}) SELECT ${columns} FROM ${copy}_${table}`);
    }
  };
  const recordCount = async () => Number((await db.pool.query('SELECT count(*) AS n FROM records')).rows[0].n);
  const headOf = async (chain: string) =>
    (await db.pool.query('SELECT seq::text, hash, source_offset::text AS "sourceOffset" FROM chains WHERE chain = $1', [chain])).rows[0];

  const auditLog = async (): Promise<AuditRecord[]> => {
    const records: AuditRecord[] = [];
    await readTopicRange(kafka, {
      topic: config.auditTopic,
      onMessage: (message) => void records.push(AuditRecordSchema.parse(JSON.parse(message.value!.toString()))),
    });
    return records;
  };

  /** The chain links only: checkpoints have their own suite (audit-checkpoints), so this log has none. */
  const verify = (records: AuditRecord[]) => {
    const verifier = new ChainVerifier({ keyring: new AuditKeyring([]), partial: true });
    records.forEach((record, offset) => verifier.add({ record, partition: 0, offset: String(offset) }));
    return verifier.result();
  };

  /** A one-partition topic holding `count` messages (offsets 0 … count-1). */
  const sourceTopic = async (topic: string, count: number) => {
    await createTestTopics(kafka, [topic]);
    const raw = kafka.producer();
    await raw.connect();
    await raw.send({ topic, messages: Array.from({ length: count }, (_, n) => ({ value: `message ${n}` })) });
    await raw.disconnect();
  };

  beforeAll(async () => {
    await privateDb.create();
    db = await privateDb.open();
    producer = new AuditLogProducer(kafka);
    await producer.onModuleInit();
    await sourceTopic(SOURCE, SOURCE_MESSAGES);
  });

  beforeEach(async () => {
    await db.pool.query(`TRUNCATE ${TABLES.join(', ')}`);
    await db.pool.query('INSERT INTO checkpoint_state DEFAULT VALUES');
    config = {
      auditKey,
      auditTopic: `rotor.audit.append-test-${randomUUID().slice(0, 8)}.v1`,
      kafka: { partitions: 1, replicationFactor: 1 },
    } as AuditorConfig;
    await appenderWith(new AuditStore(...storeParts())).onModuleInit(); // creates this test's audit topic
  });

  afterAll(async () => {
    await deleteTestTopics(kafka, [SOURCE, REPLACED]);
    await producer.onApplicationShutdown();
    await privateDb.drop();
  });

  it('a run appended again after a crash between produce and the database update, split differently, leaves only repeats the verifier skips', async () => {
    const items = consumed(Array.from({ length: 10 }, () => leaseIssued(randomUUID())));
    await expect(appenderWith(new StoreThatDiesAfterProduce(...storeParts())).append(items)).rejects.toThrow('killed between produce');

    const restarted = appenderWith(new AuditStore(...storeParts()));
    expect(await restarted.append(items.slice(0, 4))).toEqual(Array(4).fill('appended'));
    expect(await restarted.append(items.slice(2))).toEqual([...Array(2).fill('already-appended'), ...Array(6).fill('appended')]);

    const log = await auditLog();
    expect(log).toHaveLength(20); // the lost run, then the same records again
    expect(verify(log)).toMatchObject({ ok: true, records: 10, duplicatesSkipped: 10 });
    expect(await recordCount()).toBe(10);
    expect(await headOf(CHAIN)).toEqual({ seq: '9', hash: log[9]!.hash, sourceOffset: '9' });
  });

  it('records an event redelivered within a run, or after it, once', async () => {
    const events = Array.from({ length: 3 }, () => leaseIssued(randomUUID()));
    const appender = appenderWith(new AuditStore(...storeParts()));
    expect(await appender.append(consumed([events[0]!, events[1]!, events[0]!]))).toEqual(['appended', 'appended', 'duplicate-event']);
    const later = consumed([events[0]!, events[1]!, events[0]!, events[1]!, events[2]!]).slice(3);
    expect(await appender.append(later)).toEqual(['duplicate-event', 'appended']);
    expect((await auditLog()).map((record) => record.eventId)).toEqual(events.map((event) => event.id));
  });

  it('refuses a different run for seqs an unconfirmed run holds, so the chain cannot fork; the original run still completes', async () => {
    const original = consumed(Array.from({ length: 5 }, () => leaseIssued(randomUUID())));
    await expect(appenderWith(new StoreThatDiesAfterProduce(...storeParts())).append(original)).rejects.toThrow('killed');

    const other = consumed(Array.from({ length: 5 }, () => leaseIssued(randomUUID())));
    await expect(appenderWith(new AuditStore(...storeParts())).append(other)).rejects.toThrow(
      `chain ${CHAIN} has an unconfirmed run up to source offset 4`,
    );
    expect(await auditLog()).toHaveLength(5); // nothing of the other run was produced

    expect(await appenderWith(new AuditStore(...storeParts())).append(original)).toEqual(Array(5).fill('appended'));
    expect(verify(await auditLog())).toMatchObject({ ok: true, records: 5, duplicatesSkipped: 5 });
  });

  it('a new owner continues a chain whose database lost its last append in a failover (source offsets committed), restoring it from the topic', async () => {
    const items = consumed(Array.from({ length: 8 }, () => leaseIssued(randomUUID())));
    // Produced and reserved; the database update the offsets were committed after is what the failover lost.
    await expect(appenderWith(new StoreThatDiesAfterProduce(...storeParts())).append(items.slice(0, 5))).rejects.toThrow('killed');

    expect(await appenderWith(new AuditStore(...storeParts())).append(items.slice(5))).toEqual(Array(3).fill('appended'));

    const log = await auditLog();
    expect(log.map((record) => record.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(verify(log)).toMatchObject({ ok: true, records: 8, duplicatesSkipped: 0 });
    expect(await recordCount()).toBe(8); // the lost records are in the views again
    expect(await headOf(CHAIN)).toEqual({ seq: '7', hash: log[7]!.hash, sourceOffset: '7' });
  });

  it('never forks a chain when a failover took back a whole append (reservation too) from the process that made it', async () => {
    const items = consumed(Array.from({ length: 8 }, () => leaseIssued(randomUUID())));
    const appender = appenderWith(new AuditStore(...storeParts()));
    await appender.append(items.slice(0, 3));
    const replica = await snapshot();
    await appender.append(items.slice(3, 6));
    await failOverTo(replica); // the promoted replica never saw the second append

    expect(await appender.append(items.slice(6))).toEqual(Array(2).fill('appended'));

    const log = await auditLog();
    expect(log.map((record) => record.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(verify(log)).toMatchObject({ ok: true, records: 8, duplicatesSkipped: 0 });
    expect(await recordCount()).toBe(8);
  });

  it('a replica that read the head before another moved it cannot append over it', async () => {
    const items = consumed(Array.from({ length: 8 }, () => leaseIssued(randomUUID())));
    await appenderWith(new AuditStore(...storeParts())).append(items.slice(0, 3));

    const stalledStore = new StalledStore(...storeParts());
    const zombie = appenderWith(stalledStore).append(items.slice(3));
    await stalledStore.readHead;
    await appenderWith(new AuditStore(...storeParts())).append(items.slice(3, 6)); // the partition's new owner
    stalledStore.release();
    await expect(zombie).rejects.toThrow(`chain ${CHAIN} moved while appending from offset 3`);

    const log = await auditLog();
    expect(log.map((record) => record.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(verify(log)).toMatchObject({ ok: true, records: 6, duplicatesSkipped: 0 });
  });
  it('refuses to skip the events of a log that ends before the chain head (a Kafka cluster replaced), and says why', async () => {
    // A chain built from a log that reached offset 9; the topic now holds a new log of 3 messages.
    await sourceTopic(REPLACED, 3);
    const oldLog = consumed(
      Array.from({ length: 10 }, () => leaseIssued(randomUUID())),
      REPLACED,
    );
    const appender = appenderWith(new AuditStore(...storeParts()));
    expect(await appender.append(oldLog)).toEqual(Array(10).fill('appended'));

    const newLog = consumed([leaseIssued(randomUUID())], REPLACED);
    await expect(appender.append(newLog)).rejects.toThrow(
      `chain ${REPLACED}:0 was built up to source offset 9, but that partition ends at offset 3: this is not the log the audit chain vouches for`,
    );
    expect(await auditLog()).toHaveLength(10); // the new log's event was neither skipped as appended nor chained

    // A redelivery from a log that does reach past the head is still skipped, as before.
    const items = consumed(Array.from({ length: 4 }, () => leaseIssued(randomUUID())));
    expect(await appender.append(items)).toEqual(Array(4).fill('appended'));
    expect(await appender.append(items.slice(2))).toEqual(Array(2).fill('already-appended'));
  });
});
