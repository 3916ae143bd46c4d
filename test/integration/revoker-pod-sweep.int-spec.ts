/**
 * Pod-bound leases end with their pod (issue 17, item 3): a real revoker (child process) with
 * its pod sweep pointed at the fake kube-apiserver, through the real @kubernetes/client-node;
 * leases come in as lease.issued events on the real Kafka, as the issuer would publish them
 * for tokens whose `kubernetes.io.pod` claim named a pod.
 */
import { randomUUID } from 'node:crypto';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher, readTopicRange } from '@rotor/kafka';

import { Writable } from 'node:stream';

import { createLogger } from '@rotor/telemetry';

import type { RevokerConfig } from '../../apps/revoker/src/config';
import { LeaseClock } from '../../apps/revoker/src/leases/lease-clock';
import { RevokedLeasesMigration } from '../../apps/revoker/src/leases/revoked-leases.migration';
import { eventually } from '../support/eventually';
import { FakeKubeApi } from '../support/fake-kube-api';
import { PrivateRedis } from '../support/private-redis';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';

const KUBE_PORT = 19540;
const REVOKER_PORT = 19541;
const REDIS_PORT = 19542;
const SWEEP_MS = 500;
const MARGIN_MS = 1_000;

const kafka = kafkaFromEnv('rotor-test-pod-sweep');

interface Revoked {
  leaseId: string;
  reason: string;
}

/** lease.revoked events since `since` for leases of `namespace`. */
async function revokedSince(since: Date, namespace: string): Promise<Revoked[]> {
  const revoked: Revoked[] = [];
  await readTopicRange(kafka, {
    topic: Topics.leaseRevoked,
    fromTime: since,
    onMessage: (message) => {
      const { data } = JSON.parse(message.value?.toString() ?? '{}') as { data: Revoked & { workload: { namespace: string } } };
      if (data.workload.namespace === namespace) revoked.push({ leaseId: data.leaseId, reason: data.reason });
    },
  });
  return revoked;
}

describe('revoker pod sweep', () => {
  const kube = new FakeKubeApi({ port: KUBE_PORT });
  const publisher = new EventPublisher(kafka);
  let revoker: ServiceProcess;

  beforeAll(async () => {
    await kube.start();
    await publisher.connect();
    const identity = await TestIdentity.create();
    revoker = new ServiceProcess('revoker', REVOKER_PORT, {
      ...identity.env,
      KUBECONFIG: kube.writeKubeconfig(),
      ROTOR_POD_SWEEP_MS: String(SWEEP_MS),
      ROTOR_POD_SWEEP_MARGIN_MS: String(MARGIN_MS),
      ROTOR_REVOKE_POLL_MS: '100',
      LOG_LEVEL: 'info',
    });
    await revoker.start().ready();
  }, 90_000);

  afterAll(async () => {
    await revoker?.stop();
    await publisher.disconnect();
    await kube.stop();
  });

  /** A pod in the fake cluster and a lease issued to a token that named it. */
  async function podWithLease(namespace: string, podName: string): Promise<{ leaseId: string; podUid: string }> {
    const pod = kube.putPod({ metadata: { name: podName, namespace }, spec: { containers: [{ name: 'app', image: 'app:1' }] } });
    const leaseId = randomUUID();
    await publisher.publish(
      createEvent({
        topic: Topics.leaseIssued,
        source: '/rotor/test',
        subject: leaseId,
        data: {
          leaseId,
          role: 'token',
          owner: 'team-test',
          backend: 'opaque-token',
          workload: { namespace, serviceAccount: 'app', podName, podUid: pod.metadata.uid },
          issuedAt: new Date().toISOString(),
          expiresAt: new Date(Date.now() + 10 * 60_000).toISOString(),
          maxExpiresAt: new Date(Date.now() + 60 * 60_000).toISOString(),
          revocationHandle: { backend: 'opaque-token' },
        },
      }),
    );
    return { leaseId, podUid: pod.metadata.uid };
  }

  /** How many times the sweep has listed the pods of `namespace` so far. */
  const lists = (namespace: string) =>
    kube.requests.filter((request) => request.method === 'GET' && request.path === `/api/v1/namespaces/${namespace}/pods`).length;

  /** Waits until the sweep has listed `namespace` `more` more times (each a full sweep after the call). */
  const sweeps = async (namespace: string, more: number) => {
    const target = lists(namespace) + more;
    await eventually(async () => (lists(namespace) >= target ? true : undefined), {
      what: `${more} more pod lists of ${namespace}`,
      timeoutMs: 20_000,
      intervalMs: 50,
    });
  };

  it('revokes the lease whose pod was force-deleted within a couple of sweeps, keeps the other, and ends a lease whose pod name came back with a new uid', async () => {
    const since = new Date();
    const namespace = `pods-${randomUUID().slice(0, 8)}`;
    const deleted = await podWithLease(namespace, 'orders-0');
    const kept = await podWithLease(namespace, 'orders-1');
    const replaced = await podWithLease(namespace, 'orders-2');

    // Both pods are there: sweeps past the margin revoke nothing.
    await new Promise((resolve) => setTimeout(resolve, MARGIN_MS));
    await sweeps(namespace, 3);
    expect(await revokedSince(since, namespace)).toEqual([]);

    // kubectl delete pod --force --grace-period=0 (or the node is lost and the pod collected).
    expect(kube.deletePod(namespace, 'orders-0')).toBe(true);
    const deletedAt = Date.now();
    const first = await eventually(
      async () => ((await revokedSince(since, namespace)).length > 0 ? revokedSince(since, namespace) : undefined),
      {
        what: 'the lease of the deleted pod to be revoked',
        timeoutMs: 15_000,
        intervalMs: 200,
      },
    );
    expect(first).toEqual([{ leaseId: deleted.leaseId, reason: 'pod-gone' }]);
    // A sweep every 500 ms, then the clock's poll: a couple of intervals, plus reading the topic.
    expect(Date.now() - deletedAt).toBeLessThan(5_000);

    // A StatefulSet brings orders-2 back under its name: another pod (another uid), not the token's.
    kube.deletePod(namespace, 'orders-2');
    const again = kube.putPod({ metadata: { name: 'orders-2', namespace } });
    expect(again.metadata.uid).not.toBe(replaced.podUid);
    await eventually(async () => ((await revokedSince(since, namespace)).length === 2 ? true : undefined), {
      what: 'the lease of the replaced pod to be revoked',
      timeoutMs: 15_000,
      intervalMs: 200,
    });

    // The lease whose pod still runs stays, sweep after sweep.
    await sweeps(namespace, 3);
    const revoked = await revokedSince(since, namespace);
    expect(revoked.map(({ leaseId }) => leaseId).sort()).toEqual([deleted.leaseId, replaced.leaseId].sort());
    expect(revoked.every(({ reason }) => reason === 'pod-gone')).toBe(true);
    expect(revoked.map(({ leaseId }) => leaseId)).not.toContain(kept.leaseId);
  }, 90_000);

  it('revokes nothing while the API server cannot be reached, and ends the lease once it answers again', async () => {
    const since = new Date();
    const namespace = `pods-${randomUUID().slice(0, 8)}`;
    const lease = await podWithLease(namespace, 'api-0');
    await new Promise((resolve) => setTimeout(resolve, MARGIN_MS));
    await sweeps(namespace, 2);

    // The pod goes while nobody can ask: every list of the namespace fails (connection dropped).
    kube.setNamespaceFault(namespace, { kind: 'unreachable' });
    kube.deletePod(namespace, 'api-0');
    await sweeps(namespace, 4);
    expect(await revokedSince(since, namespace)).toEqual([]);
    expect(revoker.logs).toContain('could not list the pods of a namespace');

    kube.setNamespaceFault(namespace, undefined);
    await eventually(async () => ((await revokedSince(since, namespace)).length > 0 ? true : undefined), {
      what: 'the lease to be revoked once the API server answers',
      timeoutMs: 15_000,
      intervalMs: 200,
    });
    expect(await revokedSince(since, namespace)).toEqual([{ leaseId: lease.leaseId, reason: 'pod-gone' }]);
  }, 90_000);

  it('at start-up, adds the unrevoked leases an older revoker tracked with a pod to the pod-bound index, and only those', async () => {
    const server = new PrivateRedis(REDIS_PORT);
    await server.start();
    const redis = redisFromEnv(server.url);
    try {
      const record = (id: string, state: string, workload: object) => ({
        id,
        role: 'token',
        owner: 'team-test',
        backend: 'opaque-token',
        workload: JSON.stringify(workload),
        handle: JSON.stringify({ backend: 'opaque-token' }),
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
        state,
        attempts: '0',
      });
      const [podBound, noPod, revoked] = [randomUUID(), randomUUID(), randomUUID()];
      const pod = { namespace: 'shop', serviceAccount: 'api', podName: 'api-0', podUid: 'uid-0' };
      await redis.hset(`revoker:lease:{${podBound}}`, record(podBound, 'active', pod));
      await redis.hset(`revoker:lease:{${noPod}}`, record(noPod, 'active', { namespace: 'shop', serviceAccount: 'api' }));
      await redis.hset(`revoker:lease:{${revoked}}`, { ...record(revoked, 'revoked', pod), revokedAt: new Date().toISOString() });

      const clock = new LeaseClock(redis, { schedule: { shards: 1 }, dedupeWindowMs: 60_000 } as RevokerConfig);
      const quiet = createLogger({ service: 'test', destination: new Writable({ write: (_c, _e, done) => done() }) });
      const migration = new RevokedLeasesMigration(redis, clock, quiet);
      expect(await migration.run(new Date())).toMatchObject({ podIndexed: 1 });
      expect(await redis.smembers('revoker:index:{pod-bound}')).toEqual([podBound]);
      expect((await clock.podFields([podBound]))[0]).toEqual({ id: podBound, namespace: 'shop', podName: 'api-0', podUid: 'uid-0' });
      // Idempotent: the next start (or another replica) adds nothing.
      expect(await migration.run(new Date())).toMatchObject({ podIndexed: 0 });
    } finally {
      redis.disconnect();
      await server.kill();
    }
  });
});
