import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigResourceTypes, type Admin } from 'kafkajs';

import { DAY_MS, ensureTopics, RETENTION_MARGIN_MS } from '@rotor/kafka';

import { PrivateAuditDatabase } from '../support/private-audit-database';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { kafkaFromEnv } from '../../tools/security/env-clients';
import { retentionForCatalog, setupTopics } from '../../tools/security/kafka-topics';

const kafka = kafkaFromEnv('rotor-test-retention');
/** What the local broker gives a topic created without settings (log.retention.hours=24). */
const BROKER_DEFAULT_RETENTION_MS = String(DAY_MS);

async function settingsOf(admin: Admin, topic: string): Promise<Record<string, string>> {
  const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] });
  return Object.fromEntries(described.resources[0]!.configEntries.map((entry) => [entry.configName, entry.configValue]));
}

/** A topic as rotor created them before: partitions only, retention left to the broker. */
async function createTheOldWay(admin: Admin, topic: string, configEntries: { name: string; value: string }[] = []): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries }], waitForLeaders: true });
}

describe('topic retention (real broker)', () => {
  const suffix = randomUUID().slice(0, 8);
  const domainTopic = `rotor.test-retention-${suffix}.v1`;
  const auditTopic = `rotor.audit.retention-${suffix}.v1`;
  const freshDomain = `rotor.test-retention-fresh-${suffix}.v1`;
  const freshAudit = `rotor.audit.retention-fresh-${suffix}.v1`;
  const refusedAudit = `rotor.audit.retention-refused-${suffix}.v1`;
  const catalogFile = writeTempCatalog(`
roles:
  - name: long-lived
    owner: team-a
    backend: { kind: opaque-token }
    bindings: [{ namespace: a, serviceAccount: worker }]
    ttl: 1h
    maxTtl: 10d
`);
  let admin: Admin;
  // The auditor's own database: booted on a shared one, it would append to the chains of the
  // worker's other auditors (another group, another audit topic) and leave them runs they cannot match.
  const db = new PrivateAuditDatabase();

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await db.create();
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: [domainTopic, auditTopic, freshDomain, freshAudit, refusedAudit] }).catch(() => undefined);
    await admin.disconnect();
    await db.drop();
  });

  it('needs the longest maxTtl of the catalog plus a margin, and never less than the default', () => {
    expect(retentionForCatalog(catalogFile)).toBe(10 * DAY_MS + RETENTION_MARGIN_MS);
    expect(retentionForCatalog(writeTempCatalog('roles: []\n'))).toBe(7 * DAY_MS);
  });

  it('creates new topics with explicit retention: the audit log never deletes, the others keep records for the required time', async () => {
    await ensureTopics(admin, [freshDomain, freshAudit], { partitions: 1, replicationFactor: 1, retentionMs: 11 * DAY_MS });
    expect(await settingsOf(admin, freshAudit)).toMatchObject({
      'retention.ms': '-1',
      'retention.bytes': '-1',
      'cleanup.policy': 'delete',
    });
    expect(await settingsOf(admin, freshDomain)).toMatchObject({ 'retention.ms': String(11 * DAY_MS), 'retention.bytes': '-1' });
  });

  it('kafka setup upgrades topics created with the broker default (24 h), keeping their other settings', async () => {
    await createTheOldWay(admin, domainTopic, [{ name: 'max.message.bytes', value: '2000000' }]);
    await createTheOldWay(admin, auditTopic);
    expect((await settingsOf(admin, auditTopic))['retention.ms']).toBe(BROKER_DEFAULT_RETENTION_MS);
    expect((await settingsOf(admin, domainTopic))['retention.ms']).toBe(BROKER_DEFAULT_RETENTION_MS);

    const retentionMs = retentionForCatalog(catalogFile);
    const result = await setupTopics(admin, { topics: [domainTopic, auditTopic], partitions: 1, replicationFactor: 1, retentionMs });

    expect(result.upgraded.sort()).toEqual([auditTopic, domainTopic].sort());
    expect(await settingsOf(admin, auditTopic)).toMatchObject({
      'retention.ms': '-1',
      'retention.bytes': '-1',
      'cleanup.policy': 'delete',
    });
    expect(await settingsOf(admin, domainTopic)).toMatchObject({
      'retention.ms': String(retentionMs),
      'retention.bytes': '-1',
      'max.message.bytes': '2000000',
    });
    // Idempotent: a second run changes nothing.
    expect(
      (await setupTopics(admin, { topics: [domainTopic, auditTopic], partitions: 1, replicationFactor: 1, retentionMs })).upgraded,
    ).toEqual([]);
  });

  const bootAuditor = async (port: number, auditTopic: string) => {
    await ensurePortFree(port);
    const identity = await TestIdentity.create();
    const signingKeyFile = join(mkdtempSync(join(tmpdir(), 'rotor-retention-')), 'audit-signing.pem');
    writeFileSync(signingKeyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    return new ServiceProcess('auditor', port, {
      ...identity.env,
      ...db.env(),
      ROTOR_CATALOG: catalogFile,
      ROTOR_AUDIT_TOPIC: auditTopic,
      ROTOR_AUDITOR_GROUP: `rotor-auditor-retention-${suffix}`,
      ROTOR_AUDIT_KEY: randomBytes(32).toString('hex'),
      ROTOR_AUDIT_SIGNING_KEY_FILE: signingKeyFile,
    }).start();
  };

  it('the auditor refuses to start, naming retention.ms, when its audit topic would delete records', async () => {
    await createTheOldWay(admin, refusedAudit);
    const auditor = await bootAuditor(19431, refusedAudit);
    try {
      const code = await auditor.exitCode(60_000);
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(auditor.logs).toContain(
        `${refusedAudit}: retention.ms is ${BROKER_DEFAULT_RETENTION_MS}, so audit records would be deleted; it must be -1`,
      );
    } finally {
      await auditor.kill();
    }
  });

  it('the auditor, as its own principal, checks and accepts an audit topic that never deletes', async () => {
    // freshAudit was created by ensureTopics above: retention.ms=-1.
    const auditor = await bootAuditor(19437, freshAudit);
    try {
      await auditor.live();
      expect(auditor.logs).not.toContain('would delete records');
    } finally {
      await auditor.kill();
    }
  });
});
