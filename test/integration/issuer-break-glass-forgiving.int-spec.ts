import { randomBytes, randomUUID } from 'node:crypto';

import type { Redis } from '@rotor/redis-store';
import type { BreakGlassAccess, BreakGlassGrant, BreakGlassPage, BreakGlassPreview } from '@rotor/rest-contract';
import { GsmSecretStore } from '@rotor/secret-store';

import { redisFromEnv } from '../../tools/security/env-clients';
import { eventually } from '../support/eventually';
import { runRotorCli } from '../support/rotor-cli';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';

const RUN = randomBytes(3).toString('hex');
const SECRET = `bg-fg-${RUN}`;
const ROLE = `bg-fg-role-${RUN}`;
const SRE = `oncall-${RUN}@example.com`;
const OTHER_SRE = `second-${RUN}@example.com`;
const INDEX = 'issuer:breakglass-index';

const CATALOG = `
policy: { breakGlassMaxTtl: 30m }
roles:
  - name: ${ROLE}
    owner: team-it
    backend: { kind: opaque-token }
    bindings: [{ namespace: it-bg-${RUN}, serviceAccount: app }]
    ttl: 5m
    maxTtl: 20m
managedSecrets:
  - name: ${SECRET}
    owner: team-it
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 30d
    gracePeriod: 3s
    bindings: [{ namespace: it-bg-${RUN}, serviceAccount: app }]
    targets:
      - { kind: webhook, name: billing-hook, url: 'https://billing.example/rotor', signingKeyEnv: ROTOR_WEBHOOK_KEY_IT_BG }
`;

describe('break-glass that forgives mistakes: preview, Idempotency-Key, list', () => {
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let redis: Redis;
  let gsm: GsmSecretStore;
  let sre: string;
  let canary: string;
  const body = (ticket: string, extra: Record<string, unknown> = {}) => ({
    secrets: [SECRET],
    reason: 'database on fire, need the key by hand',
    ticket,
    ttl: '10m',
    ...extra,
  });

  beforeAll(async () => {
    identity = await TestIdentity.create();
    redis = redisFromEnv(requiredEnv('REDIS_URL'));
    gsm = new GsmSecretStore({ project: requiredEnv('GSM_PROJECT'), emulatorHost: requiredEnv('SECRET_MANAGER_EMULATOR_HOST') });
    issuer = new ServiceProcess('issuer', 19881, {
      ...identity.env,
      ROTOR_CATALOG: writeTempCatalog(CATALOG),
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_WEBHOOK_KEY_IT_BG: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
    });
    await ensurePortFree(issuer.port);
    await issuer.start().ready();
    sre = await identity.operatorToken(SRE, ['rotor:sre']);
    const gsmVersion = await eventually(async () => (await redis.hget(`issuer:secret:${SECRET}`, 'gsmVersion')) ?? undefined, {
      what: 'the initial version',
    });
    canary = (await gsm.access(gsmVersion)).toString('utf8');
    expect(canary.length).toBeGreaterThan(20);
  }, 120_000);

  afterAll(async () => {
    await issuer?.stop();
    await gsm?.close();
    redis?.disconnect();
  });

  const call = async (method: string, path: string, token: string, payload?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${issuer.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
    });
    const text = await response.text();
    return { status: response.status, text, body: JSON.parse(text) as Record<string, unknown> };
  };
  /** Every access listed, page after page, newest first. */
  const listAll = async (query = '', limit = 1_000): Promise<BreakGlassAccess[]> => {
    const items: BreakGlassAccess[] = [];
    let after: string | undefined;
    do {
      const page = await call('GET', `/v1/break-glass?limit=${limit}${query}${after ? `&after=${after}` : ''}`, sre);
      expect(page.status).toBe(200);
      const { items: more, next } = page.body as unknown as BreakGlassPage;
      items.push(...more);
      after = next;
    } while (after);
    return items;
  };
  const accessesOf = async (ticket: string) => (await listAll()).filter((access) => access.ticket === ticket);

  it('previews what opening would expose without a value, and opens nothing', async () => {
    const before = await listAll();
    const answer = await call('POST', '/v1/break-glass/preview', sre, body(`INC-P-${RUN}`, { role: ROLE, ttl: '25m' }));
    expect(answer.status).toBe(200);
    const preview = answer.body as unknown as BreakGlassPreview;
    expect(preview).toMatchObject({
      secrets: [
        {
          secret: SECRET,
          current: { version: 1, gsmVersion: expect.stringMatching(new RegExp(`/secrets/${SECRET}/versions/1$`)) },
          targets: [{ kind: 'webhook', name: 'billing-hook' }],
        },
      ],
      // The access gets 25 minutes; the role's credential no more than its maxTtl.
      role: { name: ROLE, backend: 'opaque-token', ttlSeconds: 1_200 },
      ttlSeconds: 1_500,
      followUp: expect.stringContaining('rotated'),
    });
    expect(answer.text).not.toContain(canary);
    expect(await listAll()).toEqual(before);
    expect(issuer.logs).not.toContain(canary);

    // The same refusals opening gives, before anything.
    expect(await call('POST', '/v1/break-glass/preview', sre, body('INC-1', { secrets: ['not-in-catalog'] }))).toMatchObject({
      status: 400,
      body: { code: 'unknown-managed-secret' },
    });
    expect(await call('POST', '/v1/break-glass/preview', sre, body('INC-1', { role: 'no-such-role' }))).toMatchObject({
      status: 400,
      body: { code: 'unknown-role' },
    });
    expect(await call('POST', '/v1/break-glass/preview', sre, body('INC-1', { ttl: '2h' }))).toMatchObject({
      status: 400,
      body: { code: 'ttl-above-max' },
    });
  });

  it("documents the routes with their rest-contract schemas in the issuer's OpenAPI document", async () => {
    const docs = (await (await fetch(`${issuer.url}/docs/json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
      components: { schemas: Record<string, unknown> };
    };
    const answer = (path: string, method: string, status: string) =>
      docs.paths[path]?.[method]?.responses[status]?.content?.['application/json']?.schema;
    expect({
      preview: answer('/v1/break-glass/preview', 'post', '200'),
      open: answer('/v1/break-glass', 'post', '201'),
      list: answer('/v1/break-glass', 'get', '200'),
    }).toEqual({
      preview: { $ref: '#/components/schemas/BreakGlassPreview' },
      open: { $ref: '#/components/schemas/BreakGlassGrant' },
      list: { $ref: '#/components/schemas/BreakGlassPage' },
    });
    expect(Object.keys(docs.components.schemas)).toEqual(
      expect.arrayContaining(['BreakGlassPreview', 'BreakGlassPage', 'BreakGlassAccess']),
    );
  });

  it('refuses a workload and an auditor on preview and open; an auditor may list', async () => {
    const workload = await identity.serviceAccountToken(`it-bg-${RUN}`, 'app');
    const auditor = await identity.operatorToken(`auditor-${RUN}@example.com`, ['rotor:auditor']);
    for (const token of [workload, auditor]) {
      expect((await call('POST', '/v1/break-glass/preview', token, body('INC-403'))).status).toBe(403);
      expect((await call('POST', '/v1/break-glass', token, body('INC-403'), { 'idempotency-key': 'k' })).status).toBe(403);
    }
    expect((await call('GET', '/v1/break-glass', workload)).status).toBe(403);
    expect((await call('GET', '/v1/break-glass?limit=1', auditor)).status).toBe(200);
    expect(await accessesOf('INC-403')).toEqual([]);
  });

  it('opens once per Idempotency-Key and SRE: the same key again gets 409 with the access, and no value', async () => {
    const ticket = `INC-K-${RUN}`;
    const key = `bg-${RUN}-${randomUUID()}`;
    const first = await call('POST', '/v1/break-glass', sre, body(ticket), { 'idempotency-key': key });
    expect(first.status).toBe(201);
    const grant = first.body as unknown as BreakGlassGrant;
    expect(grant.secrets[0]?.value).toBe(canary);

    const again = await call('POST', '/v1/break-glass', sre, body(ticket), { 'idempotency-key': key });
    expect(again).toMatchObject({
      status: 409,
      body: { code: 'break-glass-already-open', breakGlassId: grant.id, state: 'open', expiresAt: grant.expiresAt },
    });
    expect(again.text).not.toContain(canary);
    expect((await accessesOf(ticket)).map((access) => access.id)).toEqual([grant.id]);

    // Concurrent duplicates of a new key: one opens.
    const concurrentKey = `${key}-c`;
    const answers = await Promise.all(
      [1, 2, 3].map(() => call('POST', '/v1/break-glass', sre, body(`${ticket}-c`), { 'idempotency-key': concurrentKey })),
    );
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409, 409]);
    const opened = answers.find((answer) => answer.status === 201)!.body['id'];
    for (const answer of answers.filter((a) => a.status === 409)) expect(answer.body['breakGlassId']).toBe(opened);
    expect((await accessesOf(`${ticket}-c`)).map((access) => access.id)).toEqual([opened]);

    // Another SRE's key of the same text is theirs.
    const other = await call('POST', '/v1/break-glass', await identity.operatorToken(OTHER_SRE, ['rotor:sre']), body(ticket), {
      'idempotency-key': key,
    });
    expect(other.status).toBe(201);
    expect(other.body['id']).not.toBe(grant.id);

    expect((await call('POST', '/v1/break-glass', sre, body(ticket), { 'idempotency-key': 'has space' })).body['code']).toBe(
      'invalid-idempotency-key',
    );
  }, 60_000);

  it('rotor break-glass: a dry run shows versions and targets and never a value; the same command twice opens once', async () => {
    const ticket = `INC-CLI-${RUN}`;
    const cliEnv = { ROTOR_ISSUER_URL: issuer.url, ROTOR_TOKEN: sre };
    const open = [
      'break-glass',
      '--secret',
      SECRET,
      '--reason',
      'database on fire, need the key by hand',
      '--ticket',
      ticket,
      '--ttl',
      '10m',
    ];

    const dryRun = await runRotorCli([...open, '--dry-run'], cliEnv);
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toMatch(new RegExp(`secret ${SECRET}: version \\d+; rotated when it ends`));
    expect(dryRun.stdout).toContain(`open for 600 s`);
    // No terminal to ask on and no --yes: refused.
    const unconfirmed = await runRotorCli(open, cliEnv);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('break-glass access starts only when confirmed');
    for (const run of [dryRun, unconfirmed]) expect(run.stdout + run.stderr).not.toContain(canary);
    expect(await accessesOf(ticket)).toEqual([]);

    const first = await runRotorCli([...open, '--yes', '--output', 'json'], cliEnv);
    expect(first.code).toBe(0);
    const grant = JSON.parse(first.stdout) as BreakGlassGrant;
    expect(grant.secrets[0]?.value).toBe(canary); // shown once, to the SRE who asked
    // The same command again (a retry after a lost answer) opens nothing and shows nothing.
    const again = await runRotorCli([...open, '--yes'], cliEnv);
    expect(again.code).toBe(6);
    expect(again.stderr).toContain(`this command already opened break-glass ${grant.id} (open, until ${grant.expiresAt})`);
    expect(again.stdout + again.stderr).not.toContain(canary);
    expect((await accessesOf(ticket)).map((access) => access.id)).toEqual([grant.id]);

    const listed = await runRotorCli(['break-glass', 'list', '--state', 'open', '--output', 'json'], cliEnv);
    expect((JSON.parse(listed.stdout) as BreakGlassPage).items.map((access) => access.id)).toContain(grant.id);
    expect(listed.stdout).not.toContain(canary);
    expect((await runRotorCli(['break-glass', 'end', grant.id], cliEnv)).code).toBe(0);
  }, 60_000);

  it('lists newest first, a page at a time, filtered by state', async () => {
    const ticket = `INC-L-${RUN}`;
    const ids: string[] = [];
    for (const _ of [1, 2, 3]) {
      const opened = await call('POST', '/v1/break-glass', sre, body(ticket, { role: ROLE }));
      expect(opened.status).toBe(201);
      ids.push(opened.body['id'] as string);
    }
    expect((await call('DELETE', `/v1/break-glass/${ids[1]}`, sre)).status).toBe(200);

    const first = (await call('GET', '/v1/break-glass?limit=2', sre)).body as unknown as BreakGlassPage;
    expect(first.items.map((access) => access.id)).toEqual([ids[2], ids[1]]);
    expect(first.next).toBe(ids[1]);
    const second = (await call('GET', `/v1/break-glass?limit=1&after=${first.next}`, sre)).body as unknown as BreakGlassPage;
    expect(second.items.map((access) => access.id)).toEqual([ids[0]]);

    const mine = await accessesOf(ticket);
    expect(mine.map((access) => access.id)).toEqual([...ids].reverse());
    expect(mine[2]).toEqual({
      id: ids[0],
      state: 'open',
      requestedBy: SRE,
      secrets: [SECRET],
      role: { name: ROLE, leaseId: expect.any(String) },
      reason: 'database on fire, need the key by hand',
      ticket,
      openedAt: expect.any(String),
      expiresAt: expect.any(String),
    });
    expect(mine[1]).toMatchObject({ id: ids[1], state: 'ended', endedAt: expect.any(String) });
    expect(JSON.stringify(mine)).not.toContain(canary);

    const ended = (await listAll('&state=ended', 1)).filter((access) => access.ticket === ticket);
    const open = (await listAll('&state=open', 2)).filter((access) => access.ticket === ticket);
    expect({ ended: ended.map((access) => access.id), open: open.map((access) => access.id) }).toEqual({
      ended: [ids[1]],
      open: [ids[2], ids[0]],
    });
    expect((await call('GET', `/v1/break-glass?after=${randomUUID()}`, sre)).body['code']).toBe('invalid-query');
    expect((await call('GET', '/v1/break-glass?state=closed', sre)).body['code']).toBe('invalid-query');
  }, 60_000);

  it('lists accesses recorded before the index, once the issuer has started again', async () => {
    const ticket = `INC-OLD-${RUN}`;
    const withRole = await call('POST', '/v1/break-glass', sre, body(ticket, { role: ROLE }));
    expect(withRole.status).toBe(201);
    const grant = withRole.body as unknown as Required<BreakGlassGrant>;
    // Rewritten as the previous release kept them: expiry, secrets and role lease only, and no index entry.
    await redis.set(
      `issuer:breakglass:${grant.id}`,
      JSON.stringify({ expiresAt: grant.expiresAt, secrets: [SECRET], roleLeaseId: grant.role.leaseId }),
      'KEEPTTL',
    );
    await redis.zrem(INDEX, grant.id);
    const secretsOnly = randomUUID();
    const expiresAt = new Date(Date.now() + 600_000).toISOString();
    await redis.set(`issuer:breakglass:${secretsOnly}`, JSON.stringify({ expiresAt, secrets: [SECRET] }), 'PX', 600_000 + 7 * 86_400_000);
    const listed = async () => (await listAll()).filter((access) => [grant.id, secretsOnly].includes(access.id));
    expect(await listed()).toEqual([]);

    await issuer.stop();
    await issuer.start().ready();

    const upgraded = await listed();
    expect(upgraded).toEqual([
      { id: secretsOnly, state: 'open', secrets: [SECRET], expiresAt },
      {
        id: grant.id,
        state: 'open',
        requestedBy: SRE,
        secrets: [SECRET],
        role: { name: ROLE, leaseId: grant.role.leaseId },
        openedAt: expect.any(String),
        expiresAt: grant.expiresAt,
      },
    ]);
    expect((await call('DELETE', `/v1/break-glass/${secretsOnly}`, sre)).status).toBe(200);
    expect((await listed()).find((access) => access.id === secretsOnly)).toMatchObject({ state: 'ended' });
  }, 120_000);
});
