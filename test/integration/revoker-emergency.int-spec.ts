import { randomBytes, randomUUID } from 'node:crypto';

import type Redis from 'ioredis';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher, readTopicRange } from '@rotor/kafka';
import type { EmergencyRotationView, ProblemDetails } from '@rotor/rest-contract';

import { eventually } from '../support/eventually';
import { runRotorCli } from '../support/rotor-cli';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';

const kafka = kafkaFromEnv('rotor-test-emergency');

interface Envelope {
  id: string;
  data: Record<string, unknown> & { leaseId?: string; secret?: string; emergencyId?: string; workload?: { namespace: string } };
}

/** Removes what the revoker keeps about these test secrets (retirement records, schedule entries). */
async function forgetSecrets(redis: Redis, secrets: string[]): Promise<void> {
  for (const name of secrets) {
    const tag = `revoker:retirement:{${name}}`;
    await redis.del(
      `${tag}:confirmed`,
      `${tag}:open`,
      ...[1, 2, 3, 4, 5].flatMap((version) => [`${tag}:v${version}`, `${tag}:v${version}:pending`]),
    );
    await redis.del(`revoker:emergency-versions:{${name}}`);
    for (const version of [1, 2, 3, 4, 5]) {
      await redis.zrem('{revoker:schedule:retirement:s0}:due', `${name}:${version}`);
      await redis.zrem('{revoker:schedule:retirement:s0}:inflight', `${name}:${version}`);
    }
  }
}

/** Every event of one topic since `since` that `keep` accepts. */
async function eventsOf(topic: string, since: Date, keep: (event: Envelope) => boolean): Promise<Envelope[]> {
  const events: Envelope[] = [];
  await readTopicRange(kafka, {
    topic,
    fromTime: since,
    onMessage: (message) => {
      const event = JSON.parse(message.value?.toString() ?? '{}') as Envelope;
      if (keep(event)) events.push(event);
    },
  });
  return events;
}

/** lease.issued as the issuer publishes it (opaque tokens: nothing to drop at a backend), sent in batches. */
async function issueLeases(publisher: EventPublisher, namespace: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  const expiresAt = new Date(Date.now() + 3_600_000);
  for (let start = 0; start < ids.length; start += 500) {
    await publisher.send(
      ids.slice(start, start + 500).map((id) => {
        const event = createEvent({
          topic: Topics.leaseIssued,
          source: '/rotor/test',
          subject: id,
          data: {
            leaseId: id,
            role: 'token',
            owner: 'team-test',
            backend: 'opaque-token',
            workload: { namespace, serviceAccount: 'app' },
            issuedAt: new Date().toISOString(),
            expiresAt: expiresAt.toISOString(),
            maxExpiresAt: expiresAt.toISOString(),
            revocationHandle: { backend: 'opaque-token' },
          },
        });
        return { topic: Topics.leaseIssued, key: id, value: JSON.stringify(event), headers: { 'ce-id': event.id } };
      }),
    );
  }
  return ids;
}

describe('revoker: emergency rotations', () => {
  const started = new Date();
  const suffix = randomUUID().slice(0, 8);
  const namespace = `em-${suffix}`;
  const secret = `em-key-${suffix}`;
  const otherSecret = `em-other-${suffix}`;
  const cliNamespace = `em-cli-${suffix}`;
  const cliSecret = `em-cli-key-${suffix}`;
  const publisher = new EventPublisher(kafka);
  const redis = redisFromEnv(requiredEnv('REDIS_URL'), { maxRetriesPerRequest: 2 });
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let revoker: ServiceProcess;
  let revokerEnv: Record<string, string>;
  let sre: string;
  /** Rotations this suite started, removed afterwards (the graceful one would otherwise wait out its grace period). */
  const startedIds = new Set<string>();

  const post = async (body: unknown, token = sre, headers: Record<string, string> = {}) => {
    const response = await fetch(`${revoker.url}/v1/emergency-rotations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const answer = (await response.json()) as EmergencyRotationView & Partial<ProblemDetails>;
    if (answer.id) startedIds.add(answer.id);
    return { status: response.status, body: answer };
  };
  const get = async (id: string) => {
    const response = await fetch(`${revoker.url}/v1/emergency-rotations/${id}`, { headers: { authorization: `Bearer ${sre}` } });
    if (!response.ok) throw new Error(`GET ${id}: ${response.status}`);
    return (await response.json()) as EmergencyRotationView;
  };
  const finished = (id: string, timeoutMs = 30_000) =>
    eventually(
      async () => {
        const view = await get(id);
        return view.state === 'running' ? undefined : view;
      },
      { what: `emergency rotation ${id} to finish`, timeoutMs, intervalMs: 250 },
    );
  const tracked = (ns: string, count: number) =>
    eventually(async () => ((await redis.scard(`revoker:index:{ns:${ns}}`)) === count ? true : undefined), {
      what: `${count} leases of ${ns} tracked`,
      timeoutMs: 60_000,
    });

  beforeAll(async () => {
    await Promise.all([ensurePortFree(19310), ensurePortFree(19311)]);
    identity = await TestIdentity.create();
    sre = await identity.operatorToken('sre@example.com', ['rotor:sre']);
    const catalog = writeTempCatalog(`
managedSecrets:
  - name: ${secret}
    owner: team-test
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h
    bindings: [{ namespace: ${namespace}, serviceAccount: '*' }]
  - name: ${otherSecret}
    owner: team-test
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h
    bindings: [{ namespace: elsewhere, serviceAccount: app }]
  - name: ${cliSecret}
    owner: team-test
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h
    targets: [{ kind: kubernetes-secret, name: cluster-a, namespace: ${cliNamespace}, secretName: key }]
`);
    const env = { ...identity.env, ROTOR_CATALOG: catalog, ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex') };
    // Small steps and a short visibility window: a killed revoker's rotation comes back quickly, and is mid-way when killed.
    revokerEnv = {
      ...env,
      ROTOR_REVOKE_POLL_MS: '50',
      ROTOR_REVOKE_CONCURRENCY: '4',
      ROTOR_REVOKE_VISIBILITY_MS: '3000',
      ROTOR_EMERGENCY_BATCH: '25',
      ROTOR_EMERGENCY_POLL_MS: '200',
      LOG_LEVEL: 'info',
    };
    issuer = new ServiceProcess('issuer', 19310, env);
    revoker = new ServiceProcess('revoker', 19311, revokerEnv);
    await Promise.all([issuer.start().ready(), revoker.start().ready()]);
    await publisher.connect();
  }, 90_000);

  afterAll(async () => {
    await Promise.all([issuer?.stop(), revoker?.stop()]);
    await publisher.disconnect();
    for (const id of startedIds) {
      const tag = `revoker:emergency:{${id}}`;
      await redis.del(tag, ...['leases', 'secrets', 'revoked', 'failed', 'rotated', 'delivered', 'retired'].map((set) => `${tag}:${set}`));
      await redis.zrem('{revoker:schedule:emergency:s0}:due', id);
      await redis.zrem('{revoker:schedule:emergency:s0}:inflight', id);
    }
    await forgetSecrets(redis, [secret, otherSecret, cliSecret]);
    redis.disconnect();
  });

  it('answers 403 to a workload and to an auditor, and 400 naming a bad field, changing nothing', async () => {
    const scheduled = async () =>
      (await redis.zcard('{revoker:schedule:emergency:s0}:due')) + (await redis.zcard('{revoker:schedule:emergency:s0}:inflight'));
    const before = await scheduled();
    const body = { selector: { namespace }, mode: 'graceful', reason: 'test' };
    const workload = await post(body, await identity.serviceAccountToken(namespace, 'app'));
    expect(workload).toMatchObject({ status: 403, body: { code: 'missing-group' } });
    const auditor = await post(body, await identity.operatorToken('auditor@example.com', ['rotor:auditor']));
    expect(auditor).toMatchObject({ status: 403, body: { code: 'missing-group' } });

    const unknownField = await post({ ...body, selector: { namespace, colour: 'red' } });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.detail).toMatch(/selector.*colour/);
    const empty = await post({ ...body, selector: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.detail).toMatch(/^selector/);
    const noReason = await post({ selector: { namespace }, mode: 'graceful' });
    expect(noReason.status).toBe(400);
    expect(noReason.body.detail).toMatch(/^reason/);
    const badMode = await post({ ...body, mode: 'now' });
    expect(badMode.body.detail).toMatch(/^mode/);
    expect(await scheduled()).toBe(before);
    expect(startedIds.size).toBe(0);
  });

  it('completes a selector that matches nothing with zero counts', async () => {
    const { status, body } = await post({ selector: { namespace: `nobody-${suffix}` }, mode: 'immediate', reason: 'zero match' });
    expect(status).toBe(202);
    const view = await finished(body.id);
    expect(view).toMatchObject({
      state: 'completed',
      matched: { leases: 0, secrets: 0 },
      revoked: 0,
      rotated: 0,
      delivered: 0,
      retired: 0,
      failed: 0,
    });
  });

  it('revokes every lease of a namespace and rotates its managed secret, publishing progress', async () => {
    const leaseIds = await issueLeases(publisher, namespace, 20);
    await tracked(namespace, 20);
    const initial = await eventually(
      async () => (await eventsOf(Topics.secretVersionCreated, started, (event) => event.data.secret === secret))[0],
      { what: 'the initial version', timeoutMs: 30_000 },
    );

    const { status, body } = await post({ selector: { namespace }, mode: 'immediate', reason: 'namespace compromised' });
    expect(status).toBe(202);
    expect(body).toMatchObject({ id: expect.any(String), state: 'running' });
    const view = await finished(body.id);
    expect(view).toMatchObject({ state: 'completed', matched: { leases: 20, secrets: 1 }, revoked: 20, rotated: 1, retired: 1, failed: 0 });

    const revoked = await eventsOf(Topics.leaseRevoked, started, (event) => event.data.workload?.namespace === namespace);
    expect(new Set(revoked.map((event) => event.data.leaseId))).toEqual(new Set(leaseIds));
    expect(revoked.every((event) => event.data['reason'] === 'emergency')).toBe(true);
    // Each lease's revocation was asked for in the SRE's name: the audit says who.
    const requests = await eventsOf(Topics.revocationRequested, started, (event) => event.data.emergencyId === body.id);
    expect(new Set(requests.map((event) => (event.data['subject'] as { leaseId: string }).leaseId))).toEqual(new Set(leaseIds));
    for (const request of requests)
      expect(request.data).toMatchObject({
        reason: 'emergency',
        requestedBy: { kind: 'operator', subject: 'sre@example.com', groups: ['rotor:sre'] },
      });
    const created = await eventsOf(Topics.secretVersionCreated, started, (event) => event.data.emergencyId === body.id);
    expect(created.map((event) => event.data)).toEqual([
      expect.objectContaining({ secret, reason: 'emergency', previousVersion: initial.data['version'] }),
    ]);
    const retired = await eventsOf(Topics.secretVersionRetired, started, (event) => event.data.secret === secret);
    expect(retired.map((event) => event.data)).toEqual([
      expect.objectContaining({ version: initial.data['version'], reason: 'emergency' }),
    ]);
    // The secret bound elsewhere was not touched.
    expect(await eventsOf(Topics.rotationRequested, started, (event) => event.data.secret === otherSecret)).toEqual([]);

    const progress = await eventsOf(Topics.emergencyProgress, started, (event) => event.data.emergencyId === body.id);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)?.data).toMatchObject({ state: 'completed', matched: 21, revoked: 20, rotated: 1, retired: 1 });
  }, 90_000);

  it('starts one rotation for one request id, whether sent in the body or as Idempotency-Key', async () => {
    const requestId = `req-${suffix}`;
    const body = { selector: { secret: otherSecret }, mode: 'graceful', reason: 'leaked in a ticket' };
    const first = await post({ ...body, requestId });
    const second = await post(body, sre, { 'idempotency-key': requestId });
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.startedAt).toBe(first.body.startedAt);

    // Graceful, no targets: rotated now, the previous version retired only at the end of its 1h grace period.
    const view = await eventually(
      async () => {
        const current = await get(first.body.id);
        return current.rotated === 1 ? current : undefined;
      },
      { what: 'the secret to be rotated', timeoutMs: 30_000 },
    );
    expect(view).toMatchObject({ state: 'running', matched: { leases: 0, secrets: 1 }, retired: 0 });
    const requests = await eventsOf(Topics.rotationRequested, started, (event) => event.data.emergencyId === first.body.id);
    expect(new Set(requests.map((event) => event.id))).toEqual(new Set([`${first.body.id}:${otherSecret}`]));
  }, 60_000);

  it('rotor emergency rotate --watch follows a graceful rotation to its end; show prints the summary', async () => {
    const cliEnv = { ROTOR_REVOKER_URL: revoker.url, ROTOR_TOKEN: sre };
    await issueLeases(publisher, cliNamespace, 5);
    await tracked(cliNamespace, 5);
    await eventually(async () => (await eventsOf(Topics.secretVersionCreated, started, (event) => event.data.secret === cliSecret))[0], {
      what: 'the initial version',
      timeoutMs: 30_000,
    });

    const rotate = ['emergency', 'rotate', '--selector', `namespace=${cliNamespace}`, '--mode', 'graceful', '--reason', 'cli test'];
    // First what it would cover, starting nothing; then a script without --yes is refused.
    const dryRun = await runRotorCli([...rotate, '--dry-run', '--json'], cliEnv);
    expect(dryRun.code).toBe(0);
    expect(JSON.parse(dryRun.stdout)).toEqual({
      selector: { namespace: cliNamespace },
      leases: { total: 5, byRole: { token: 5 }, byBackend: { 'opaque-token': 5 } },
      secrets: [{ secret: cliSecret, targets: [{ kind: 'kubernetes-secret', name: 'cluster-a' }] }],
    });
    const unconfirmed = await runRotorCli(rotate, cliEnv);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/add --yes/);
    expect(
      await eventsOf(
        Topics.secretVersionCreated,
        started,
        (event) => event.data.secret === cliSecret && event.data.emergencyId !== undefined,
      ),
    ).toEqual([]);

    const watching = runRotorCli([...rotate, '--yes', '--watch', '--json'], cliEnv);
    // Graceful: the old version goes once the target confirmed the new one (the distributor's part, played here).
    const created = await eventually(
      async () =>
        (
          await eventsOf(
            Topics.secretVersionCreated,
            started,
            (event) => event.data.secret === cliSecret && event.data.emergencyId !== undefined,
          )
        )[0],
      {
        what: 'the emergency version',
        timeoutMs: 30_000,
      },
    );
    await publisher.publish(
      createEvent({
        topic: Topics.deliveryCompleted,
        source: '/rotor/test',
        subject: cliSecret,
        data: {
          secret: cliSecret,
          version: created.data['version'] as number,
          target: { kind: 'kubernetes-secret', name: 'cluster-a' },
          locator: `${cliNamespace}/key`,
          contentHash: 'b'.repeat(64),
          deliveredAt: new Date().toISOString(),
        },
      }),
      { key: cliSecret },
    );
    const result = await watching;
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const final = JSON.parse(result.stdout) as EmergencyRotationView;
    startedIds.add(final.id);
    expect(final).toMatchObject({
      state: 'completed',
      matched: { leases: 5, secrets: 1 },
      revoked: 5,
      rotated: 1,
      delivered: 1,
      retired: 1,
      failed: 0,
    });
    const retired = await eventsOf(Topics.secretVersionRetired, started, (event) => event.data.secret === cliSecret);
    expect(retired.map((event) => event.data['reason'])).toEqual(['superseded']);

    // The same command again (a retry after a timeout, say) finds this rotation: its request id derives from the command.
    const again = await runRotorCli([...rotate, '--yes', '--json'], cliEnv);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: final.id, state: 'completed' });

    const shown = await runRotorCli(['emergency', 'show', final.id, '--watch'], cliEnv);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^state\s+completed$/m);
    expect(shown.stdout).toMatch(/^revoked\s+5$/m);
    // Not a terminal: plain progress lines on stderr instead of a bar.
    expect(shown.stderr).toContain('completed: leases 5/5 (0 failed), secrets rotated 1/1, delivered 1, retired 1/1');

    const listed = await runRotorCli(['emergency', 'list', '--state', 'completed', '--limit', '500', '--output', 'json'], cliEnv);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { items: { id: string }[] }).items.map((item) => item.id)).toContain(final.id);

    const badSelector = await runRotorCli(
      ['emergency', 'rotate', '--selector', 'colour=red', '--mode', 'graceful', '--reason', 'x'],
      cliEnv,
    );
    expect(badSelector.code).toBe(2); // usage
    expect(badSelector.stderr).toContain('unknown field "colour"');
    const badMode = await runRotorCli(
      ['emergency', 'rotate', '--selector', `namespace=${cliNamespace}`, '--mode', 'now', '--reason', 'x', '--yes'],
      cliEnv,
    );
    expect(badMode.code).toBe(2); // refused by the CLI before anything is sent
    expect(badMode.stderr).toContain("option '--mode <mode>' argument 'now' is invalid. Allowed choices are graceful, immediate.");
  }, 90_000);

  it('survives kill -9 of the revoker mid-rotation: after a restart every lease is revoked exactly once', async () => {
    const killNamespace = `em-kill-${suffix}`;
    const leaseIds = await issueLeases(publisher, killNamespace, 3_000);
    await tracked(killNamespace, leaseIds.length);

    const { body } = await post({ selector: { namespace: killNamespace }, mode: 'graceful', reason: 'crash test' });
    const atKill = await eventually(
      async () => {
        const view = await get(body.id);
        return view.revoked >= 150 ? view : undefined;
      },
      { what: 'the rotation to be under way', timeoutMs: 30_000, intervalMs: 50 },
    );
    await revoker.kill();
    expect(atKill.revoked).toBeLessThan(leaseIds.length);

    revoker = new ServiceProcess('revoker', 19311, revokerEnv);
    await revoker.start().ready();
    const view = await finished(body.id, 120_000);
    expect(view).toMatchObject({
      state: 'completed',
      matched: { leases: leaseIds.length, secrets: 0 },
      revoked: leaseIds.length,
      failed: 0,
    });

    const revoked = await eventsOf(Topics.leaseRevoked, started, (event) => event.data.workload?.namespace === killNamespace);
    const eventIdsByLease = new Map<string, Set<string>>();
    for (const event of revoked)
      eventIdsByLease.set(event.data.leaseId!, (eventIdsByLease.get(event.data.leaseId!) ?? new Set()).add(event.id));
    expect(eventIdsByLease.size).toBe(leaseIds.length);
    // One revocation per lease: each has one event id. A publish the kill cut off before the
    // lease was marked revoked is sent again with the same id (consumers deduplicate it);
    // at most the revocations in flight at the kill.
    expect([...eventIdsByLease.values()].filter((ids) => ids.size !== 1)).toEqual([]);
    expect(revoked.length - leaseIds.length).toBeLessThanOrEqual(4);
  }, 180_000);
});
