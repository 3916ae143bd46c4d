import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';

import { Topics } from '@rotor/contracts';

import { eventually } from '../support/eventually';
import { gsmEmulatorArgs } from '../support/gsm-emulator';
import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince } from '../support/topic-tap';
import { writeTempCatalog } from '../support/temp-files';
import { redisFromEnv } from '../../tools/security/env-clients';

describe('issuer when a dependency is down', () => {
  let identity: TestIdentity;

  beforeAll(async () => {
    identity = await TestIdentity.create();
  });

  it('answers 503 when PostgreSQL is unreachable, and leaves no lease and no event behind', async () => {
    const started = new Date();
    const namespace = `pgdown-${randomUUID().slice(0, 8)}`;
    const issuer = new ServiceProcess('issuer', 18680, {
      ...identity.env,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      // Nothing listens there; verify-full as on the secure stack, so only reachability is wrong.
      DATABASE_URL: 'postgres://rotor:rotor@127.0.0.1:1/rotor?sslmode=verify-full',
      ROTOR_CATALOG: writeTempCatalog(`
roles:
  - name: db
    owner: team-test
    backend: { kind: postgres, grants: ["GRANT CONNECT ON DATABASE rotor TO {{role}}"] }
    bindings: [{ namespace: ${namespace}, serviceAccount: app }]
    ttl: 1m
    maxTtl: 5m
`),
    });
    await issuer.start().live();
    try {
      const readiness = await fetch(`${issuer.url}/readyz`);
      expect(readiness.status).toBe(503);
      expect(await readiness.json()).toMatchObject({ checks: { postgres: { ok: false }, kafka: { ok: true }, redis: { ok: true } } });

      const response = await fetch(`${issuer.url}/v1/credentials`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await identity.serviceAccountToken(namespace, 'app')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ role: 'db' }),
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.headers.get('retry-after')).toBeTruthy();
      expect(await response.json()).toMatchObject({ code: 'postgres-unavailable' });

      const redis = redisFromEnv(requiredEnv('REDIS_URL'));
      expect(await redis.zcard(`issuer:active:workload:${namespace}/app`)).toBe(0);
      redis.disconnect();
      const issued = (await readRotorTopicsSince(started)).filter((m) => m.topic === Topics.leaseIssued && m.value.includes(namespace));
      expect(issued).toEqual([]);
    } finally {
      await issuer.stop();
    }
  });

  it('answers 503 for a managed secret when GSM is unreachable, and /readyz names gsm', async () => {
    const port = 19190;
    const emulator = spawn(process.execPath, gsmEmulatorArgs('--host', '127.0.0.1', '--port', String(port)), { stdio: 'ignore' });
    const name = `gsmdown-${randomUUID().slice(0, 8)}`;
    const issuer = new ServiceProcess('issuer', 18681, {
      ...identity.env,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      SECRET_MANAGER_EMULATOR_HOST: `127.0.0.1:${port}`,
      ROTOR_CATALOG: writeTempCatalog(`
managedSecrets:
  - name: ${name}
    owner: team-test
    generator: { kind: password, length: 24 }
    rotationPeriod: 1h
    gracePeriod: 1m
    bindings: [{ namespace: gsmdown, serviceAccount: app }]
`),
    });
    try {
      await issuer.start().ready();
      const token = await identity.serviceAccountToken('gsmdown', 'app');
      const read = () => fetch(`${issuer.url}/v1/secrets/${name}`, { headers: { authorization: `Bearer ${token}` } });
      await eventually(async () => ((await read()).status === 200 ? true : undefined), { what: 'the initial version' });

      await stop(emulator);
      const response = await read();
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ code: 'gsm-unavailable' });
      const readiness = await fetch(`${issuer.url}/readyz`);
      expect(readiness.status).toBe(503);
      expect(await readiness.json()).toMatchObject({ checks: { gsm: { ok: false }, redis: { ok: true } } });
    } finally {
      await stop(emulator);
      await issuer.stop();
    }
  });
});

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
};
