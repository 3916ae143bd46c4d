import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import { ChainState, StateMarkers, ViewWriter, type AuditDatabase } from '@rotor/audit-store';
import { AuditCheckpointSchema } from '@rotor/contracts';
import { readTopicRange } from '@rotor/kafka';
import { ReadinessRegistry } from '@rotor/service-kit';
import { createLogger, Metrics } from '@rotor/telemetry';

import { AuditLogProducer } from '../../apps/auditor/src/audit/audit-log-producer';
import { AuditSigningKeys } from '../../apps/auditor/src/audit/audit-signing-keys';
import { AuditStateInitializer } from '../../apps/auditor/src/audit/audit-state-initializer';
import { AuditStore } from '../../apps/auditor/src/audit/audit.store';
import { CheckpointArchive } from '../../apps/auditor/src/audit/checkpoint-archive';
import { CheckpointService } from '../../apps/auditor/src/audit/checkpoint.service';
import { CheckpointStore } from '../../apps/auditor/src/audit/checkpoint.store';
import { loadAuditorConfig, type AuditorConfig } from '../../apps/auditor/src/config';
import { eventually } from '../support/eventually';
import { principalEnv } from '../support/principals';
import { PrivateAuditDatabase } from '../support/private-audit-database';
import { createTestTopics, deleteTestTopics } from '../support/test-topics';
import { writeTempCatalog } from '../support/temp-files';
import { kafkaFromEnv } from '../../tools/security/env-clients';

const kafka = kafkaFromEnv('rotor-test-audit-first-checkpoint');
const logger = createLogger({ service: 'test', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });
const INTERVAL_MS = 1_000;

/**
 * The checkpoint timer of a new installation, with no consumer and so no event at all: a fresh
 * auditor must sign its first checkpoint (and turn ready) before anything is audited, yet never
 * mark a database that lost its state as initialized. Real Kafka, PostgreSQL and GSM emulator.
 */
describe('auditor: the first checkpoint of an installation', () => {
  const topics: string[] = [];
  const databases: PrivateAuditDatabase[] = [];
  const running: { service: CheckpointService; producer: AuditLogProducer; archive: CheckpointArchive }[] = [];

  afterEach(async () => {
    for (const { service, producer, archive } of running.splice(0)) {
      service.onApplicationShutdown();
      await producer.onApplicationShutdown();
      await archive.onApplicationShutdown();
    }
    for (const database of databases.splice(0)) await database.drop();
    await deleteTestTopics(kafka, topics.splice(0));
  });

  /** A checkpoint timer on a new database and a new audit topic, as the auditor wires it. */
  async function checkpointTimer() {
    const privateDb = new PrivateAuditDatabase();
    databases.push(await privateDb.create());
    const db: AuditDatabase = await privateDb.open();
    const topic = `rotor.audit.first-cp-${randomUUID().slice(0, 8)}.v1`;
    topics.push(topic);
    await createTestTopics(kafka, [topic]);
    const config: AuditorConfig = loadAuditorConfig({
      ...process.env,
      ...principalEnv('auditor'),
      ...privateDb.env(),
      ROTOR_AUDIT_TOPIC: topic,
      ROTOR_AUDIT_KEY: randomBytes(32).toString('hex'),
      ROTOR_CATALOG: writeTempCatalog('roles: []\n'),
      ROTOR_AUDIT_CHECKPOINT_INTERVAL_MS: String(INTERVAL_MS),
    });
    const metrics = new Metrics('test');
    const readiness = new ReadinessRegistry();
    const chains = new ChainState(db);
    const store = new AuditStore(chains, new ViewWriter(db));
    const producer = new AuditLogProducer(kafka);
    await producer.onModuleInit();
    const archive = new CheckpointArchive(config, logger, metrics);
    const service = new CheckpointService(
      new CheckpointStore(chains),
      archive,
      producer,
      AuditSigningKeys.load(config.checkpoints),
      new AuditStateInitializer(store, kafka, config),
      kafka,
      config,
      logger,
      metrics,
      readiness,
    );
    running.push({ service, producer, archive });
    return { topic, service, readiness, chains, db };
  }

  const messagesOf = async (topic: string) => {
    const values: string[] = [];
    await readTopicRange(kafka, { topic, onMessage: (message) => void values.push(message.value!.toString()) });
    return values;
  };

  it('signs its first checkpoint, over no chains, and stays ready, with no event audited', async () => {
    const { topic, service, readiness, chains } = await checkpointTimer();
    service.onApplicationBootstrap();
    const [first] = await eventually(
      async () => {
        const messages = await messagesOf(topic);
        return messages.length ? messages : undefined;
      },
      { what: 'the first checkpoint on the audit topic', timeoutMs: 30_000 },
    );
    expect(AuditCheckpointSchema.parse(JSON.parse(first!))).toMatchObject({ kind: 'checkpoint', number: 1, heads: [] });
    expect(await chains.hasMarker(StateMarkers.initialized)).toBe(true);
    // Past the readiness bound (two intervals since start): ready, as checkpoints go on without events.
    await new Promise((resolve) => setTimeout(resolve, 3 * INTERVAL_MS));
    expect((await readiness.report()).checks['audit-checkpoint']).toMatchObject({ ok: true });
    expect((await messagesOf(topic)).length).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('leaves a database that lost its state (the audit topic holds records) uninitialized, and signs nothing', async () => {
    const { topic, service, readiness, chains, db } = await checkpointTimer();
    await db.pool.query('DELETE FROM state');
    const raw = kafka.producer();
    await raw.connect();
    await raw.send({ topic, messages: [{ key: 'chain', value: '{"seq":0}' }] });
    await raw.disconnect();
    service.onApplicationBootstrap();
    // Long enough for several ticks and for the readiness bound (two intervals) to pass.
    await new Promise((resolve) => setTimeout(resolve, 4 * INTERVAL_MS));
    expect(await messagesOf(topic)).toEqual(['{"seq":0}']);
    expect(await chains.hasMarker(StateMarkers.initialized)).toBe(false);
    expect((await readiness.report()).checks['audit-checkpoint']).toMatchObject({ ok: false, reason: 'unavailable' });
  }, 60_000);
});
