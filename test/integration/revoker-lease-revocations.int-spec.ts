import { randomBytes, randomUUID } from 'node:crypto';

import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher, readTopicRange } from '@rotor/kafka';
import type {
  EmergencyRotationPage,
  LeaseRevocationPage,
  LeaseRevocationPreview,
  LeaseRevocationView,
  ProblemDetails,
} from '@rotor/rest-contract';

import { eventually } from '../support/eventually';
import { runRotorCli, startRotorCli } from '../support/rotor-cli';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { kafkaFromEnv, redisFromEnv } from '../../tools/security/env-clients';

const kafka = kafkaFromEnv('rotor-test-lease-revocations');
const PORT = 19326;

interface Envelope {
  id: string;
  data: Record<string, unknown> & {
    leaseId?: string;
    emergencyId?: string;
    subject?: { kind: string; leaseId?: string };
    requestedBy?: Record<string, unknown>;
    workload?: { namespace: string };
  };
}

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
async function issueLeases(publisher: EventPublisher, namespace: string, role: string, count: number): Promise<string[]> {
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
            role,
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

describe('revoker: lease revocation by selector', () => {
  const started = new Date();
  const suffix = randomUUID().slice(0, 8);
  const namespace = `lr-${suffix}`;
  const publisher = new EventPublisher(kafka);
  const redis = redisFromEnv(requiredEnv('REDIS_URL'), { maxRetriesPerRequest: 2 });
  let identity: TestIdentity;
  let revoker: ServiceProcess;
  let revokerEnv: Record<string, string>;
  let sre: string;
  let auditor: string;
  /** Runs this suite started (or wrote), removed afterwards. */
  const runIds = new Set<string>();

  const call = async <T>(
    method: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const response = await fetch(`${revoker.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${options.token ?? sre}`, 'content-type': 'application/json', ...options.headers },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const body = (await response.json()) as T & Partial<ProblemDetails>;
    return { status: response.status, body };
  };
  const start = async (body: unknown, token = sre, headers: Record<string, string> = {}) => {
    const answer = await call<LeaseRevocationView>('POST', '/v1/lease-revocations', { body, token, headers });
    if (answer.body.id) runIds.add(answer.body.id);
    return answer;
  };
  const get = async (id: string, token = sre) => {
    const { status, body } = await call<LeaseRevocationView>('GET', `/v1/lease-revocations/${id}`, { token });
    if (status !== 200) throw new Error(`GET ${id}: ${status}`);
    return body;
  };
  const finished = (id: string, timeoutMs = 30_000) =>
    eventually(
      async () => {
        const view = await get(id);
        return view.state === 'running' ? undefined : view;
      },
      { what: `lease revocation ${id} to finish`, timeoutMs, intervalMs: 250 },
    );
  const tracked = (index: string, count: number) =>
    eventually(async () => ((await redis.scard(`revoker:index:{${index}}`)) === count ? true : undefined), {
      what: `${count} leases in ${index}`,
      timeoutMs: 60_000,
    });
  const scheduled = async () =>
    (await redis.zcard('{revoker:schedule:emergency:s0}:due')) + (await redis.zcard('{revoker:schedule:emergency:s0}:inflight'));
  const startRevoker = async () => {
    revoker = new ServiceProcess('revoker', PORT, revokerEnv);
    await revoker.start().ready();
  };

  beforeAll(async () => {
    await ensurePortFree(PORT);
    identity = await TestIdentity.create();
    sre = await identity.operatorToken('sre@example.com', ['rotor:sre']);
    auditor = await identity.operatorToken('auditor@example.com', ['rotor:auditor']);
    // Small steps and a short visibility window: a killed revoker's run comes back quickly, and is mid-way when killed.
    revokerEnv = {
      ...identity.env,
      ROTOR_CATALOG: writeTempCatalog('roles: []\nmanagedSecrets: []\n'),
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_REVOKE_POLL_MS: '50',
      ROTOR_REVOKE_CONCURRENCY: '4',
      ROTOR_REVOKE_VISIBILITY_MS: '3000',
      ROTOR_EMERGENCY_BATCH: '25',
      ROTOR_EMERGENCY_POLL_MS: '200',
      LOG_LEVEL: 'info',
    };
    await startRevoker();
    await publisher.connect();
  }, 90_000);

  afterAll(async () => {
    await revoker?.stop();
    await publisher.disconnect();
    for (const id of runIds) {
      const tag = `revoker:emergency:{${id}}`;
      await redis.del(tag, ...['leases', 'secrets', 'revoked', 'failed', 'rotated', 'delivered', 'retired'].map((set) => `${tag}:${set}`));
      await redis.zrem('{revoker:schedule:emergency:s0}:due', id);
      await redis.zrem('{revoker:schedule:emergency:s0}:inflight', id);
      await redis.zrem('revoker:emergency-runs:{lease-revocation}', id);
      await redis.zrem('revoker:emergency-runs:{rotation}', id);
    }
    redis.disconnect();
  });

  it('answers 403 to a workload and to an auditor, and 400 to a selector naming a secret, starting nothing', async () => {
    const before = await scheduled();
    const body = { selector: { namespace }, reason: 'test' };
    for (const token of [await identity.serviceAccountToken(namespace, 'app'), auditor]) {
      expect(await start(body, token)).toMatchObject({ status: 403, body: { code: 'missing-group' } });
      expect(await call('POST', '/v1/lease-revocations/preview', { token, body: { selector: { namespace } } })).toMatchObject({
        status: 403,
        body: { code: 'missing-group' },
      });
    }
    const secret = await start({ ...body, selector: { namespace, secret: 'k' } });
    expect(secret.status).toBe(400);
    expect(secret.body.detail).toMatch(/selector.*secret/);
    const noReason = await start({ selector: { namespace } });
    expect(noReason.body.detail).toMatch(/^reason/);
    expect(await scheduled()).toBe(before);
    expect(runIds.size).toBe(0);
  });

  it('revokes what the preview counted, once per Idempotency-Key, each lease requested in the SRE name', async () => {
    const tokens = await issueLeases(publisher, namespace, 'token', 12);
    const caches = await issueLeases(publisher, namespace, 'cache', 8);
    await tracked(`ns:${namespace}`, 20);

    const selector = { namespace, role: 'token' };
    const preview = await call<LeaseRevocationPreview>('POST', '/v1/lease-revocations/preview', { body: { selector } });
    expect(preview).toEqual({
      status: 200,
      body: { selector, leases: { total: 12, byRole: { token: 12 }, byBackend: { 'opaque-token': 12 } } },
    });
    // The preview starts nothing.
    expect(await redis.scard(`revoker:index:{ns:${namespace}}`)).toBe(20);

    const key = `inc-${suffix}`;
    const first = await start({ selector, reason: 'INC-9 tokens leaked' }, sre, { 'idempotency-key': key });
    const second = await start({ selector, reason: 'INC-9 tokens leaked' }, sre, { 'idempotency-key': key });
    expect(first).toMatchObject({ status: 202, body: { state: 'running', requestedBy: 'sre@example.com', requestId: key } });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(runIds.size).toBe(1);

    const view = await finished(first.body.id);
    expect(view).toMatchObject({
      state: 'completed',
      phase: 'done',
      reason: 'INC-9 tokens leaked',
      selector,
      requestedBy: 'sre@example.com',
      matched: preview.body.leases.total,
      revoked: preview.body.leases.total,
      failed: 0,
      completedAt: expect.any(String),
    });
    // An auditor reads it; it is no emergency rotation.
    expect(await get(first.body.id, auditor)).toEqual(view);
    expect((await call('GET', `/v1/emergency-rotations/${first.body.id}`)).status).toBe(404);

    const revoked = await eventsOf(Topics.leaseRevoked, started, (event) => event.data.workload?.namespace === namespace);
    expect(new Set(revoked.map((event) => event.data.leaseId))).toEqual(new Set(tokens));
    expect(revoked.every((event) => event.data['reason'] === 'requested')).toBe(true);
    const requests = await eventsOf(Topics.revocationRequested, started, (event) => event.data.emergencyId === first.body.id);
    expect(new Set(requests.map((event) => event.data.subject?.leaseId))).toEqual(new Set(tokens));
    for (const request of requests)
      expect(request.data).toMatchObject({
        reason: 'requested',
        requestedBy: { kind: 'operator', subject: 'sre@example.com', groups: ['rotor:sre'] },
      });
    // The other role's leases are untouched, and the preview now finds nothing left to revoke.
    expect((await redis.smembers(`revoker:index:{ns:${namespace}}`)).sort()).toEqual([...caches].sort());
    const after = await call<LeaseRevocationPreview>('POST', '/v1/lease-revocations/preview', { body: { selector } });
    expect(after.body.leases.total).toBe(0);
  }, 90_000);

  it('survives kill -9 mid-way: listed as running meanwhile, then completed with every lease revoked once', async () => {
    const killNamespace = `lr-kill-${suffix}`;
    const leaseIds = await issueLeases(publisher, killNamespace, 'token', 1_500);
    await tracked(`ns:${killNamespace}`, leaseIds.length);

    const { body } = await start({ selector: { namespace: killNamespace }, reason: 'crash test' });
    // An SRE follows it from the CLI (progress lines on stderr, not a terminal); the revoker dies under it and comes back.
    const watching = startRotorCli(['leases', 'revocations', 'show', body.id, '--watch'], {
      ROTOR_REVOKER_URL: revoker.url,
      ROTOR_TOKEN: sre,
    });
    await watching.stderrMatch(new RegExp(`^running: leases \\d+/${leaseIds.length} \\(0 failed\\)$`, 'm'), 30_000);
    const atKill = await eventually(
      async () => {
        const view = await get(body.id);
        return view.revoked >= 100 ? view : undefined;
      },
      { what: 'the revocation to be under way', timeoutMs: 30_000, intervalMs: 50 },
    );
    const running = await call<LeaseRevocationPage>('GET', '/v1/lease-revocations?state=running&limit=500', { token: auditor });
    expect(running.body.items.map((item) => item.id)).toContain(body.id);
    const completed = await call<LeaseRevocationPage>('GET', '/v1/lease-revocations?state=completed&limit=500');
    expect(completed.body.items.map((item) => item.id)).not.toContain(body.id);
    await revoker.kill();
    expect(atKill.revoked).toBeLessThan(leaseIds.length);
    await watching.stderrMatch(/cannot reach .*; still watching/, 20_000);

    // Written as the revoker wrote emergency rotations before the run lists: no scope, no list entry.
    const oldId = randomUUID();
    runIds.add(oldId);
    await redis.hset(`revoker:emergency:{${oldId}}`, {
      id: oldId,
      selector: JSON.stringify({ namespace: `old-${suffix}` }),
      mode: 'graceful',
      reason: 'before the lists',
      requestedBy: 'sre@example.com',
      state: 'completed',
      phase: 'done',
      cursor: '0',
      secretsRequested: '0',
      quotaLimited: '0',
      startedAt: new Date(Date.now() - 3_600_000).toISOString(),
      completedAt: new Date(Date.now() - 3_000_000).toISOString(),
      lastProgressAt: '0',
    });
    await redis.expire(`revoker:emergency:{${oldId}}`, 600);

    await startRevoker();
    const view = await finished(body.id, 120_000);
    expect(view).toMatchObject({ state: 'completed', matched: leaseIds.length, revoked: leaseIds.length, failed: 0 });
    // The CLI kept watching through the outage and ended with the run.
    const watched = await watching.done;
    expect(watched.stderr).toContain('answering again; still watching');
    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(new RegExp(`^id\\s+${body.id}\n^state\\s+completed$`, 'm'));
    expect(watched.stderr).toContain(`completed: leases ${leaseIds.length}/${leaseIds.length} (0 failed)`);
    const revoked = await eventsOf(Topics.leaseRevoked, started, (event) => event.data.workload?.namespace === killNamespace);
    const eventIdsByLease = new Map<string, Set<string>>();
    for (const event of revoked)
      eventIdsByLease.set(event.data.leaseId!, (eventIdsByLease.get(event.data.leaseId!) ?? new Set()).add(event.id));
    expect(eventIdsByLease.size).toBe(leaseIds.length);
    expect([...eventIdsByLease.values()].filter((ids) => ids.size !== 1)).toEqual([]);

    // The record from before the lists is listed (the start-up migration), as an emergency rotation.
    const emergencies = await call<EmergencyRotationPage>('GET', '/v1/emergency-rotations?limit=500', { token: auditor });
    expect(emergencies.status).toBe(200);
    expect(emergencies.body.items.find((item) => item.id === oldId)).toMatchObject({
      state: 'completed',
      mode: 'graceful',
      reason: 'before the lists',
      matched: { leases: 0, secrets: 0 },
    });
    expect(emergencies.body.items.map((item) => item.id)).not.toContain(body.id);
  }, 180_000);

  it('rotor leases revoke --selector: the counts first, a question unless --yes, one run per command, progress to the end', async () => {
    const cliNamespace = `lr-cli-${suffix}`;
    const leaseIds = await issueLeases(publisher, cliNamespace, 'token', 6);
    await tracked(`ns:${cliNamespace}`, 6);
    const cliEnv = { ROTOR_REVOKER_URL: revoker.url, ROTOR_TOKEN: sre };
    const revoke = ['leases', 'revoke', '--selector', `namespace=${cliNamespace}`, '--reason', 'INC-12 pod compromised'];

    const dryRun = await runRotorCli([...revoke, '--dry-run', '--output', 'json'], cliEnv);
    expect(dryRun.code).toBe(0);
    expect(JSON.parse(dryRun.stdout)).toEqual({
      selector: { namespace: cliNamespace },
      leases: { total: 6, byRole: { token: 6 }, byBackend: { 'opaque-token': 6 } },
    });
    // No terminal to ask on, no --yes: refused, nothing started.
    const unconfirmed = await runRotorCli(revoke, cliEnv);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('a revocation by selector starts only when confirmed');
    expect(await redis.scard(`revoker:index:{ns:${cliNamespace}}`)).toBe(6);

    const done = await runRotorCli([...revoke, '--yes', '--watch', '--output', 'json'], cliEnv);
    expect(done.code).toBe(0);
    const view = JSON.parse(done.stdout) as LeaseRevocationView;
    runIds.add(view.id);
    expect(view).toMatchObject({ state: 'completed', matched: 6, revoked: 6, failed: 0, requestedBy: 'sre@example.com' });
    expect(view.requestId).toMatch(/^cli-[0-9a-f]{32}$/); // derived from the SRE, the selector and the reason
    const revoked = await eventsOf(Topics.leaseRevoked, started, (event) => event.data.workload?.namespace === cliNamespace);
    expect(new Set(revoked.map((event) => event.data.leaseId))).toEqual(new Set(leaseIds));

    // The same command again (a retry after a lost answer) finds the same run instead of starting another.
    const again = await runRotorCli([...revoke, '--yes', '--output', 'json'], cliEnv);
    expect({ code: again.code, id: (JSON.parse(again.stdout) as LeaseRevocationView).id }).toEqual({ code: 0, id: view.id });
    const listed = await runRotorCli(['leases', 'revocations', 'list', '--state', 'completed', '--output', 'json'], cliEnv);
    expect((JSON.parse(listed.stdout) as LeaseRevocationPage).items.map((item) => item.id)).toContain(view.id);
    const table = await runRotorCli(['leases', 'revocations', 'show', view.id], cliEnv);
    expect(table.stdout).toMatch(/^revoked\s+6$/m);

    // Mistakes are refused before anything is sent.
    for (const argv of [
      ['leases', 'revoke', '--selector', `namespace=${cliNamespace}`, '--yes'], // no reason
      ['leases', 'revoke', '--selector', 'secret=x', '--reason', 'r', '--yes'], // a lease revocation touches no secret
      ['leases', 'revoke', randomUUID(), '--reason', 'r'], // --reason goes with --selector
      ['leases', 'revoke', randomUUID(), '--selector', 'all'],
    ])
      expect({ argv, code: (await runRotorCli(argv, cliEnv)).code }).toEqual({ argv, code: 2 });
  }, 90_000);

  it('lists lease revocations newest first, a page at a time, filtered by state', async () => {
    // Two more that match nothing: they complete at once.
    for (const reason of ['first empty', 'second empty']) {
      const { body } = await start({ selector: { namespace: `nobody-${suffix}` }, reason });
      await finished(body.id);
    }
    const pages: LeaseRevocationPage[] = [];
    let after: string | undefined;
    do {
      const { status, body } = await call<LeaseRevocationPage>('GET', `/v1/lease-revocations?limit=2${after ? `&after=${after}` : ''}`, {
        token: auditor,
      });
      expect(status).toBe(200);
      expect(body.items.length).toBeLessThanOrEqual(2);
      pages.push(body);
      after = body.next;
    } while (after && pages.length < 100);
    const listed = pages.flatMap((page) => page.items);
    expect(new Set(listed.map((item) => item.id)).size).toBe(listed.length);
    const startedAts = listed.map((item) => item.startedAt);
    expect(startedAts).toEqual([...startedAts].sort().reverse());
    // Everything this suite started, newest first.
    const ours = listed.filter((item) => runIds.has(item.id)).map((item) => item.reason);
    expect(ours).toEqual(['second empty', 'first empty', 'INC-12 pod compromised', 'crash test', 'INC-9 tokens leaked']);

    const completed = await call<LeaseRevocationPage>('GET', '/v1/lease-revocations?state=completed&limit=500');
    expect(completed.body.items.length).toBeGreaterThanOrEqual(5);
    expect(completed.body.items.every((item) => item.state === 'completed')).toBe(true);
    const running = await call<LeaseRevocationPage>('GET', '/v1/lease-revocations?state=running&limit=500');
    expect(running.body.items.filter((item) => runIds.has(item.id))).toEqual([]);

    expect(await call('GET', '/v1/lease-revocations?limit=501')).toMatchObject({ status: 400, body: { code: 'invalid-query' } });
    expect(await call('GET', '/v1/lease-revocations', { token: await identity.serviceAccountToken(namespace, 'app') })).toMatchObject({
      status: 403,
      body: { code: 'missing-group' },
    });
  }, 60_000);
});
