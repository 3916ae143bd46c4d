import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

import { GENESIS, sealRecord } from '@rotor/audit-chain';
import { Topics, type AuditRecord } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';

import { eventually } from '../support/eventually';
import { requiredEnv } from '../support/services-env';
import { createTestTopics, deleteTestTopics } from '../support/test-topics';
import { kafkaFromEnv } from '../../tools/security/env-clients';
import { principalEnv } from '../support/principals';

const ROOT = join(__dirname, '..', '..');
const brokers = requiredEnv('KAFKA_BROKERS');
const kafka = kafkaFromEnv('rotor-test-audit-tail');

const chainOf = (types: string[]): AuditRecord[] => {
  const records: AuditRecord[] = [];
  types.forEach((eventType, seq) =>
    records.push(
      sealRecord({
        seq,
        chain: `${Topics.access}:0`,
        sourceTopic: Topics.access,
        sourcePartition: 0,
        sourceOffset: String(seq),
        eventId: randomUUID(),
        eventType,
        known: true,
        recordedAt: new Date().toISOString(),
        event: { id: `event-${seq}`, type: eventType, subject: `subject-${seq}` },
        prev: records[seq - 1]?.hash ?? GENESIS,
      }),
    ),
  );
  return records;
};

describe('rotor audit tail (the CLI process, real Kafka)', () => {
  const topic = `rotor.audit.tail-test-${randomUUID().slice(0, 8)}.v1`;
  const publisher = new EventPublisher(kafka);

  beforeAll(async () => {
    await createTestTopics(kafka, [topic]);
    await publisher.connect();
  });

  afterAll(async () => {
    await publisher.disconnect();
    await deleteTestTopics(kafka, [topic]);
  });

  it('prints from an offset, then follows live; filters; skips a repeated run', async () => {
    const records = chainOf([Topics.access, Topics.leaseIssued, Topics.access, Topics.access, Topics.access]);
    const send = (batch: AuditRecord[]) =>
      publisher.send(batch.map((record) => ({ topic, key: record.chain, value: JSON.stringify(record) })));
    await send(records.slice(0, 3));

    const tail = spawn(
      process.execPath,
      [
        '-r',
        '@swc-node/register',
        join(ROOT, 'apps', 'cli', 'src', 'main.ts'),
        'audit',
        'tail',
        '--json',
        '--from',
        '0',
        '--filter',
        `type=${Topics.access}`,
      ],
      {
        cwd: ROOT,
        env: { ...process.env, ...principalEnv('cli'), KAFKA_BROKERS: brokers, ROTOR_AUDIT_TOPIC: topic },
      },
    );
    let stdout = '';
    tail.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const printed = () =>
      stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as AuditRecord).seq);
    try {
      await eventually(async () => (printed().length >= 2 ? true : undefined), {
        what: 'the records before the tail started',
        timeoutMs: 45_000,
      });
      await send([records[1]!, records[2]!, records[3]!]); // seq 1-2 appended again after a crash, then 3
      await send([records[4]!]);
      await eventually(async () => (printed().includes(4) ? true : undefined), { what: 'the live records', timeoutMs: 30_000 });
      expect(printed()).toEqual([0, 2, 3, 4]); // seq 1 is filtered out (another type); the repeat of 2 is not printed again
    } finally {
      tail.kill('SIGINT');
    }
  }, 90_000);
});
