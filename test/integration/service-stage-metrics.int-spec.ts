/**
 * The stage metrics as the real services export them: the issuer, revoker and auditor run as
 * processes (their Nest modules wire the metrics), scraped as curl and as Prometheus would.
 */
import { randomBytes } from 'node:crypto';

import { kafkaFromEnv } from '../../tools/security/env-clients';
import { eventually } from '../support/eventually';
import { startGroupAtEnd } from '../support/kafka-groups';
import { PrivateAuditLog } from '../support/private-audit-log';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { sampleValue } from '@rotor/telemetry';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';
const CATALOG = `
roles:
  - name: api-token
    owner: team-test
    backend: { kind: opaque-token }
    bindings: [{ namespace: shop, serviceAccount: orders }]
    ttl: 15m
    maxTtl: 1h
`;

describe('stage metrics of the running services', () => {
  const kafka = kafkaFromEnv('rotor-test-stage-metrics');
  const audit = new PrivateAuditLog(kafka, 'stage-metrics');
  let services: Record<'issuer' | 'revoker' | 'auditor', ServiceProcess>;
  /** A second auditor replica that verifies the log on its own, every 1.5 s. */
  let checkingAuditor: ServiceProcess;

  beforeAll(async () => {
    const identity = await TestIdentity.create();
    await audit.create();
    const env = {
      ...identity.env,
      ROTOR_CATALOG: writeTempCatalog(CATALOG),
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_AUDIT_KEY: randomBytes(32).toString('hex'),
    };
    services = {
      issuer: new ServiceProcess('issuer', 19144, env),
      revoker: new ServiceProcess('revoker', 19145, env),
      auditor: new ServiceProcess('auditor', 19146, { ...env, ...audit.env() }),
    };
    checkingAuditor = new ServiceProcess('auditor', 19147, { ...env, ...audit.env(), ROTOR_AUDIT_VERIFY_INTERVAL_MS: '1500' });
    for (const service of Object.values(services)) await ensurePortFree(service.port);
    // Nothing here needs the shared topics' backlog: the TTL clock starts past it.
    await startGroupAtEnd(kafka, 'rotor-revoker-clock');
    await Promise.all([...Object.values(services), checkingAuditor].map((service) => service.start().ready()));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...Object.values(services ?? {}), checkingAuditor].map((service) => service?.stop()));
    await audit.drop();
  });

  const scrape = async (service: ServiceProcess, accept = '*/*') => {
    const response = await fetch(`${service.url}/metrics`, { headers: { accept } });
    return { type: response.headers.get('content-type') ?? '', text: await response.text() };
  };

  it('issuer: GSM calls by RPC and outcome (the readiness probe lists secrets)', async () => {
    const { text } = await scrape(services.issuer);
    expect(sampleValue(text, 'rotor_gsm_calls_total', { method: 'ListSecrets', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(text).toContain('# TYPE rotor_gsm_quota_waits_total counter');
  });

  it('revoker: the due backlog, the claims in flight and the emergency runs, read at scrape time', async () => {
    const { text } = await scrape(services.revoker);
    expect(sampleValue(text, 'rotor_revocation_due_leases')).toEqual(expect.any(Number));
    expect(sampleValue(text, 'rotor_revocation_claims_in_flight')).toEqual(expect.any(Number));
    expect(sampleValue(text, 'rotor_emergency_rotations_active', { scope: 'rotation' })).toEqual(expect.any(Number));
    expect(text).toContain('# TYPE rotor_kafka_consumer_lag_messages gauge');
  });

  it('auditor: no chain status before a verification has run', async () => {
    const { text } = await scrape(services.auditor);
    expect(text).toContain('# TYPE rotor_audit_chain_broken gauge');
    expect(sampleValue(text, 'rotor_audit_chain_broken')).toBeUndefined();
  });

  it('auditor: verifies the log on its own every ROTOR_AUDIT_VERIFY_INTERVAL_MS, so the chain status follows without a request', async () => {
    const verified = await eventually(
      async () => {
        const { text } = await scrape(checkingAuditor);
        return sampleValue(text, 'rotor_audit_chain_broken') === undefined ? undefined : text;
      },
      { what: 'a periodic verification', timeoutMs: 30_000 },
    );
    expect(sampleValue(verified, 'rotor_audit_chain_broken')).toBe(0);
    expect(sampleValue(verified, 'rotor_audit_chain_verified_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  it('answers Prometheus in OpenMetrics and curl in the text format', async () => {
    for (const service of Object.values(services)) {
      const open = await scrape(service, PROMETHEUS_ACCEPT);
      expect(open.type).toMatch(/^application\/openmetrics-text;.*version=1\.0\.0/);
      expect(open.text).toContain('# TYPE rotor_http_requests counter');
      expect(open.text.endsWith('# EOF\n')).toBe(true);
      const text = await scrape(service);
      expect(text.type).toMatch(/^text\/plain;.*version=0\.0\.4/);
      expect(text.text).toContain('# TYPE rotor_http_requests_total counter');
    }
  });
});
