import { parseCatalog } from '@rotor/catalog';
import { Topics } from '@rotor/contracts';
import type { KafkaLifecycle } from '@rotor/nest-kafka';

import { RetirementEvents } from '../retirement/retirement-events';
import type { RetirementStore } from '../retirement/retirement.store';
import type { RetirementService } from '../retirement/retirement.service';
import type { SecretReferences } from '../retirement/secret-references';
import { SecretEventsConsumer } from '../retirement/secret-events.consumer';
import { RevocationEvents } from '../revocation/revocation-events';

import type { EmergencyCounters } from './emergency-counters';
import type { EmergencyStore } from './emergency.store';
import { EmergencyTracker } from './emergency-tracker';

const catalog = parseCatalog(`
managedSecrets:
  - name: payments-key
    owner: team-payments
    generator: { kind: random-bytes }
    rotationPeriod: 1h
    gracePeriod: 5m
    targets:
      - { kind: kubernetes-secret, name: k8s, namespace: payments, secretName: key }
      - { kind: kubernetes-secret, name: k8s-dr, namespace: payments-dr, secretName: key }
`);

const at = '2026-01-01T00:00:00.000Z';
const gsmVersion = (version: number) => `projects/p/secrets/payments-key/versions/${version}`;

/**
 * The revoker's secret-events consumer wired as the module wires it: the real consumer,
 * notifier and tracker, with Kafka, Redis and retirement's effects replaced by recorders.
 */
const wire = (mode: 'immediate' | 'graceful') => {
  const handlers = new Map<string, (event: { data: unknown }, context: unknown) => Promise<void>>();
  const runner = {
    subscribe(subscription: { topics: string[]; handle: (event: { data: unknown }, context: unknown) => Promise<void> }) {
      for (const topic of subscription.topics) handlers.set(topic, subscription.handle);
      return runner;
    },
  };
  const kafka = { consumer: () => runner } as unknown as KafkaLifecycle;
  const counted: string[] = [];
  const counters = {
    add: async (id: string, counter: string, member: string) => void counted.push(`${id} ${counter} ${member}`),
    leaseRevoked: async (id: string, leaseId: string) => void counted.push(`${id} revoked ${leaseId}`),
  } as unknown as EmergencyCounters;
  const versions = new Map<string, string>();
  const store = {
    mode: async (id: string) => (id === 'em-1' ? mode : undefined),
    rememberVersion: async (secret: string, version: number, id: string) => void versions.set(`${secret}:${version}`, id),
    emergencyOfVersion: async (secret: string, version: number) => versions.get(`${secret}:${version}`),
  } as unknown as EmergencyStore;
  // k8s confirmed version 2 before its version-created event arrived.
  const retirementStore = { confirmed: async () => ({ k8s: 2 }) } as unknown as RetirementStore;
  const immediateFlags: boolean[] = [];
  const retirement = {
    onVersionCreated: async (_data: unknown, immediate: boolean) => (immediateFlags.push(immediate), 'scheduled'),
    onDeliveryCompleted: async () => undefined,
  } as unknown as RetirementService;
  const references = {
    checkVersionCreated: async () => undefined,
    checkDeliveryCompleted: async () => undefined,
  } as unknown as SecretReferences;
  const revocations = new RevocationEvents();
  const retirements = new RetirementEvents();
  const tracker = new EmergencyTracker(store, counters, retirementStore, catalog, revocations, retirements);
  new SecretEventsConsumer(kafka, retirement, tracker, retirements, references);
  const context = { logger: { debug: () => undefined, info: () => undefined } };
  const deliver = (topic: string, data: unknown) => handlers.get(topic)!({ data }, context);
  return { deliver, counted, immediateFlags, revocations, retirements };
};

const versionCreated = (version: number, emergencyId?: string) => ({
  secret: 'payments-key',
  owner: 'team-payments',
  version,
  gsmVersion: gsmVersion(version),
  previousVersion: version - 1,
  reason: emergencyId ? 'emergency' : 'scheduled',
  ...(emergencyId ? { emergencyId } : {}),
  createdAt: at,
});

const deliveryCompleted = (version: number, target: string) => ({
  secret: 'payments-key',
  version,
  target: { kind: 'kubernetes-secret', name: target },
  locator: `payments/${target}`,
  contentHash: 'sha256:00',
  deliveredAt: at,
});

describe('EmergencyTracker follows retirement and revocation without them importing it', () => {
  it("counts an emergency's new version and its deliveries from what the secret-events consumer publishes", async () => {
    const { deliver, counted } = wire('graceful');
    await deliver(Topics.secretVersionCreated, versionCreated(2, 'em-1'));
    expect(counted).toEqual(['em-1 delivered payments-key:k8s', 'em-1 rotated payments-key']);
    await deliver(Topics.deliveryCompleted, deliveryCompleted(2, 'k8s-dr'));
    expect(counted).toEqual(['em-1 delivered payments-key:k8s', 'em-1 rotated payments-key', 'em-1 delivered payments-key:k8s-dr']);
  });

  it('counts nothing for versions and deliveries no emergency asked for', async () => {
    const { deliver, counted } = wire('graceful');
    await deliver(Topics.secretVersionCreated, versionCreated(2));
    await deliver(Topics.deliveryCompleted, deliveryCompleted(2, 'k8s'));
    expect(counted).toEqual([]);
  });

  it("retires the previous version at once only for an immediate emergency's version", async () => {
    const immediate = wire('immediate');
    await immediate.deliver(Topics.secretVersionCreated, versionCreated(2, 'em-1'));
    await immediate.deliver(Topics.secretVersionCreated, versionCreated(3));
    expect(immediate.immediateFlags).toEqual([true, false]);
    const graceful = wire('graceful');
    await graceful.deliver(Topics.secretVersionCreated, versionCreated(2, 'em-1'));
    expect(graceful.immediateFlags).toEqual([false]);
  });

  it('counts revoked, irrevocable and retired outcomes that name an emergency', async () => {
    const { counted, revocations, retirements } = wire('graceful');
    await revocations.emit('irrevocable', { leaseId: 'l-1', emergencyId: 'em-1' });
    await revocations.emit('revoked', { leaseId: 'l-2', emergencyId: 'em-1' });
    await revocations.emit('revoked', { leaseId: 'l-3' });
    await retirements.emit('retired', { secret: 'payments-key', version: 1, emergencyId: 'em-1' });
    expect(counted).toEqual(['em-1 failed l-1', 'em-1 revoked l-2', 'em-1 retired payments-key']);
  });
});
