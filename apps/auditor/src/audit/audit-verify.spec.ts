import { generateKeyPairSync } from 'node:crypto';

import type { Kafka } from 'kafkajs';

import { AuditKeyring, auditKeyId, GENESIS, sealRecord, signCheckpoint } from '@rotor/audit-chain';
import type { AuditCheckpoint, AuditRecord } from '@rotor/contracts';
import type { OperatorCaller } from '@rotor/identity';
import { AuditVerifyReportSchema } from '@rotor/rest-contract';
import type { PgAuditViews } from '@rotor/audit-store';
import type { DependencyGate } from '@rotor/service-kit';
import { Metrics } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';

import { AuditController } from './audit.controller';
import type { AuditSigningKeys } from './audit-signing-keys';
import type { CheckpointArchive } from './checkpoint-archive';
import { ChainVerificationService } from './chain-verification.service';

/** The audit topic, as the verification reads it (partition 0, in order). */
let topic: (AuditRecord | AuditCheckpoint | string)[] = [];
jest.mock('@rotor/kafka', () => ({
  readTopicRange: async (
    _kafka: unknown,
    { onMessage }: { onMessage: (message: { value: Buffer; offset: string }, partition: number) => void },
  ) => {
    topic.forEach((entry, offset) =>
      onMessage({ value: Buffer.from(typeof entry === 'string' ? entry : JSON.stringify(entry)), offset: String(offset) }, 0),
    );
    return {};
  },
}));

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signer = { privateKey, publicKey, keyId: auditKeyId(publicKey) };
const chain = (length: number): AuditRecord[] => {
  const records: AuditRecord[] = [];
  for (let seq = 0; seq < length; seq++)
    records.push(
      sealRecord({
        seq,
        chain: 'rotor.lease.issued.v1:0',
        sourceTopic: 'rotor.lease.issued.v1',
        sourcePartition: 0,
        sourceOffset: String(seq),
        eventId: `event-${seq}`,
        eventType: 'rotor.lease.issued.v1',
        known: true,
        recordedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
        event: { id: `event-${seq}`, data: { leaseId: `lease-${seq}` } },
        prev: records[seq - 1]?.hash ?? GENESIS,
      }),
    );
  return records;
};
const checkpointOver = (head: AuditRecord): AuditCheckpoint =>
  signCheckpoint(
    {
      kind: 'checkpoint',
      number: 1,
      issuedAt: new Date().toISOString(),
      intervalMs: 60_000,
      partitions: 1,
      heads: [{ chain: head.chain, seq: head.seq, hash: head.hash, partition: 0 }],
    },
    signer,
  );

const auditor: OperatorCaller = { kind: 'operator', subject: 'audrey', groups: ['rotor:auditor'] };
const controllerOver = (external: AuditCheckpoint | undefined, metrics = new Metrics('auditor')) =>
  new AuditController(
    { events: async () => ({ items: [], total: 0 }) } as unknown as PgAuditViews,
    new ChainVerificationService(
      {} as Kafka,
      { auditTopic: 'rotor.audit.log.v1' } as AuditorConfig,
      { keyring: new AuditKeyring([publicKey]) } as AuditSigningKeys,
      { latest: async () => external } as CheckpointArchive,
      { bounded: <T>(_dependency: string, work: Promise<T>) => work } as unknown as DependencyGate,
      metrics,
    ),
    { auditKey: 'audit-key-for-tests-0123456789abcdef' } as AuditorConfig,
  );
const wire = async (value: unknown): Promise<unknown> => JSON.parse(JSON.stringify(await value));

describe('GET /v1/audit/verify answers what rest-contract documents', () => {
  it('a sound log: counts, the last checkpoint and the one kept outside Kafka', async () => {
    const records = chain(3);
    const checkpoint = checkpointOver(records[2]!);
    topic = [...records, checkpoint];
    const body = (await wire(controllerOver(checkpoint).verify(auditor))) as { ok: boolean; checkpoints: object };
    expect(body).toMatchObject({
      ok: true,
      records: 3,
      chains: 1,
      checkpoints: { count: 1, last: { number: 1 }, external: { number: 1 } },
    });
    expect(AuditVerifyReportSchema.parse(body)).toEqual(body);
  });

  it('a broken log: the first break, the failures and an unreadable message', async () => {
    const records = chain(3);
    const tampered = { ...records[1]!, event: { id: 'event-1', data: { leaseId: 'someone-else' } } };
    topic = [records[0]!, tampered, records[2]!, 'not json'];
    const body = (await wire(controllerOver(undefined).verify(auditor))) as Record<string, unknown>;
    expect(body).toMatchObject({ ok: false, firstBreak: { partition: 0, offset: '1' }, firstUnreadable: { partition: 0, offset: '3' } });
    expect(body['failures']).toEqual([expect.any(String)]);
    expect(AuditVerifyReportSchema.parse(body)).toEqual(body);
  });
});

describe('rotor_audit_chain_broken', () => {
  const brokenSample = async (metrics: Metrics) =>
    /^rotor_audit_chain_broken\{rotor_service="auditor"\} (\S+)$/m.exec(await metrics.render())?.[1];

  it('has no sample before a verification, then follows the latest one: 1 on a break, 0 once sound', async () => {
    const metrics = new Metrics('auditor');
    const records = chain(3);
    const checkpoint = checkpointOver(records[2]!);
    const controller = controllerOver(checkpoint, metrics);
    expect(await brokenSample(metrics)).toBeUndefined();

    const tampered = { ...records[1]!, event: { id: 'event-1', data: { leaseId: 'someone-else' } } };
    topic = [records[0]!, tampered, records[2]!, checkpoint];
    expect((await controller.verify(auditor)).ok).toBe(false);
    expect(await brokenSample(metrics)).toBe('1');
    const text = await metrics.render();
    expect(Number(/^rotor_audit_chain_verified_timestamp_seconds\{rotor_service="auditor"\} (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(
      Date.now() / 1000 - 60,
    );

    topic = [...records, checkpoint];
    expect((await controller.verify(auditor)).ok).toBe(true);
    expect(await brokenSample(metrics)).toBe('0');
  });
});
