import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type Admin } from 'kafkajs';

import { sealRecord } from '@rotor/audit-chain';
import { derivedRowDifferences, derivedRows, type AuditDatabase } from '@rotor/audit-store';
import { createEvent, Topics, type AuditRecord, type DeadLetter } from '@rotor/contracts';
import { EventPublisher, readTopicRange } from '@rotor/kafka';

import { eventually } from '../support/eventually';
import { startGroupAtEnd } from '../support/kafka-groups';
import { PrivateAuditDatabase } from '../support/private-audit-database';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { TcpSwitch } from '../support/tcp-switch';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { leaseIssuedEvent } from '../support/lease-events';
import { readRotorTopicsSince } from '../support/topic-tap';
import { kafkaFromEnv } from '../../tools/security/env-clients';
import { principalEnv } from '../support/principals';

const ROOT = join(__dirname, '..', '..');
const brokers = requiredEnv('KAFKA_BROKERS').split(',');
const kafka = kafkaFromEnv('rotor-test-auditor');

const CATALOG = `
roles:
  - name: db
    owner: team-pay
    backend: { kind: opaque-token }
    bindings: [{ namespace: payments, serviceAccount: api }]
    ttl: 5m
    maxTtl: 1h
managedSecrets:
  - name: pay-key
    owner: team-pay
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 30d
    gracePeriod: 1h
    bindings: [{ namespace: payments, serviceAccount: "*" }]
`;

/**
 * Each auditor under test writes its own audit topic, with its own consumer group and a private
 * database, so its chains never interleave with the shared audit log other suites verify. Its group
 * starts at the current end of every rotor topic: it audits only what the test publishes.
 */
class IsolatedAuditor {
  readonly topic = `rotor.audit.test-${randomUUID().slice(0, 8)}.v1`;
  readonly group = `rotor-auditor-test-${randomUUID().slice(0, 8)}`;
  readonly auditKey = randomBytes(32).toString('hex');
  readonly db = new PrivateAuditDatabase();
  process!: ServiceProcess;
  private views?: AuditDatabase;
  private urlFile?: string;

  /** `throughPort`: the auditor reaches its database through a proxy on this local port (a TcpSwitch). */
  constructor(
    readonly port: number,
    private readonly identity: TestIdentity,
    private readonly throughPort?: number,
  ) {}

  get env(): Record<string, string> {
    return {
      ...this.identity.env,
      ...this.db.env(),
      ...(this.urlFile ? { ROTOR_AUDIT_DATABASE_URL_FILE: this.urlFile } : {}),
      ROTOR_AUDIT_TOPIC: this.topic,
      ROTOR_AUDITOR_GROUP: this.group,
      ROTOR_AUDIT_KEY: this.auditKey,
      ROTOR_CATALOG: writeTempCatalog(CATALOG),
      LOG_LEVEL: 'info',
    };
  }

  async start(): Promise<this> {
    await ensurePortFree(this.port);
    await this.db.create();
    if (this.throughPort) {
      const url = new URL(this.db.url);
      url.port = String(this.throughPort);
      this.urlFile = join(mkdtempSync(join(tmpdir(), 'rotor-audit-db-')), 'audit-database.url');
      writeFileSync(this.urlFile, `${url.toString()}\n`, { mode: 0o600 });
    }
    await startGroupAtEnd(kafka, this.group);
    this.process = new ServiceProcess('auditor', this.port, this.env);
    await this.process.start().ready();
    return this;
  }

  async stop(): Promise<void> {
    await this.process?.stop();
    await this.db.drop();
    await withAdmin(async (admin) => {
      await admin.deleteGroups([this.group]).catch(() => undefined);
      await admin.deleteTopics({ topics: [this.topic] }).catch(() => undefined);
    });
  }

  /** The auditor's database, as the test reads it (the live schema). */
  async database(): Promise<AuditDatabase> {
    this.views ??= await this.db.open();
    return this.views;
  }

  async recordCount(): Promise<number> {
    return Number((await (await this.database()).pool.query<{ n: string }>('SELECT count(*) AS n FROM records')).rows[0]!.n);
  }

  /** `rotor audit …` against this auditor's topic and database, as an operator would run it. */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return runCli(args, {
      KAFKA_BROKERS: brokers.join(','),
      ...this.db.env(),
      ROTOR_AUDIT_TOPIC: this.topic,
      ROTOR_AUDIT_KEY: this.auditKey,
    });
  }

  async replay(...args: string[]): Promise<ReplaySummary & { records: AuditRecord[] }> {
    const out = join(mkdtempSync(join(tmpdir(), 'rotor-audit-out-')), 'audit.jsonl');
    const { code, stdout, stderr } = await this.cli('audit', 'replay', '--json', '--out', out, ...args);
    if (code !== 0 && code !== 2) throw new Error(`rotor audit replay failed (${code}): ${stderr}`);
    const records = readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditRecord);
    return { ...(JSON.parse(stdout) as ReplaySummary), records };
  }
}

interface ReplaySummary {
  read: number;
  duplicatesSkipped: number;
  verify?: { ok: boolean; records: number; firstBreak?: { partition: number; offset: string; seq: number; reason: string } };
  rebuild?: { complete: boolean; recordsApplied: number };
}

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'apps', 'cli', 'src', 'main.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, ...principalEnv('cli'), ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
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

const issued = leaseIssuedEvent;

const auditedIds = (records: AuditRecord[]) => records.map((record) => record.eventId);

/** Per chain, the seqs must run 0, 1, 2… with nothing missing and nothing twice. */
const gapsAndRepeats = (records: AuditRecord[]) => {
  const byChain = new Map<string, number[]>();
  for (const record of records) byChain.set(record.chain, [...(byChain.get(record.chain) ?? []), record.seq]);
  return [...byChain].filter(([, seqs]) => seqs.some((seq, index) => seq !== index)).map(([chain, seqs]) => `${chain}: ${seqs.join(',')}`);
};

describe('auditor: the chained audit log', () => {
  const publisher = new EventPublisher(kafka);
  let identity: TestIdentity;

  beforeAll(async () => {
    identity = await TestIdentity.create();
    await publisher.connect();
  });

  afterAll(() => publisher.disconnect());

  it('records each event once, records unknown types, dead-letters malformed ones, hashes sensitive identifiers, and verifies', async () => {
    const auditor = new IsolatedAuditor(19401, identity);
    const started = new Date();
    try {
      await auditor.start();
      const leaseId = randomUUID();
      const event = issued(leaseId, { podName: 'api-7f9c-secretive-host' });
      await publisher.publish(event);
      await publisher.publish(event); // redelivered: the same event id again
      const operatorRead = createEvent({
        topic: Topics.access,
        source: '/rotor/test',
        subject: 'pay-key',
        data: {
          actor: { kind: 'operator', subject: 'alice@example.com', groups: ['rotor:sre'] },
          action: 'read-secret',
          secret: 'pay-key',
          version: 1,
          at: new Date().toISOString(),
        },
      });
      await publisher.publish(operatorRead);
      const unknown = { ...issued(randomUUID()), id: randomUUID(), type: 'rotor.lease.issued.v9', data: { something: 'new' } };
      const malformedId = randomUUID();
      await publisher.send([
        { topic: Topics.leaseIssued, key: 'x', value: JSON.stringify(unknown), headers: { 'ce-id': unknown.id } },
        {
          topic: Topics.leaseIssued,
          key: 'x',
          value: JSON.stringify({ ...issued(randomUUID()), id: malformedId, data: { leaseId: 'not-a-uuid' } }),
          headers: { 'ce-id': malformedId },
        },
      ]);
      const after = issued(randomUUID());
      await publisher.publish(after, { key: 'x' }); // behind the malformed one on the same partition

      const { records, verify } = await eventually(
        async () => {
          const summary = await auditor.replay('--verify');
          return auditedIds(summary.records).includes(after.id) ? summary : undefined;
        },
        { what: 'the event behind the malformed one to be audited', timeoutMs: 30_000, intervalMs: 1_000 },
      );
      expect(verify).toMatchObject({ ok: true });
      expect(auditedIds(records).sort()).toEqual([event.id, operatorRead.id, unknown.id, after.id].sort());
      expect(records.find((record) => record.eventId === unknown.id)).toMatchObject({ known: false, eventType: 'rotor.lease.issued.v9' });
      const raw = JSON.stringify(records);
      expect(raw).not.toContain('alice@example.com');
      expect(raw).not.toContain('api-7f9c-secretive-host');

      const deadLetters = (await readRotorTopicsSince(started))
        .filter((m) => m.topic === Topics.deadLetter)
        .map((m) => JSON.parse(m.value) as DeadLetter);
      expect(deadLetters.find((letter) => letter.consumerGroup === auditor.group)).toMatchObject({
        sourceTopic: Topics.leaseIssued,
        reason: expect.stringContaining('data.leaseId'),
      });

      // The API finds events by the values an auditor knows: the lease, the operator (by its keyed hash).
      const token = await identity.operatorToken('auditor@example.com', ['rotor:auditor']);
      const query = async (q: string) => {
        const response = await fetch(`${auditor.process.url}/v1/audit/events?${q}`, { headers: { authorization: `Bearer ${token}` } });
        expect(response.status).toBe(200);
        return ((await response.json()) as { items: AuditRecord[] }).items.map((item) => item.eventId);
      };
      expect(await query(`lease=${leaseId}`)).toEqual([event.id]);
      expect(await query('actor=alice@example.com')).toEqual([operatorRead.id]);
      expect(await query('actor=mallory@example.com')).toEqual([]);
      const sre = await identity.operatorToken('sre@example.com', ['rotor:sre']);
      expect((await fetch(`${auditor.process.url}/v1/audit/events`, { headers: { authorization: `Bearer ${sre}` } })).status).toBe(403);
    } finally {
      await auditor.stop();
    }
  }, 90_000);

  it('after a SIGKILL while appending, the restarted auditor finishes the chains with no gap and no event twice', async () => {
    const auditor = new IsolatedAuditor(19402, identity);
    try {
      await auditor.start();
      const events = Array.from({ length: 600 }, () => issued(randomUUID()));
      const sending = (async () => {
        for (let i = 0; i < events.length; i += 50) await Promise.all(events.slice(i, i + 50).map((event) => publisher.publish(event)));
      })();
      await eventually(async () => ((await auditor.recordCount()) >= 100 ? true : undefined), {
        what: '100 records appended',
        intervalMs: 20,
      });
      await auditor.process.kill();
      await sending;
      await auditor.process.start().ready();

      const summary = await eventually(
        async () => {
          const replay = await auditor.replay('--verify');
          const audited = new Set(auditedIds(replay.records));
          return events.every((event) => audited.has(event.id)) ? replay : undefined;
        },
        { what: 'every event audited after the restart', timeoutMs: 60_000, intervalMs: 2_000 },
      );
      expect(summary.verify).toMatchObject({ ok: true });
      // No event twice in the chains (other suites' events on the shared topics are audited too).
      const ours = new Set(events.map((event) => event.id));
      expect(auditedIds(summary.records).filter((id) => ours.has(id))).toHaveLength(events.length);
      expect(gapsAndRepeats(summary.records)).toEqual([]);
    } finally {
      await auditor.stop();
    }
  }, 120_000);

  it('fails closed while its database is unreachable: /readyz says why, nothing is committed, and it catches up once healed', async () => {
    const auditor = new IsolatedAuditor(19403, identity, 19414);
    const postgres = new URL(auditor.db.url);
    const databaseSwitch = await new TcpSwitch({ host: postgres.hostname, port: Number(postgres.port || 5432) }, 19414).start();
    try {
      await auditor.start();
      const committed = () => withAdmin((admin) => admin.fetchOffsets({ groupId: auditor.group, topics: [Topics.leaseIssued] }));
      const before = JSON.stringify(await committed());
      databaseSwitch.cut();
      const events = Array.from({ length: 20 }, () => issued(randomUUID()));
      await Promise.all(events.map((event) => publisher.publish(event)));

      const readiness = await eventually(
        async () => {
          const response = await fetch(`${auditor.process.url}/readyz`);
          const body = (await response.json()) as { checks: Record<string, { ok: boolean; detail?: string }> };
          return response.status === 503 && body.checks['audit-append']?.ok === false ? body : undefined;
        },
        { what: '/readyz to report the failing append', timeoutMs: 30_000 },
      );
      expect(readiness.checks['audit-append']?.detail).toMatch(/cannot append for \d+s, input not committed/);
      const lag = await (await fetch(`${auditor.process.url}/metrics`)).text();
      expect(lag).toMatch(/rotor_audit_append_failing\{rotor_service="auditor"\} 1/);
      expect(Number(/rotor_audit_lag_messages\{rotor_service="auditor"\} (\d+)/.exec(lag)?.[1])).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 2_000)); // past several auto-commit intervals
      expect(JSON.stringify(await committed())).toBe(before);

      databaseSwitch.heal();
      await auditor.process.ready(60_000);
      const summary = await eventually(
        async () => {
          const replay = await auditor.replay('--verify');
          // Every one of ours (other suites' events on the shared topics are audited too).
          const audited = new Set(auditedIds(replay.records));
          return events.every((event) => audited.has(event.id)) ? replay : undefined;
        },
        { what: 'the auditor to catch up', timeoutMs: 60_000, intervalMs: 1_000 },
      );
      expect(summary.verify).toMatchObject({ ok: true });
      expect(gapsAndRepeats(summary.records)).toEqual([]);
      await eventually(
        async () =>
          /rotor_audit_lag_messages\{rotor_service="auditor"\} 0\b/.test(await (await fetch(`${auditor.process.url}/metrics`)).text())
            ? true
            : undefined,
        {
          what: 'audit lag back to 0',
        },
      );
    } finally {
      await auditor.stop();
      await databaseSwitch.stop();
    }
  }, 120_000);

  it("reports a tampered record at its partition and offset: a rewritten record in a copy of the log; a record forged onto a chain stays unanchored until the auditor's next record exposes the fork", async () => {
    const auditor = new IsolatedAuditor(19404, identity);
    const copyTopic = `${auditor.topic}-tampered`;
    try {
      await auditor.start();
      const events = Array.from({ length: 40 }, () => issued(randomUUID()));
      await Promise.all(events.map((event) => publisher.publish(event)));
      await eventually(async () => ((await auditor.replay()).records.length === events.length ? true : undefined), {
        what: 'all events audited',
        intervalMs: 500,
      });

      // 1. An attacker who can rewrite the log (a copy of it here, since Kafka is append-only)
      //    changes what one record says. Every other message, checkpoints included, is copied to the same partition and offset.
      const original: { partition: number; offset: string; key: string; value: string }[] = [];
      await withAdmin(async (admin) => {
        await admin.createTopics({ topics: [{ topic: copyTopic, numPartitions: 6, replicationFactor: 1 }], waitForLeaders: true });
      });
      await readTopicRange(kafka, {
        topic: auditor.topic,
        onMessage: (message, partition) =>
          void original.push({ partition, offset: message.offset, key: message.key!.toString(), value: message.value!.toString() }),
      });
      original.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
      const records = original.filter((message) => message.key !== 'checkpoint');
      expect(records).toHaveLength(events.length);
      const victim = records[17]!;
      const producer = kafka.producer();
      await producer.connect();
      for (const message of original) {
        const value =
          message === victim
            ? (() => {
                const record = JSON.parse(message.value) as AuditRecord;
                return JSON.stringify({ ...record, event: { ...record.event, subject: 'someone-else' } });
              })()
            : message.value;
        await producer.send({ topic: copyTopic, messages: [{ partition: message.partition, key: message.key, value }] });
      }
      await producer.disconnect();
      const rewritten = await runCli(['audit', 'replay', '--verify', '--json'], {
        KAFKA_BROKERS: brokers.join(','),
        ROTOR_AUDIT_TOPIC: copyTopic,
      });
      expect(rewritten.code).toBe(1);
      expect((JSON.parse(rewritten.stdout) as ReplaySummary).verify?.firstBreak).toMatchObject({
        partition: victim.partition,
        offset: victim.offset,
        reason: expect.stringMatching(/hash/),
      });

      // 2. An attacker with produce rights but without the signing key appends a record that continues
      //    a chain, its hash recomputed: no checkpoint vouches for it, and the auditor's real next record forks from it.
      const last = JSON.parse(records.filter((m) => m.partition === victim.partition).at(-1)!.value) as AuditRecord;
      const { hash: _hash, link: _link, ...lastFields } = last;
      const forged = sealRecord({
        ...lastFields,
        seq: last.seq + 1,
        prev: last.hash,
        eventId: randomUUID(),
        sourceOffset: String(Number(last.sourceOffset) + 1),
      });
      const forger = kafka.producer();
      await forger.connect();
      const [written] = await forger.send({
        topic: auditor.topic,
        messages: [{ partition: victim.partition, key: forged.chain, value: JSON.stringify(forged) }],
      });
      const token = await identity.operatorToken('auditor@example.com', ['rotor:auditor']);
      const verify = async () =>
        (await (
          await fetch(`${auditor.process.url}/v1/audit/verify`, { headers: { authorization: `Bearer ${token}` } })
        ).json()) as NonNullable<ReplaySummary['verify']> & { checkpoints: { unanchoredTail: number } };
      const unanchored = await verify();
      expect(unanchored).toMatchObject({ ok: true });
      expect(unanchored.checkpoints.unanchoredTail).toBeGreaterThanOrEqual(1);

      const genuine = issued(randomUUID());
      await forger.send({
        topic: last.sourceTopic,
        messages: [
          { partition: last.sourcePartition, key: genuine.subject, value: JSON.stringify(genuine), headers: { 'ce-id': genuine.id } },
        ],
      });
      await forger.disconnect();
      const exposed = await eventually(
        async () => {
          const result = await verify();
          return result.ok ? undefined : result;
        },
        { what: "the fork to show once the auditor appends the chain's next record" },
      );
      expect(exposed.firstBreak).toMatchObject({ partition: victim.partition, seq: forged.seq, reason: expect.stringMatching(/fork/) });
      expect(Number(exposed.firstBreak!.offset)).toBeGreaterThan(Number(written!.baseOffset));
    } finally {
      await withAdmin((admin) => admin.deleteTopics({ topics: [copyTopic] }).catch(() => undefined));
      await auditor.stop();
    }
  }, 120_000);
});

/** The database loses the auditor's state (as a restore of an empty or wrong backup would): every table emptied. */
async function wipe(db: AuditDatabase): Promise<void> {
  await db.pool.query('TRUNCATE state, chains, checkpoint_state, locks, seen, records, record_keys, entities, members');
  await db.pool.query('INSERT INTO checkpoint_state DEFAULT VALUES');
}

describe('auditor: inventory views built from the audit log', () => {
  const publisher = new EventPublisher(kafka);
  let identity: TestIdentity;

  beforeAll(async () => {
    identity = await TestIdentity.create();
    await publisher.connect();
  });

  afterAll(() => publisher.disconnect());

  it('answers inventory questions, and after its database is wiped refuses to restart the chains until --rebuild restores views equal to the live ones', async () => {
    const auditor = new IsolatedAuditor(19405, identity);
    try {
      await auditor.start();
      const base = Date.now() - 3_600_000;
      const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();
      const lease = (leaseId: string) => ({
        leaseId,
        role: 'db',
        owner: 'team-pay',
        backend: 'opaque-token' as const,
        workload: { namespace: 'payments', serviceAccount: 'api', podName: 'api-1' },
      });
      const [kept, revoked] = [randomUUID(), randomUUID()];
      const target = { kind: 'kubernetes-secret' as const, name: 'payments' };
      const gsm = (v: number) => `projects/p/secrets/pay-key/versions/${v}`;
      const history = [
        createEvent({
          topic: Topics.secretVersionCreated,
          source: '/t',
          subject: 'pay-key',
          data: { secret: 'pay-key', owner: 'team-pay', version: 1, gsmVersion: gsm(1), reason: 'initial', createdAt: at(0) },
        }),
        createEvent({
          topic: Topics.deliveryCompleted,
          source: '/t',
          subject: 'pay-key',
          data: { secret: 'pay-key', version: 1, target, locator: 'payments/pay-key', contentHash: 'a'.repeat(64), deliveredAt: at(1) },
        }),
        createEvent({
          topic: Topics.leaseIssued,
          source: '/t',
          subject: kept,
          data: {
            ...lease(kept),
            issuedAt: at(2),
            expiresAt: new Date(Date.now() + 600_000).toISOString(),
            maxExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
            revocationHandle: { backend: 'opaque-token' },
          },
        }),
        createEvent({
          topic: Topics.leaseIssued,
          source: '/t',
          subject: revoked,
          data: {
            ...lease(revoked),
            issuedAt: at(3),
            expiresAt: at(30),
            maxExpiresAt: at(60),
            revocationHandle: { backend: 'opaque-token' },
          },
        }),
        createEvent({
          topic: Topics.leaseRevoked,
          source: '/t',
          subject: revoked,
          data: { ...lease(revoked), reason: 'requested', revokedAt: at(5) },
        }),
        createEvent({
          topic: Topics.secretVersionCreated,
          source: '/t',
          subject: 'pay-key',
          data: {
            secret: 'pay-key',
            owner: 'team-pay',
            version: 2,
            gsmVersion: gsm(2),
            previousVersion: 1,
            reason: 'scheduled',
            createdAt: at(10),
          },
        }),
        createEvent({
          topic: Topics.deliveryCompleted,
          source: '/t',
          subject: 'pay-key',
          data: { secret: 'pay-key', version: 2, target, locator: 'payments/pay-key', contentHash: 'b'.repeat(64), deliveredAt: at(11) },
        }),
        createEvent({
          topic: Topics.deliveryRemoved,
          source: '/t',
          subject: 'pay-key',
          data: { secret: 'pay-key', version: 1, target, locator: 'payments/pay-key', reason: 'superseded', removedAt: at(11) },
        }),
        createEvent({
          topic: Topics.secretVersionRetired,
          source: '/t',
          subject: 'pay-key',
          data: { secret: 'pay-key', version: 1, gsmVersion: gsm(1), reason: 'superseded', retiredAt: at(20) },
        }),
        createEvent({
          topic: Topics.copyDiscovered,
          source: '/t',
          subject: 'pay-key',
          data: {
            secret: 'pay-key',
            version: 2,
            location: { kind: 'kubernetes-configmap', namespace: 'payments', name: 'legacy-config', key: 'API_KEY' },
            reportedBy: { kind: 'service', service: 'distributor' },
            scanner: 'cluster-scan',
            discoveredAt: at(25),
          },
        }),
      ];
      for (const event of history) await publisher.publish(event);
      const token = await identity.operatorToken('auditor@example.com', ['rotor:auditor']);
      const get = async <T>(path: string): Promise<T> => {
        const response = await fetch(`${auditor.process.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
        expect(response.status).toBe(200);
        return (await response.json()) as T;
      };
      await eventually(async () => ((await get<{ total: number }>('/v1/audit/events')).total === history.length ? true : undefined), {
        what: 'the history audited',
      });

      type Secret = {
        currentVersion: number;
        versions: { version: number; state: string }[];
        copies: { version: number; state: string; origin: string; locator: string }[];
        boundReaders: unknown[];
      };
      const secret = await get<Secret>('/v1/inventory/secrets/pay-key');
      expect(secret.currentVersion).toBe(2);
      expect(secret.versions.map((v) => [v.version, v.state])).toEqual([
        [1, 'retired'],
        [2, 'current'],
      ]);
      expect(secret.copies.map((c) => [c.version, c.origin, c.state, c.locator]).sort()).toEqual([
        [1, 'delivery', 'removed', 'payments/pay-key'],
        [2, 'delivery', 'delivered', 'payments/pay-key'],
        [2, 'discovered', 'discovered', 'namespace=payments,name=legacy-config,key=API_KEY'],
      ]);
      expect(secret.boundReaders).toEqual([{ namespace: 'payments', serviceAccount: '*' }]);

      const workload = await get<{
        leases: { leaseId: string; state: string; workload: { podName: string } }[];
        secrets: unknown[];
        roles: unknown[];
      }>('/v1/inventory/workloads/payments/api');
      expect(workload.leases.map((l) => [l.leaseId, l.state])).toEqual([[kept, 'active']]);
      expect(workload.leases[0]!.workload.podName).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
      expect(workload.secrets).toEqual([{ secret: 'pay-key', owner: 'team-pay', currentVersion: 2 }]);
      expect(workload.roles).toEqual([{ role: 'db', owner: 'team-pay', backend: 'opaque-token' }]);

      type At = { leases: { leaseId: string }[]; versions: { version: number; state: string }[]; copies: { version: number }[] };
      const early = await get<At>(`/v1/inventory/at?time=${encodeURIComponent(at(4))}`);
      expect(early.leases.map((l) => l.leaseId).sort()).toEqual([kept, revoked].sort());
      expect(early.versions.map((v) => [v.version, v.state])).toEqual([[1, 'current']]);
      expect(early.copies.map((c) => c.version)).toEqual([1]);
      const later = await get<At>(`/v1/inventory/at?time=${encodeURIComponent(at(12))}`);
      expect(later.leases.map((l) => l.leaseId)).toEqual([kept]);
      expect(later.versions.map((v) => [v.version, v.state])).toEqual([
        [1, 'previous'],
        [2, 'current'],
      ]);
      expect(later.copies.map((c) => c.version)).toEqual([2]);
      const bad = await fetch(`${auditor.process.url}/v1/inventory/at?time=yesterday`, { headers: { authorization: `Bearer ${token}` } });
      expect(bad.status).toBe(400);
      expect(bad.headers.get('content-type')).toMatch(/problem\+json/);

      // Leases by selector, a page at a time, for an auditor or an SRE; nobody else.
      const listLeases = async (query: string, bearer = token) => {
        const response = await fetch(`${auditor.process.url}/v1/inventory/leases?${query}`, {
          headers: { authorization: `Bearer ${bearer}` },
        });
        return {
          status: response.status,
          body: (await response.json()) as { items?: { leaseId: string; state: string }[]; next?: string; code?: string },
        };
      };
      const sre = await identity.operatorToken('sre@example.com', ['rotor:sre']);
      expect((await listLeases('namespace=payments&serviceAccount=api&state=active', sre)).body.items!.map((l) => l.leaseId)).toEqual([
        kept,
      ]);
      expect((await listLeases('namespace=payments&state=revoked')).body.items!.map((l) => [l.leaseId, l.state])).toEqual([
        [revoked, 'revoked'],
      ]);
      const first = await listLeases('namespace=payments&limit=1');
      expect(first.body.items).toHaveLength(1);
      const second = await listLeases(`namespace=payments&limit=1&after=${first.body.next!}`);
      expect(second.body.next).toBeUndefined();
      expect([...first.body.items!, ...second.body.items!].map((l) => l.leaseId).sort()).toEqual([kept, revoked].sort());
      expect((await listLeases('namespace=payments', await identity.operatorToken('dev@example.com', []))).status).toBe(403);
      expect(await listLeases('state=gone')).toMatchObject({ status: 400, body: { code: 'invalid-query' } });
      // The same pages from the CLI, as an SRE runs it.
      const cliEnv = { ROTOR_AUDITOR_URL: auditor.process.url, ROTOR_TOKEN: sre };
      const cliPage = await runCli(['leases', 'list', '--namespace', 'payments', '--limit', '1', '--output', 'json'], cliEnv);
      expect(cliPage.code).toBe(0);
      const cliFirst = JSON.parse(cliPage.stdout) as { items: { leaseId: string }[]; next?: string };
      expect({ items: cliFirst.items, next: cliFirst.next }).toEqual({ items: first.body.items, next: first.body.next });
      const cliTable = await runCli(['leases', 'list', '--namespace', 'payments', '--limit', '1', '--after', cliFirst.next!], cliEnv);
      expect(cliTable.stdout).toMatch(/^LEASE\s+ROLE\s+WORKLOAD\s+STATE\s+EXPIRES\s+OWNER\s+BACKEND\n/);
      expect(cliTable.stdout).toContain(second.body.items![0]!.leaseId);
      expect(cliTable.stderr).not.toContain('more:'); // the last page
      expect((await runCli(['leases', 'list', '--state', 'gone'], cliEnv)).code).toBe(2);

      // Wipe the database: --rebuild from the audit topic alone gives back exactly the live views.
      const db = await auditor.database();
      const live = await derivedRows(db.pool);
      // The secret's inventory is "now": its `at` moves, the rest must not.
      const answers = async () => [
        { ...(await get<object>('/v1/inventory/secrets/pay-key')), at: 'now' },
        await get(`/v1/inventory/at?time=${encodeURIComponent(at(12))}`),
        await get('/v1/audit/events'),
      ];
      const liveAnswers = await answers();
      expect(live.size).toBeGreaterThan(30);
      expect([...live.keys()].filter((row) => row.startsWith('records '))).toHaveLength(history.length);
      await wipe(db); // a private database for this auditor
      expect((await derivedRows(db.pool)).size).toBe(0);
      const rebuilt = await auditor.replay('--rebuild');
      expect(rebuilt.rebuild).toMatchObject({ complete: true, recordsApplied: history.length });
      expect(derivedRowDifferences(live, await derivedRows(db.pool))).toEqual([]);
      expect(await answers()).toEqual(liveAnswers);

      // Wiped again while events keep coming: the auditor does not restart its chains at seq 0; it waits for the rebuild.
      await wipe(db);
      // On the partition (so the chain) of an issue event already audited: the rebuilt head must continue it.
      const late = issued(randomUUID());
      await publisher.publish(late, { key: kept });
      const refused = await eventually(
        async () => {
          const response = await fetch(`${auditor.process.url}/readyz`);
          const body = (await response.json()) as { checks: Record<string, { ok: boolean; detail?: string }> };
          return response.status === 503 ? body.checks['audit-append']?.detail : undefined;
        },
        { what: 'the auditor to refuse to append' },
      );
      expect(refused).toMatch(/database state is missing but .* holds \d+ messages: run `rotor audit replay --rebuild`/);
      expect((await auditor.replay('--rebuild')).rebuild).toMatchObject({ complete: true, recordsApplied: history.length });
      await auditor.process.ready();
      const final = await eventually(
        async () => {
          const replay = await auditor.replay('--verify');
          return auditedIds(replay.records).includes(late.id) ? replay : undefined;
        },
        { what: 'the late event appended after the rebuild' },
      );
      expect(final.verify).toMatchObject({ ok: true, records: history.length + 1 });
      expect(gapsAndRepeats(final.records)).toEqual([]);
    } finally {
      await auditor.stop();
    }
  }, 120_000);
});
