import { Writable } from 'node:stream';

import type { Kafka } from 'kafkajs';

import { Topics } from '@rotor/contracts';
import type { EventPublisher } from '@rotor/kafka';
import type { ReadinessRegistry } from '@rotor/service-kit';
import { createLogger, type Metrics } from '@rotor/telemetry';

import { KafkaLifecycle } from './kafka.module';

/** An admin client whose topics all exist, with `retentionOf` as their settings. */
function fakeKafka(retentionOf: (topic: string) => string, described: string[][]): Kafka {
  const admin = {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    listTopics: () => Promise.resolve(Object.values(Topics)),
    fetchTopicOffsets: () => Promise.resolve([]),
    describeConfigs: ({ resources }: { resources: { name: string }[] }) => {
      described.push(resources.map((resource) => resource.name));
      return Promise.resolve({
        resources: resources.map(({ name }) => ({
          resourceName: name,
          errorCode: 0,
          errorMessage: '',
          configEntries: [
            { configName: 'retention.ms', configValue: retentionOf(name) },
            { configName: 'retention.bytes', configValue: '-1' },
            { configName: 'cleanup.policy', configValue: 'delete' },
          ],
        })),
      });
    },
  };
  return { admin: () => admin } as unknown as Kafka;
}

describe('KafkaLifecycle start-up retention check', () => {
  it('warns, naming the topic and retention.ms, when a topic the service writes keeps records only a day; checks only topics it writes', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      service: 'test',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    });
    const described: string[][] = [];
    const kafka = fakeKafka((topic) => (topic === Topics.leaseIssued ? '86400000' : '-1'), described);
    const lifecycle = new KafkaLifecycle(
      kafka,
      { service: 'issuer', brokers: [], clientId: 'test', partitions: 1, replicationFactor: 1 },
      { connect: () => Promise.resolve() } as unknown as EventPublisher,
      logger,
      {} as Metrics,
      { register: () => undefined } as unknown as ReadinessRegistry,
    );
    await lifecycle.onModuleInit();

    const warnings = lines.filter((line) => line.includes('topic retention is below what rotor needs'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${Topics.leaseIssued}: retention.ms is 86400000`);
    // The issuer reads rotor.lease.revoked.v1 but does not write it: no DESCRIBE_CONFIGS there.
    expect(described.flat()).not.toContain(Topics.leaseRevoked);
    expect(described.flat()).toContain(Topics.leaseIssued);
  });
});
