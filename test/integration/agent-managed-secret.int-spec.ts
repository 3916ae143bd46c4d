import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { IssuerClient } from '@rotor/client';
import { createEvent, Topics, type EventData } from '@rotor/contracts';
import { EventPublisher, readTopicRange } from '@rotor/kafka';

import { AgentProcess } from '../support/agent-process';
import { eventually } from '../support/eventually';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { kafkaFromEnv } from '../../tools/security/env-clients';

// Ports 19110-19119 belong to this suite.
const ISSUER_PORT = 19110;
const AGENT_HEALTH_PORT = 19111;

/** The bound the issue sets: a new version in the file within 5 s of its event. */
const BOUND_MS = 5_000;
/**
 * What a user who needs that bound configures: the agent follows a managed secret by polling
 * (the issuer has no conditional read or push yet), so a version waits at most one interval
 * plus a read or two. The default, 30 s, is for secrets that may lag.
 */
const POLL_INTERVAL = '3s';

const kafka = kafkaFromEnv('rotor-test-agent-secret');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('rotor agent following a managed secret of the real issuer (GSM emulator, Redis, Kafka)', () => {
  const started = new Date();
  const secret = `agent-secret-${randomUUID().slice(0, 8)}`;
  const publisher = new EventPublisher(kafka);
  let issuer: ServiceProcess;
  let workload: IssuerClient;
  let tokenFile: string;
  let sidecar: AgentProcess | undefined;

  /** The secret's version-created events since the suite started, with the time Kafka stamped on each. */
  const versionEvents = async () => {
    const events: { data: EventData<typeof Topics.secretVersionCreated>; timestamp: number }[] = [];
    await readTopicRange(kafka, {
      topic: Topics.secretVersionCreated,
      fromTime: started,
      onMessage: (message) => {
        const event = JSON.parse(message.value?.toString() ?? '{}') as { data: EventData<typeof Topics.secretVersionCreated> };
        if (event.data.secret === secret) events.push({ data: event.data, timestamp: Number(message.timestamp) });
      },
    });
    return events;
  };
  const versionEvent = (predicate: (data: EventData<typeof Topics.secretVersionCreated>) => boolean, what: string) =>
    eventually(async () => (await versionEvents()).find((event) => predicate(event.data)), { what, timeoutMs: 30_000, intervalMs: 300 });

  beforeAll(async () => {
    await Promise.all([ISSUER_PORT, AGENT_HEALTH_PORT].map(ensurePortFree));
    const identity = await TestIdentity.create();
    issuer = new ServiceProcess('issuer', ISSUER_PORT, {
      ...identity.env,
      // Shaped like the local catalog's demo-api-key, bound to this test's workload; no targets: the agent reads it from the issuer.
      ROTOR_CATALOG: writeTempCatalog(`
managedSecrets:
  - name: ${secret}
    owner: team-orders
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 30d
    gracePeriod: 1h
    bindings: [{ namespace: shop, serviceAccount: orders }]
`),
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    });
    await Promise.all([issuer.start().ready(), publisher.connect()]);
    tokenFile = join(mkdtempSync(join(tmpdir(), 'rotor-agent-secret-token-')), 'token');
    writeFileSync(tokenFile, await identity.serviceAccountToken('shop', 'orders'));
    workload = new IssuerClient({ url: issuer.url, caFile: requiredEnv('ROTOR_CA_FILE'), token: () => readFileSync(tokenFile, 'utf8') });
  }, 120_000);

  afterAll(async () => {
    await sidecar?.kill();
    await Promise.all([issuer?.stop(), publisher.disconnect()]);
  });

  it('writes the current version, and each new version reaches the file within 5 s of its version-created event', async () => {
    const initial = await versionEvent((data) => data.reason === 'initial', 'the initial version');
    const dir = mkdtempSync(join(tmpdir(), 'rotor-agent-secret-'));
    const file = join(dir, 'api-key');
    const config = join(dir, 'agent.json');
    writeFileSync(
      config,
      JSON.stringify({
        issuer: { url: issuer.url, caFile: requiredEnv('ROTOR_CA_FILE') },
        tokenFile,
        credentials: [{ name: 'api-key', secret, file, templateText: 'version={{version}}\nvalue={{value | json}}\n' }],
        sidecar: { listen: { port: AGENT_HEALTH_PORT }, secretPollInterval: POLL_INTERVAL },
      }),
    );
    sidecar = new AgentProcess(['sidecar', '--config', config], { POD_NAMESPACE: 'shop', POD_NAME: 'orders-secret' }).start();
    await eventually(async () => (existsSync(file) ? true : undefined), { what: 'the first file', timeoutMs: 30_000 });

    // Every version of the file, on each change and every 20 ms, with the time it was first seen.
    const firstSeen = new Map<number, { at: number; value: string }>();
    const partial: string[] = [];
    const check = () => {
      try {
        const content = readFileSync(file, 'utf8');
        const match = /^version=(\d+)\nvalue=("[^"\n]+")\n$/.exec(content);
        if (!match) partial.push(content.length === 0 ? '(empty)' : `(${content.length} characters)`);
        else if (!firstSeen.has(Number(match[1])))
          firstSeen.set(Number(match[1]), { at: Date.now(), value: JSON.parse(match[2]!) as string });
      } catch (error) {
        partial.push((error as NodeJS.ErrnoException).code ?? 'unreadable');
      }
    };
    check();
    const watcher = watch(dir, check);
    const poller = setInterval(check, 20);

    const lags: { version: number; fromCreatedMs: number; fromKafkaMs: number }[] = [];
    try {
      expect([...firstSeen.keys()]).toEqual([initial.data.version]);
      let previous = initial.data.version;
      // Three rotations at different points of the agent's poll cycle.
      for (const pause of [500, 1_700, 2_600]) {
        await sleep(pause);
        await publisher.publish(
          createEvent({
            topic: Topics.rotationRequested,
            source: '/rotor/test',
            subject: secret,
            data: { secret, reason: 'requested', requestedBy: { kind: 'operator', subject: 'sre@example.com', groups: ['rotor:sre'] } },
          }),
        );
        const created = await versionEvent((data) => data.previousVersion === previous, `the version after ${previous}`);
        const { version } = created.data;
        const seen = await eventually(async () => firstSeen.get(version), {
          what: `version ${version} in the file`,
          timeoutMs: 15_000,
          intervalMs: 50,
        });
        lags.push({ version, fromCreatedMs: seen.at - Date.parse(created.data.createdAt), fromKafkaMs: seen.at - created.timestamp });
        previous = version;
      }
    } finally {
      clearInterval(poller);
      watcher.close();
    }
    process.stderr.write(`agent-managed-secret (poll ${POLL_INTERVAL}): ${JSON.stringify(lags)}\n`);

    expect(partial).toEqual([]);
    for (const lag of lags) expect(lag.fromCreatedMs).toBeLessThanOrEqual(BOUND_MS);
    // The file holds what the issuer serves for the current version.
    const current = await workload.readSecret(secret);
    expect(current.version).toBe(lags.at(-1)!.version);
    expect(firstSeen.get(current.version)!.value).toBe(current.value);
    expect(readFileSync(file, 'utf8')).toBe(`version=${current.version}\nvalue=${JSON.stringify(current.value)}\n`);
    const newVersions = sidecar.records.filter((record) => record['msg'] === 'new secret version written');
    expect(newVersions.map((record) => record['version'])).toEqual(lags.map((lag) => lag.version));
    for (const { value } of firstSeen.values()) expect(sidecar.logs).not.toContain(value);

    sidecar.signal('SIGTERM');
    expect(await sidecar.exitCode(15_000)).toBe(0);
  }, 120_000);
});
