import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { EmergencyRotationView, IssuedCredential, LeaseView } from '@rotor/rest-contract';

import { eventually } from '../support/eventually';
import { fetchTrace, newTraceparent, type Trace } from '../support/jaeger';
import { PrivateAuditLog } from '../support/private-audit-log';
import { startRotorCli } from '../support/rotor-cli';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { writeTempCatalog } from '../support/temp-files';
import { kafkaFromEnv } from '../../tools/security/env-clients';

const kafka = kafkaFromEnv('rotor-test-tracing');

type Span = Trace['spans'][number];

/** The one span of `service` whose name matches; fails naming what the trace holds. */
const spanOf = (trace: Trace, service: string, name: RegExp): Span => {
  const found = trace.spans.filter((span) => span.service === service && name.test(span.operationName));
  if (found.length === 0)
    throw new Error(
      `no ${service} span ${name} in the trace; it holds: ${trace.spans.map((s) => `${s.service}:${s.operationName}`).join(', ')}`,
    );
  return found[0]!;
};

/** Whether `descendant` is `ancestor` or below it in the trace's parent/child tree. */
const isBelow = (trace: Trace, descendant: Span, ancestor: Span): boolean => {
  const byId = new Map(trace.spans.map((span) => [span.spanID, span]));
  for (let current: Span | undefined = descendant; current; current = current.parentSpanID ? byId.get(current.parentSpanID) : undefined)
    if (current.spanID === ancestor.spanID) return true;
  return false;
};

/** Waits until Jaeger holds the trace with every span `ready` asks for (services export in batches). */
const traceWith = (traceId: string, ready: (trace: Trace) => boolean, what: string) =>
  eventually(
    async () => {
      const trace = await fetchTrace(traceId);
      return trace && ready(trace) ? trace : undefined;
    },
    { what, timeoutMs: 60_000, intervalMs: 500 },
  );

const has = (service: string, name: RegExp) => (trace: Trace) =>
  trace.spans.some((span) => span.service === service && name.test(span.operationName));

describe('tracing: one trace per credential, and per emergency rotation, across the four services', () => {
  const secret = `traced-key-${randomUUID().slice(0, 8)}`;
  const fileRoot = mkdtempSync(join(tmpdir(), 'rotor-traced-files-'));
  const audit = new PrivateAuditLog(kafka, 'tracing');
  let identity: TestIdentity;
  let services: Record<'issuer' | 'revoker' | 'distributor' | 'auditor', ServiceProcess>;

  beforeAll(async () => {
    identity = await TestIdentity.create();
    await audit.create();
    const catalog = writeTempCatalog(`
roles:
  - name: traced-token
    owner: team-e2e
    backend: { kind: opaque-token }
    bindings:
      - { namespace: e2e, serviceAccount: worker }
    ttl: 2s
    maxTtl: 10s
managedSecrets:
  - name: ${secret}
    owner: team-e2e
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h
    targets:
      - { kind: file, name: node-agent, path: ${join(fileRoot, 'app')} }
`);
    const env = {
      ...identity.env,
      ROTOR_CATALOG: catalog,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_AUDIT_KEY: randomBytes(32).toString('hex'),
      ROTOR_CONTENT_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_REVOKE_POLL_MS: '100',
      // Every span of these processes, whatever the stack's default sampling.
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    };
    services = {
      issuer: new ServiceProcess('issuer', 19122, env),
      revoker: new ServiceProcess('revoker', 19123, env),
      distributor: new ServiceProcess('distributor', 19124, { ...env, ROTOR_FILE_TARGET_ROOTS: fileRoot, ROTOR_DRIFT_SCAN_MS: '0' }),
      auditor: new ServiceProcess('auditor', 19125, { ...env, ...audit.env() }),
    };
    await Promise.all(Object.values(services).map((service) => service.start().ready()));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(Object.values(services ?? {}).map((service) => service.stop()));
    await audit.drop();
  });

  it('follows a credential from POST /v1/credentials through its expiry and revocation to the audit log, and no span holds the token', async () => {
    const workloadToken = await identity.serviceAccountToken('e2e', 'worker');
    const caller = newTraceparent();
    const issuedResponse = await fetch(`${services.issuer.url}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${workloadToken}`, 'content-type': 'application/json', traceparent: caller.traceparent },
      body: JSON.stringify({ role: 'traced-token', ttl: 2 }),
    });
    expect(issuedResponse.status).toBe(201);
    const issued = (await issuedResponse.json()) as IssuedCredential;
    const canary = issued.credential['token']!;
    await eventually(
      async () => {
        const response = await fetch(`${services.issuer.url}/v1/leases/${issued.leaseId}`, {
          headers: { authorization: `Bearer ${workloadToken}` },
        });
        return ((await response.json()) as LeaseView).state === 'revoked' ? true : undefined;
      },
      { what: 'the revocation at expiry' },
    );

    const trace = await traceWith(
      caller.traceId,
      (candidate) =>
        has('rotor-auditor', /^process .*lease\.revoked\.v1$/)(candidate) &&
        has('rotor-auditor', /^process .*lease\.issued\.v1$/)(candidate) &&
        has('rotor-revoker', /^send .*lease\.revoked\.v1$/)(candidate),
      'the whole credential trace in Jaeger',
    );
    // POST /v1/credentials (the caller's traceparent is its parent) → send lease.issued
    const request = spanOf(trace, 'rotor-issuer', /^POST \/v1\/credentials$/);
    expect(request.parentSpanID).toBe(caller.spanId);
    expect(request.tags).toEqual(expect.arrayContaining([{ key: 'http.route', type: 'string', value: '/v1/credentials' }]));
    const issuedSend = spanOf(trace, 'rotor-issuer', /^send .*lease\.issued\.v1$/);
    expect(isBelow(trace, issuedSend, request)).toBe(true);
    // Redis calls of the request are in it, by command name only.
    expect(
      trace.spans.some(
        (span) =>
          span.service === 'rotor-issuer' &&
          isBelow(trace, span, request) &&
          /^(multi|exec|evalsha|eval|hset|set)/i.test(span.operationName),
      ),
    ).toBe(true);
    // → the revoker schedules it (process lease.issued), revokes it at expiry in the same trace, and says so.
    const scheduled = spanOf(trace, 'rotor-revoker', /^process .*lease\.issued\.v1$/);
    expect(scheduled.parentSpanID).toBe(issuedSend.spanID);
    const revocation = spanOf(trace, 'rotor-revoker', /^revoke lease$/);
    expect(revocation.parentSpanID).toBe(scheduled.spanID);
    expect(revocation.tags).toEqual(expect.arrayContaining([{ key: 'rotor.revocation.outcome', type: 'string', value: 'revoked' }]));
    const revokedSend = spanOf(trace, 'rotor-revoker', /^send .*lease\.revoked\.v1$/);
    expect(isBelow(trace, revokedSend, revocation)).toBe(true);
    // → the auditor appends both events.
    expect(spanOf(trace, 'rotor-auditor', /^process .*lease\.issued\.v1$/).parentSpanID).toBe(issuedSend.spanID);
    expect(spanOf(trace, 'rotor-auditor', /^process .*lease\.revoked\.v1$/).parentSpanID).toBe(revokedSend.spanID);
    // Canary: the issued token appears in no span, attribute or event of the exported trace.
    expect(trace.json).not.toContain(canary);
    expect(trace.json).not.toContain(workloadToken.split('.')[2]!);

    // The CLI shows the same trace as a tree (the terminal is the trace UI here).
    const shown = await startRotorCli(['trace', 'show', caller.traceId, '--output', 'json'], {}).done;
    expect(shown.code).toBe(0);
    const tree = (JSON.parse(shown.stdout) as { spans: { spanId: string; depth: number; operation: string; service: string }[] }).spans;
    expect(tree).toHaveLength(trace.spans.length);
    expect(tree[0]).toMatchObject({ spanId: request.spanID, depth: 0, operation: 'POST /v1/credentials', service: 'rotor-issuer' });
    const revokeAt = tree.findIndex((entry) => entry.spanId === revocation.spanID);
    expect(tree[revokeAt]!.depth).toBeGreaterThan(tree.find((entry) => entry.spanId === scheduled.spanID)!.depth);
    const table = await startRotorCli(['trace', 'show', caller.traceId], {}).done;
    expect(table.stdout).toMatch(/^ +revoke lease +rotor-revoker /m);
    const missing = await startRotorCli(['trace', 'show', '0'.repeat(31) + '1'], {}).done;
    expect(missing.code).toBe(6);
  }, 120_000);

  it('follows an emergency rotation: request → rotation at the issuer → delivery at the distributor → retirement at the revoker', async () => {
    const sre = await identity.operatorToken('sre@example.com', ['rotor:sre']);
    // The managed secret's first version, minted at the issuer's start, has reached its target.
    const caller = newTraceparent();
    const response = await fetch(`${services.revoker.url}/v1/emergency-rotations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sre}`, 'content-type': 'application/json', traceparent: caller.traceparent },
      body: JSON.stringify({ selector: { secret }, mode: 'immediate', reason: 'tracing test' }),
    });
    expect(response.status).toBe(202);
    const started = (await response.json()) as EmergencyRotationView;
    await eventually(
      async () => {
        const view = await fetch(`${services.revoker.url}/v1/emergency-rotations/${started.id}`, {
          headers: { authorization: `Bearer ${sre}` },
        });
        const body = (await view.json()) as EmergencyRotationView;
        return body.state === 'running' ? undefined : body;
      },
      { what: 'the emergency rotation to finish', timeoutMs: 60_000 },
    );

    const trace = await traceWith(
      caller.traceId,
      (candidate) =>
        has('rotor-revoker', /^retire version$/)(candidate) &&
        has('rotor-distributor', /^deliver copy$/)(candidate) &&
        has('rotor-auditor', /^process .*secret\.version-retired\.v1$/)(candidate),
      'the emergency rotation trace in Jaeger',
    );
    const request = spanOf(trace, 'rotor-revoker', /^POST \/v1\/emergency-rotations$/);
    expect(request.parentSpanID).toBe(caller.spanId);
    // The run advances in steps, each claim a span of the request's trace; one of them asked for the rotation.
    const steps = trace.spans.filter((span) => span.service === 'rotor-revoker' && span.operationName === 'advance emergency run');
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.every((step) => step.parentSpanID === request.spanID)).toBe(true);
    const asked = spanOf(trace, 'rotor-revoker', /^send .*rotation\.requested\.v1$/);
    expect(steps.some((step) => isBelow(trace, asked, step))).toBe(true);
    const rotation = spanOf(trace, 'rotor-issuer', /^process .*rotation\.requested\.v1$/);
    expect(rotation.parentSpanID).toBe(asked.spanID);
    const created = spanOf(trace, 'rotor-issuer', /^send .*secret\.version-created\.v1$/);
    expect(isBelow(trace, created, rotation)).toBe(true);
    // GSM calls of the rotation are its children (gRPC client spans).
    expect(
      trace.spans.some((span) => span.service === 'rotor-issuer' && /SecretManagerService\/AddSecretVersion/.test(span.operationName)),
    ).toBe(true);
    const queued = spanOf(trace, 'rotor-distributor', /^process .*secret\.version-created\.v1$/);
    expect(queued.parentSpanID).toBe(created.spanID);
    const delivery = spanOf(trace, 'rotor-distributor', /^deliver copy$/);
    expect(delivery.parentSpanID).toBe(queued.spanID);
    const retirement = spanOf(trace, 'rotor-revoker', /^retire version$/);
    // The revoker reads version-created in two groups (retirements, break-glass follow-ups): the retirement is below one of them.
    const revokerReads = trace.spans.filter(
      (span) => span.service === 'rotor-revoker' && /^process .*secret\.version-created\.v1$/.test(span.operationName),
    );
    expect(revokerReads.filter((read) => read.parentSpanID === created.spanID)).toHaveLength(revokerReads.length);
    expect(revokerReads.some((read) => isBelow(trace, retirement, read))).toBe(true);
    // All four services are in this one trace.
    expect(new Set(trace.spans.map((span) => span.service))).toEqual(
      new Set(['rotor-issuer', 'rotor-revoker', 'rotor-distributor', 'rotor-auditor']),
    );
  }, 120_000);
});
