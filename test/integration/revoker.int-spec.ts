import { randomBytes, randomUUID } from 'node:crypto';

import { Client } from 'pg';

import { createEvent, Topics } from '@rotor/contracts';
import { PostgresBackend } from '@rotor/credential-backends';
import { EventPublisher } from '@rotor/kafka';
import type { IrrevocableLeasePage } from '@rotor/rest-contract';

import { eventually } from '../support/eventually';
import { PrivateRedis } from '../support/private-redis';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { TcpSwitch } from '../support/tcp-switch';
import { TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince } from '../support/topic-tap';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';

const kafka = kafkaFromEnv('rotor-test-revoker');

/** Publishes lease.issued as the issuer would, for an opaque token or a real PostgreSQL role. */
async function publishIssued(publisher: EventPublisher, lease: { id: string; namespace: string; expiresAt: Date; roleName?: string }) {
  await publisher.publish(
    createEvent({
      topic: Topics.leaseIssued,
      source: '/rotor/test',
      subject: lease.id,
      data: {
        leaseId: lease.id,
        role: lease.roleName ? 'db' : 'token',
        owner: 'team-test',
        backend: lease.roleName ? 'postgres' : 'opaque-token',
        workload: { namespace: lease.namespace, serviceAccount: 'app' },
        issuedAt: new Date().toISOString(),
        expiresAt: lease.expiresAt.toISOString(),
        maxExpiresAt: new Date(lease.expiresAt.getTime() + 60_000).toISOString(),
        revocationHandle: lease.roleName ? { backend: 'postgres', roleName: lease.roleName } : { backend: 'opaque-token' },
      },
    }),
  );
}

describe('revoker', () => {
  const publisher = new EventPublisher(kafka);
  let identity: TestIdentity;

  beforeAll(async () => {
    identity = await TestIdentity.create();
    await publisher.connect();
  });

  afterAll(() => publisher.disconnect());

  it('with two replicas, one killed with SIGKILL while holding claims, revokes every lease once', async () => {
    const started = new Date();
    const namespace = `kill-${randomUUID().slice(0, 8)}`;
    const env = {
      ...identity.env,
      ROTOR_REVOKE_POLL_MS: '50',
      ROTOR_REVOKE_VISIBILITY_MS: '3000',
      ROTOR_REVOKE_CONCURRENCY: '4',
      LOG_LEVEL: 'debug', // 'lease revoked' is a debug line: the kill waits for the first
    };
    const replicas = [new ServiceProcess('revoker', 18881, env), new ServiceProcess('revoker', 18882, env)];
    await Promise.all(replicas.map((replica) => replica.start().ready()));
    try {
      const ids = Array.from({ length: 300 }, () => randomUUID());
      const expiresAt = new Date(Date.now() + 3_000);
      for (const id of ids) await publishIssued(publisher, { id, namespace, expiresAt });
      // Kill one replica while it is revoking: its claims must come back after their deadline.
      await eventually(async () => (replicas[0]!.logs.includes('lease revoked') ? true : undefined), {
        what: 'replica 0 to start revoking',
        timeoutMs: 20_000,
        intervalMs: 20,
      });
      await replicas[0]!.kill();

      const revoked = await eventually(
        async () => {
          const messages = (await readRotorTopicsSince(started)).filter(
            (m) => m.topic === Topics.leaseRevoked && m.value.includes(namespace),
          );
          const leases = new Set(messages.map((m) => (JSON.parse(m.value) as { data: { leaseId: string } }).data.leaseId));
          return leases.size === ids.length ? messages : undefined;
        },
        { what: 'every lease to be revoked', timeoutMs: 45_000, intervalMs: 1_000 },
      );
      const eventIds = revoked.map((m) => (JSON.parse(m.value) as { id: string }).id);
      // Each lease has one revocation event id; a resend after the kill reuses it, so consumers dedupe it.
      expect(new Set(eventIds).size).toBe(ids.length);
      expect(eventIds.length - ids.length).toBeLessThanOrEqual(4);
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  }, 90_000);

  it('gives a lease it reads only after its expiry a short grace, so that its renewal, read just after, still wins', async () => {
    const started = new Date();
    const namespace = `late-${randomUUID().slice(0, 8)}`;
    const revoker = new ServiceProcess('revoker', 18885, { ...identity.env, ROTOR_REVOKE_POLL_MS: '50', LOG_LEVEL: 'info' });
    await revoker.start().ready();
    try {
      // Both expired a second ago: the revoker "was behind". Only the first is renewed, 300 ms after its issue event.
      const [renewed, expired] = [randomUUID(), randomUUID()];
      const pastExpiry = new Date(Date.now() - 1_000);
      await publishIssued(publisher, { id: renewed, namespace, expiresAt: pastExpiry });
      await publishIssued(publisher, { id: expired, namespace, expiresAt: pastExpiry });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const renewedUntil = new Date(Date.now() + 60_000);
      await publisher.publish(
        createEvent({
          topic: Topics.leaseRenewed,
          source: '/rotor/test',
          subject: renewed,
          data: {
            leaseId: renewed,
            role: 'token',
            owner: 'team-test',
            backend: 'opaque-token',
            workload: { namespace, serviceAccount: 'app' },
            renewedAt: new Date().toISOString(),
            expiresAt: renewedUntil.toISOString(),
            maxExpiresAt: new Date(renewedUntil.getTime() + 60_000).toISOString(),
          },
        }),
      );
      const revokedIds = async () =>
        (await readRotorTopicsSince(started))
          .filter((m) => m.topic === Topics.leaseRevoked && m.value.includes(namespace))
          .map((m) => (JSON.parse(m.value) as { data: { leaseId: string } }).data.leaseId);
      // The unrenewed one is still revoked (after the 1 s grace); the renewed one is not.
      await eventually(async () => ((await revokedIds()).includes(expired) ? true : undefined), {
        what: 'the expired, unrenewed lease to be revoked',
        timeoutMs: 15_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await revokedIds()).toEqual([expired]);
    } finally {
      await revoker.stop();
    }
  }, 60_000);

  it('keeps its schedule across a Redis crash (SIGKILL, AOF replay) and still revokes every lease', async () => {
    const started = new Date();
    const namespace = `aof-${randomUUID().slice(0, 8)}`;
    const redis = new PrivateRedis(16391, { appendonly: true });
    await redis.start();
    const revoker = new ServiceProcess('revoker', 18884, { ...identity.env, REDIS_URL: redis.url, ROTOR_REVOKE_POLL_MS: '100' });
    try {
      await revoker.start().ready();
      const ids = Array.from({ length: 50 }, () => randomUUID());
      for (const id of ids) await publishIssued(publisher, { id, namespace, expiresAt: new Date(Date.now() + 12_000) });
      const probe = redisFromEnv(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
      probe.on('error', () => undefined);
      await eventually(async () => ((await probe.zcard('{revoker:schedule:lease-expiry:s0}:due')) === ids.length ? true : undefined), {
        what: 'all leases scheduled',
      });
      probe.disconnect();
      // appendfsync everysec: wait past one fsync, then crash Redis without a chance to save.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await redis.kill();
      await redis.start();

      await eventually(
        async () => {
          const revoked = (await readRotorTopicsSince(started)).filter(
            (m) => m.topic === Topics.leaseRevoked && m.value.includes(namespace),
          );
          return new Set(revoked.map((m) => (JSON.parse(m.value) as { data: { leaseId: string } }).data.leaseId)).size === ids.length
            ? true
            : undefined;
        },
        { what: 'every lease revoked after the Redis restart', timeoutMs: 40_000, intervalMs: 1_000 },
      );
    } finally {
      await revoker.stop();
      await redis.kill();
    }
  }, 90_000);

  it('retries a failing PostgreSQL revocation with backoff, lists it as irrevocable after the limit, and revokes it as soon as PostgreSQL heals', async () => {
    const started = new Date();
    const databaseUrl = new URL(requiredEnv('DATABASE_URL'));
    const pgSwitch = await new TcpSwitch({ host: databaseUrl.hostname, port: Number(databaseUrl.port || 5432) }, 15_432).start();
    const viaSwitch = new URL(databaseUrl);
    viaSwitch.port = '15432';
    const backend = new PostgresBackend({ databaseUrl: requiredEnv('DATABASE_URL') });
    const leaseId = randomUUID();
    const { handle } = await backend.issue({
      leaseId,
      settings: { kind: 'postgres', grants: ['GRANT CONNECT ON DATABASE rotor TO {{role}}'] },
      expiresAt: new Date(Date.now() + 60_000),
    });
    const roleName = handle.backend === 'postgres' ? handle.roleName : '';
    const revoker = new ServiceProcess('revoker', 18883, {
      ...identity.env,
      DATABASE_URL: viaSwitch.toString(),
      ROTOR_REVOKE_POLL_MS: '50',
      ROTOR_REVOKE_MAX_ATTEMPTS: '3',
      // Past the limit it would wait a minute; the backend's recovery brings the retry forward.
      ROTOR_IRREVOCABLE_RETRY_MS: '60000',
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    });
    const admin = new Client({ connectionString: requiredEnv('DATABASE_URL') });
    await admin.connect();
    try {
      await revoker.start().ready();
      pgSwitch.cut();
      await publishIssued(publisher, { id: leaseId, namespace: 'irrevocable', expiresAt: new Date(Date.now() + 500), roleName });

      const sre = await identity.operatorToken('sre@example.com', ['rotor:sre']);
      const listed = await eventually(
        async () => {
          const page = (await (
            await fetch(`${revoker.url}/v1/leases?state=irrevocable`, { headers: { authorization: `Bearer ${sre}` } })
          ).json()) as IrrevocableLeasePage;
          return page.items.find((item) => item.leaseId === leaseId);
        },
        { what: 'the lease to be listed as irrevocable', timeoutMs: 30_000 },
      );
      expect(listed).toMatchObject({ state: 'irrevocable', attempts: 3, lastError: expect.stringContaining('PostgreSQL') });
      const metrics = await (await fetch(`${revoker.url}/metrics`)).text();
      expect(metrics).toMatch(/rotor_leases_irrevocable\{[^}]*\} [1-9]/);
      const failures = (await readRotorTopicsSince(started))
        .filter((m) => m.topic === Topics.revocationFailed && m.value.includes(leaseId))
        .map((m) => (JSON.parse(m.value) as { data: { attempt: number; irrevocable: boolean } }).data);
      expect(failures.slice(0, 3)).toEqual([
        expect.objectContaining({ attempt: 1, irrevocable: false }),
        expect.objectContaining({ attempt: 2, irrevocable: false }),
        expect.objectContaining({ attempt: 3, irrevocable: true }),
      ]);
      expect(await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [roleName])).toMatchObject({ rowCount: 1 });

      pgSwitch.heal();
      const healedAt = Date.now();
      await eventually(
        async () => ((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [roleName])).rowCount === 0 ? true : undefined),
        { what: 'the role to be dropped after PostgreSQL heals', timeoutMs: 20_000 },
      );
      // One outage check (1 s) and a claim poll, not the minute of an irrevocable lease's retry.
      expect(Date.now() - healedAt).toBeLessThan(5_000);
      await eventually(
        async () => {
          const page = (await (
            await fetch(`${revoker.url}/v1/leases?state=irrevocable`, { headers: { authorization: `Bearer ${sre}` } })
          ).json()) as IrrevocableLeasePage;
          return page.items.some((item) => item.leaseId === leaseId) ? undefined : true;
        },
        { what: 'the lease to leave the irrevocable list' },
      );
    } finally {
      await revoker.stop();
      await pgSwitch.stop();
      await backend.revoke(handle).catch(() => undefined);
      await backend.close();
      await admin.end();
    }
  }, 90_000);
});
