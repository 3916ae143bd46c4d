import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Admin } from 'kafkajs';

import { auditKeyId, checkpointSecretFor, GENESIS, sealLegacyRecord, sealRecord, signCheckpoint } from '@rotor/audit-chain';
import { AuditLogMessageSchema, Topics, type AuditCheckpoint, type AuditLogMessage, type AuditRecord } from '@rotor/contracts';
import { EventPublisher, readTopicRange } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';

import { eventually } from '../support/eventually';
import { startGroupAtEnd } from '../support/kafka-groups';
import { leaseIssuedEvent } from '../support/lease-events';
import { principalEnv } from '../support/principals';
import { PrivateAuditDatabase } from '../support/private-audit-database';
import { PrivateRedis } from '../support/private-redis';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';

const ROOT = join(__dirname, '..', '..');
const brokers = requiredEnv('KAFKA_BROKERS');
const kafka = kafkaFromEnv('rotor-test-audit-checkpoints');
const INTERVAL_MS = 3_000;

interface VerifySummary {
  ok: boolean;
  records: number;
  legacyRecords: number;
  legacyChecked: boolean;
  checkpoints: { count: number; unanchoredTail: number; external?: { number: number }; last?: { number: number } };
  failures?: string[];
  firstBreak?: { partition: number; offset: string; chain: string; seq: number; reason: string };
}

/** A message of an audit topic, where it was. */
interface Located {
  partition: number;
  offset: string;
  key: string;
  message: AuditLogMessage;
}

/**
 * The CLI as an outside verifier runs it: the auditor's public keys from a file and nothing
 * secret in its environment (no audit key, no signing key, no key list from the checkout).
 */
function verifyAsOutsider(
  topic: string,
  publicKeyFile: string,
  env: Record<string, string> = {},
  ...more: string[]
): Promise<{ code: number; summary: VerifySummary; stderr: string }> {
  const outside = { ...process.env, ...principalEnv('cli') };
  for (const name of ['ROTOR_AUDIT_KEY', 'ROTOR_AUDIT_SIGNING_KEY_FILE', 'ROTOR_AUDIT_PUBLIC_KEYS_FILE']) delete outside[name];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        '-r',
        '@swc-node/register',
        join(ROOT, 'apps', 'cli', 'src', 'main.ts'),
        'audit',
        'replay',
        '--verify',
        '--json',
        '--public-key',
        publicKeyFile,
        ...more,
      ],
      { cwd: ROOT, env: { ...outside, KAFKA_BROKERS: brokers, ROTOR_AUDIT_TOPIC: topic, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        if (code !== 0 && code !== 1) return reject(new Error(`rotor audit replay failed (${code}): ${stderr}`));
        resolve({ code, summary: (JSON.parse(stdout) as { verify: VerifySummary }).verify, stderr });
      },
    );
  });
}

function runCli(args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'apps', 'cli', 'src', 'main.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, ...principalEnv('cli'), ...env } },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(stdout)),
    );
  });
}

async function withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

async function readLog(topic: string): Promise<Located[]> {
  const log: Located[] = [];
  await readTopicRange(kafka, {
    topic,
    onMessage: (message, partition) =>
      void log.push({
        partition,
        offset: message.offset,
        key: message.key!.toString(),
        message: AuditLogMessageSchema.parse(JSON.parse(message.value!.toString())),
      }),
  });
  return log.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
}

const isCheckpoint = (entry: Located): entry is Located & { message: AuditCheckpoint } => 'kind' in entry.message;
const recordOf = (entry: Located) => entry.message as AuditRecord;

/** The messages, each in its partition in this order, on a topic of their own: what an attacker who can rewrite the log leaves. */
async function copyLog(source: string, messages: Located[]): Promise<string> {
  const topic = `${source}-copy-${randomUUID().slice(0, 6)}`;
  await withAdmin((admin) => admin.createTopics({ topics: [{ topic, numPartitions: 6, replicationFactor: 1 }], waitForLeaders: true }));
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (const partition of [0, 1, 2, 3, 4, 5]) {
      const own = messages.filter((entry) => entry.partition === partition);
      if (own.length)
        await producer.send({
          topic,
          messages: own.map((entry) => ({ partition, key: entry.key, value: JSON.stringify(entry.message) })),
        });
    }
  } finally {
    await producer.disconnect();
  }
  return topic;
}

const CATALOG = `
roles:
  - name: db
    owner: team-pay
    backend: { kind: opaque-token }
    bindings: [{ namespace: payments, serviceAccount: api }]
    ttl: 5m
    maxTtl: 1h
`;

class CheckpointingAuditor {
  readonly topic = `rotor.audit.test-cp-${randomUUID().slice(0, 8)}.v1`;
  readonly group = `rotor-auditor-test-${randomUUID().slice(0, 8)}`;
  readonly auditKey = randomBytes(32).toString('hex');
  /** The Redis of the auditor before PostgreSQL: the upgrade test leaves its state there. */
  readonly redis: PrivateRedis;
  readonly db = new PrivateAuditDatabase();
  process!: ServiceProcess;

  constructor(
    readonly port: number,
    redisPort: number,
    private readonly identity: TestIdentity,
  ) {
    this.redis = new PrivateRedis(redisPort);
  }

  async start(prepare?: () => Promise<void>): Promise<this> {
    await ensurePortFree(this.port);
    await this.redis.start();
    await this.db.create();
    await startGroupAtEnd(kafka, this.group);
    await prepare?.();
    this.process = new ServiceProcess('auditor', this.port, {
      ...this.identity.env,
      ...this.db.env(),
      REDIS_URL: this.redis.url,
      ROTOR_AUDIT_TOPIC: this.topic,
      ROTOR_AUDITOR_GROUP: this.group,
      ROTOR_AUDIT_KEY: this.auditKey,
      ROTOR_CATALOG: writeTempCatalog(CATALOG),
      ROTOR_AUDIT_CHECKPOINT_INTERVAL_MS: String(INTERVAL_MS),
      LOG_LEVEL: 'info',
    });
    // Up to 2 minutes: under a full parallel run a service can take most of a minute to boot,
    // and it is ready only once it has written its first checkpoint after that.
    await this.process.start().ready(120_000);
    return this;
  }

  async stop(...topics: string[]): Promise<void> {
    await this.process?.stop();
    await this.redis.kill();
    await this.db.drop();
    await withAdmin(async (admin) => {
      await admin.deleteGroups([this.group]).catch(() => undefined);
      await admin.deleteTopics({ topics: [this.topic, ...topics] }).catch(() => undefined);
    });
  }

  /** Waits for a checkpoint that vouches for every record of ours (by event id) on the topic. */
  async anchored(eventIds: Set<string>): Promise<Located[]> {
    return eventually(
      async () => {
        const log = await readLog(this.topic);
        const ours = log.filter((entry) => !isCheckpoint(entry) && eventIds.has(recordOf(entry).eventId));
        const last = log.filter(isCheckpoint).at(-1)?.message;
        const vouched = (record: AuditRecord) => last?.heads.some((head) => head.chain === record.chain && head.seq >= record.seq);
        return ours.length === eventIds.size && ours.every((entry) => vouched(recordOf(entry))) ? log : undefined;
      },
      { what: 'a checkpoint over every record of the test', timeoutMs: 30_000, intervalMs: 500 },
    );
  }
}

describe('audit checkpoints: a verifier with the public key only', () => {
  const publisher = new EventPublisher(kafka);
  let identity: TestIdentity;
  let auditor: CheckpointingAuditor;
  let keyFile: string;
  let log: Located[];
  const copies: string[] = [];

  beforeAll(async () => {
    identity = await TestIdentity.create();
    await publisher.connect();
    auditor = await new CheckpointingAuditor(19460, 19461, identity).start();
    const events = Array.from({ length: 30 }, () => leaseIssuedEvent(randomUUID()));
    for (const event of events) await publisher.publish(event);
    log = await auditor.anchored(new Set(events.map((event) => event.id)));
    // The public keys, as an outside verifier gets them: from the auditor, no token needed.
    keyFile = join(mkdtempSync(join(tmpdir(), 'rotor-audit-keys-')), 'keys.json');
    await runCli(['audit', 'keys', '--out', keyFile, '--json'], { ROTOR_AUDITOR_URL: auditor.process.url });
  }, 240_000);

  afterAll(async () => {
    await publisher.disconnect();
    await auditor?.stop(...copies);
  });

  const copy = async (messages: Located[]) => {
    const topic = await copyLog(auditor.topic, messages);
    copies.push(topic);
    return topic;
  };

  it('serves its public key as JWKS, and a good log passes with that key alone, compared with the checkpoint kept in GSM', async () => {
    const jwks = JSON.parse(readFileSync(keyFile, 'utf8')) as { keys: { kid: string; kty: string; crv: string; d?: string }[] };
    expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' })]);
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect(log.filter(isCheckpoint).every((entry) => entry.message.keyId === jwks.keys[0]!.kid)).toBe(true);

    const { code, summary } = await verifyAsOutsider(auditor.topic, keyFile);
    expect(code).toBe(0);
    expect(summary).toMatchObject({ ok: true, legacyRecords: 0 });
    expect(summary.records).toBeGreaterThanOrEqual(30);
    expect(summary.checkpoints.external?.number).toBeGreaterThanOrEqual(2);

    // GSM keeps the latest checkpoint; the one before is destroyed (GSM bills every live version).
    // This auditor's checkpoint n is version n of its secret (a fresh secret, numbered from 1).
    const gsm = new GsmSecretStore({ project: requiredEnv('GSM_PROJECT'), emulatorHost: requiredEnv('SECRET_MANAGER_EMULATOR_HOST') });
    try {
      const older = `${gsm.secretName(checkpointSecretFor(auditor.topic))}/versions/${summary.checkpoints.external!.number - 1}`;
      await eventually(
        async () =>
          (await gsm.access(older).catch((error: { code?: string }) => error.code)) === 'gsm-version-disabled' ? true : undefined,
        {
          what: 'the older checkpoint version destroyed',
        },
      );
    } finally {
      await gsm.close();
    }

    const token = await identity.operatorToken('auditor@example.com', ['rotor:auditor']);
    const served = await fetch(`${auditor.process.url}/v1/audit/verify`, { headers: { authorization: `Bearer ${token}` } });
    expect(await served.json()).toMatchObject({ ok: true, checkpoints: { external: { number: expect.any(Number) } } });
  });

  it('detects a record rewritten with every later hash of its chain recomputed: the checkpoint vouched for the original', async () => {
    const latest = log.filter(isCheckpoint).at(-1)!.message;
    const victim = log.find(
      (entry) =>
        !isCheckpoint(entry) && latest.heads.some((head) => head.chain === recordOf(entry).chain && head.seq >= recordOf(entry).seq),
    )!;
    const chain = recordOf(victim).chain;
    let prev: string | undefined;
    const rewritten = log.map((entry) => {
      if (isCheckpoint(entry) || recordOf(entry).chain !== chain || recordOf(entry).seq < recordOf(victim).seq) return entry;
      const { hash: _hash, link: _link, ...fields } = recordOf(entry);
      const resealed = sealRecord({
        ...fields,
        ...(entry === victim ? { event: { ...fields.event, subject: 'someone-else' } } : {}),
        prev: prev ?? fields.prev,
      });
      prev = resealed.hash;
      return { ...entry, message: resealed };
    });
    const { code, summary } = await verifyAsOutsider(await copy(rewritten), keyFile);
    expect(code).toBe(1);
    expect(summary.firstBreak).toMatchObject({ chain: 'checkpoint', reason: expect.stringMatching(new RegExp(`disagrees with ${chain}`)) });
  });

  it('detects a deleted record', async () => {
    const victim = log.find((entry) => !isCheckpoint(entry) && recordOf(entry).seq === 1)!;
    const { code, summary } = await verifyAsOutsider(await copy(log.filter((entry) => entry !== victim)), keyFile);
    expect(code).toBe(1);
    // Found at the next record of its chain, or at a checkpoint that vouched for the chain past it, whichever comes first.
    expect(summary.firstBreak?.reason).toMatch(/^expected seq 1, found 2$|records removed/);
  });

  it('detects a dropped tail: the log cut after an earlier checkpoint, its later checkpoints gone, while GSM keeps the latest', async () => {
    const numbers = [...new Set(log.filter(isCheckpoint).map((entry) => entry.message.number))];
    const cutAt = numbers.at(-2)!;
    const ends = new Map(log.filter((e) => isCheckpoint(e) && e.message.number === cutAt).map((e) => [e.partition, Number(e.offset)]));
    const topic = await copy(log.filter((entry) => Number(entry.offset) <= (ends.get(entry.partition) ?? -1)));
    const ahead = new RegExp(`kept outside Kafka \\(#\\d+.* is ahead of the log \\(last #${cutAt}\\)`);
    const alone = await verifyAsOutsider(topic, keyFile);
    expect(alone.summary.firstBreak).toBeUndefined(); // the cut log is consistent in itself...
    expect(alone.summary.failures ?? []).not.toContainEqual(expect.stringMatching(ahead));
    const { code, summary } = await verifyAsOutsider(topic, keyFile, { ROTOR_AUDIT_CHECKPOINT_SECRET: checkpointSecretFor(auditor.topic) });
    expect(code).toBe(1); // ...but not with the checkpoint kept outside Kafka
    expect(summary.failures).toContainEqual(expect.stringMatching(ahead));
  });

  it('detects a stale log: the last checkpoint older than two intervals; a rebuild from it still completes', async () => {
    const topic = await copy(log);
    await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL_MS + 1_000));
    const { code, summary } = await verifyAsOutsider(topic, keyFile);
    expect(code).toBe(1);
    expect(summary.failures).toEqual([expect.stringMatching(/older than two intervals/)]);
    expect((await verifyAsOutsider(auditor.topic, keyFile)).summary).toMatchObject({ ok: true }); // the live log keeps signing

    // Stale is reported, but a rebuild still completes: an auditor that lost its database (and so
    // stopped signing) must be able to restart from the log.
    const lost = await new PrivateAuditDatabase().create();
    try {
      const { code, summary: rebuilt } = await verifyAsOutsider(topic, keyFile, lost.env(), '--rebuild');
      expect(code).toBe(1);
      expect(rebuilt).toMatchObject({ ok: false, failures: [expect.stringMatching(/older than two intervals/)] });
      const state = await lost.open();
      expect((await state.pool.query(`SELECT 1 FROM state WHERE name = 'initialized'`)).rowCount).toBe(1);
      const { rows } = await state.pool.query('SELECT number FROM checkpoint_state');
      expect(Number(rows[0].number)).toBe(log.filter(isCheckpoint).at(-1)!.message.number);
    } finally {
      await lost.drop();
    }
  });

  it('detects a forged checkpoint: signed by another key, or a real one altered', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const last = log.filter(isCheckpoint).at(-1)!;
    const { keyId: _keyId, signature: _signature, ...body } = last.message;
    const forged = signCheckpoint({ ...body, number: body.number + 1 }, { privateKey, keyId: auditKeyId(publicKey) });
    const withForged = await verifyAsOutsider(await copy([...log, { ...last, offset: '', message: forged }]), keyFile);
    expect(withForged.code).toBe(1);
    expect(withForged.summary.firstBreak).toMatchObject({ chain: 'checkpoint', reason: expect.stringMatching(/unknown key/) });

    const altered = { ...last.message, issuedAt: new Date(Date.now() + 3_600_000).toISOString() };
    const withAltered = await verifyAsOutsider(
      await copy(log.map((entry) => (entry === last ? { ...entry, message: altered } : entry))),
      keyFile,
    );
    expect(withAltered.summary.firstBreak).toMatchObject({
      chain: 'checkpoint',
      reason: expect.stringMatching(/signature does not verify/),
    });
  });
});

describe('audit checkpoints: upgrading a log written with HMAC links', () => {
  it('the new auditor appends after a signed transition checkpoint; old records verify with the old key, the rest with the public key alone', async () => {
    const identity = await TestIdentity.create();
    const auditor = new CheckpointingAuditor(19462, 19463, identity);
    const publisher = kafka.producer();
    try {
      // What the previous auditor left: HMAC-linked chains on its topic, and their heads in its Redis
      // (the layout before PostgreSQL): the new auditor moves that state at start-up, then continues.
      const chains = [0, 1].map((partition) => `${Topics.leaseIssued}:${partition}`);
      const legacy: AuditRecord[] = [];
      await auditor.start(async () => {
        await withAdmin((admin) =>
          admin.createTopics({
            topics: [
              {
                topic: auditor.topic,
                numPartitions: 6,
                replicationFactor: 1,
                configEntries: [
                  { name: 'retention.ms', value: '-1' },
                  { name: 'retention.bytes', value: '-1' },
                ],
              },
            ],
            waitForLeaders: true,
          }),
        );
        const redis = redisFromEnv(auditor.redis.url);
        const producer = kafka.producer();
        await producer.connect();
        try {
          for (const chain of chains) {
            let head: AuditRecord | undefined;
            for (let seq = 0; seq < 3; seq++) {
              const eventId = randomUUID();
              head = sealLegacyRecord(auditor.auditKey, {
                seq,
                chain,
                sourceTopic: Topics.leaseIssued,
                sourcePartition: Number(chain.split(':')[1]),
                sourceOffset: String(seq),
                eventId,
                eventType: Topics.leaseIssued,
                known: true,
                recordedAt: new Date().toISOString(),
                event: { id: eventId, type: Topics.leaseIssued },
                prev: head?.hash ?? GENESIS,
              });
              legacy.push(head);
              await producer.send({ topic: auditor.topic, messages: [{ key: chain, value: JSON.stringify(head) }] });
            }
            await redis.hset(`{auditor:views}:chain:${chain}`, { seq: head!.seq, hash: head!.hash, sourceOffset: head!.sourceOffset });
          }
          await redis.set('{auditor:views}:state', new Date().toISOString());
        } finally {
          await producer.disconnect();
          redis.disconnect();
        }
      });

      // New events on the same source partitions: the new auditor continues those chains.
      await publisher.connect();
      const events = [0, 1, 0, 1].map(() => leaseIssuedEvent(randomUUID()));
      for (const [index, event] of events.entries())
        await publisher.send({
          topic: Topics.leaseIssued,
          messages: [{ partition: index % 2, key: event.subject, value: JSON.stringify(event), headers: { 'ce-id': event.id } }],
        });
      const log = await auditor.anchored(new Set([...legacy.map((record) => record.eventId), ...events.map((event) => event.id)]));
      // (Other suites' events on the shared topics are audited too: the chains go on past our own.)
      for (const chain of chains) {
        const legacyHead = legacy.filter((record) => record.chain === chain).at(-1)!;
        const next = log.find((entry) => !isCheckpoint(entry) && recordOf(entry).chain === chain && recordOf(entry).seq === 3);
        expect(next?.message).toMatchObject({ link: 'sha256', prev: legacyHead.hash });
      }
      // The move left nothing of the auditor in Redis, and the database holds the continued heads.
      const oldRedis = redisFromEnv(auditor.redis.url);
      expect(await oldRedis.keys('*auditor*')).toEqual([]);
      oldRedis.disconnect();
      const moved = await auditor.db.open();
      const { rows: heads } = await moved.pool.query('SELECT chain, seq FROM chains WHERE chain = ANY($1) ORDER BY chain', [chains]);
      expect(heads.every((head: { seq: string }) => Number(head.seq) >= 3)).toBe(true);
      expect(heads).toHaveLength(2);
      const transition = log.find(isCheckpoint)!.message;
      expect(transition.heads).toEqual(expect.arrayContaining(chains.map((chain) => expect.objectContaining({ chain, seq: 2 }))));

      const keyFile = join(mkdtempSync(join(tmpdir(), 'rotor-audit-keys-')), 'keys.json');
      await runCli(['audit', 'keys', '--out', keyFile], { ROTOR_AUDITOR_URL: auditor.process.url });
      const publicOnly = await verifyAsOutsider(auditor.topic, keyFile);
      expect(publicOnly.summary).toMatchObject({ ok: true, legacyRecords: 6, legacyChecked: false });
      const withOldKey = await verifyAsOutsider(auditor.topic, keyFile, { ROTOR_AUDIT_KEY: auditor.auditKey });
      expect(withOldKey.summary).toMatchObject({ ok: true, legacyRecords: 6, legacyChecked: true });
      const wrongKey = await verifyAsOutsider(auditor.topic, keyFile, { ROTOR_AUDIT_KEY: randomBytes(32).toString('hex') });
      expect(wrongKey.summary).toMatchObject({ ok: false, firstBreak: { seq: 0, reason: expect.stringMatching(/HMAC/) } });
    } finally {
      await publisher.disconnect();
      await auditor.stop();
    }
  }, 240_000);
});
