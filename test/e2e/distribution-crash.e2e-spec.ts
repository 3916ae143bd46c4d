import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Topics } from '@rotor/contracts';
import type { DeliveryPage } from '@rotor/rest-contract';
import { GsmSecretStore } from '@rotor/secret-store';
import { createWebhookReceiver, type WebhookNotice } from '@rotor/webhook-signature';

import { eventually } from '../support/eventually';
import { ServiceProcess } from '../support/service-process';
import { requiredEnv } from '../support/services-env';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince } from '../support/topic-tap';

const FILE_TARGETS = 60;
const WEBHOOK_TARGETS = 60;
const CONCURRENCY = 4;

describe('distribution survives a kill -9 mid-fan-out: every target ends up delivered, once in effect', () => {
  const started = new Date();
  const project = requiredEnv('GSM_PROJECT');
  const name = `fanout-${randomUUID().slice(0, 8)}`;
  const root = mkdtempSync(join(tmpdir(), 'rotor-fanout-'));
  const key = { id: 'k1', key: randomBytes(32).toString('hex') };
  const notices: (WebhookNotice & { path: string })[] = [];
  let server: Server;
  let identity: TestIdentity;
  let issuer: ServiceProcess;
  let distributor: ServiceProcess;
  let distributorEnv: Record<string, string>;

  beforeAll(async () => {
    await Promise.all([19003, 19004].map(ensurePortFree));
    identity = await TestIdentity.create();
    // A slow receiver (150 ms per notice), so the fan-out is still running when the distributor dies.
    const receive = createWebhookReceiver({
      keyring: [key],
      onNotice: async () => {
        await new Promise((resolve) => setTimeout(resolve, 150));
      },
    });
    server = createServer((request, response) => {
      const path = request.url ?? '';
      response.on('finish', () => {
        if (response.statusCode < 300 && lastNotice) notices.push({ ...lastNotice, path });
      });
      let lastNotice: WebhookNotice | undefined;
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => (lastNotice = JSON.parse(Buffer.concat(chunks).toString()) as WebhookNotice));
      receive(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const targets = [
      ...Array.from({ length: FILE_TARGETS }, (_, i) => `      - { kind: file, name: file-${i}, path: ${join(root, `t${i}`)} }`),
      ...Array.from(
        { length: WEBHOOK_TARGETS },
        // One receiver (one URL path, so one key) told apart by the query string.
        (_, i) =>
          `      - { kind: webhook, name: hook-${i}, url: "http://127.0.0.1:${port}/hooks?hook=${i}", signingKeyEnv: ROTOR_WEBHOOK_KEY_FANOUT }`,
      ),
    ];
    const catalogFile = writeTempCatalog(`
managedSecrets:
  - name: ${name}
    owner: team-fanout
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 1h
    gracePeriod: 1h
    targets:
${targets.join('\n')}
`);
    distributorEnv = {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_CONTENT_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_WEBHOOK_KEY_FANOUT: `${key.id}:${key.key}`,
      ROTOR_FILE_TARGET_ROOTS: root,
      ROTOR_DRIFT_SCAN_MS: '0',
      ROTOR_DELIVERY_CONCURRENCY_FILE: String(CONCURRENCY),
      ROTOR_DELIVERY_CONCURRENCY_WEBHOOK: String(CONCURRENCY),
      // A killed replica's claims come back after this long.
      ROTOR_DELIVERY_VISIBILITY_MS: '3000',
      LOG_LEVEL: 'info',
    };
    distributor = new ServiceProcess('distributor', 19004, distributorEnv);
    await distributor.start().ready();
    issuer = new ServiceProcess('issuer', 19003, {
      ...identity.env,
      ROTOR_CATALOG: catalogFile,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
    });
    await issuer.start().ready();
  }, 120_000);

  afterAll(async () => {
    await Promise.all([issuer?.stop(), distributor?.stop()]);
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('finishes the fan-out after a SIGKILL, with no target written twice in effect', async () => {
    // Kill it once a part of the webhooks (the slow kind) has been confirmed.
    await eventually(async () => (notices.length >= 10 ? true : undefined), { what: 'the fan-out under way', timeoutMs: 60_000 });
    await distributor.kill();
    const atKill = notices.length;
    expect(atKill).toBeLessThan(WEBHOOK_TARGETS);

    distributor = new ServiceProcess('distributor', 19004, distributorEnv);
    await distributor.start().ready();
    const sre = await identity.operatorToken('sre@example.com', ['rotor:sre']);
    const copies = await eventually(
      async () => {
        const response = await fetch(`${distributor.url}/v1/deliveries?secret=${name}`, { headers: { authorization: `Bearer ${sre}` } });
        const items = ((await response.json()) as DeliveryPage).items;
        return items.length === FILE_TARGETS + WEBHOOK_TARGETS && items.every((copy) => copy.state === 'delivered') ? items : undefined;
      },
      { what: 'every copy delivered after the restart', timeoutMs: 90_000 },
    );
    expect(new Set(copies.map((copy) => copy.target.name)).size).toBe(FILE_TARGETS + WEBHOOK_TARGETS);

    // Every directory holds the version's value, written atomically.
    const gsm = new GsmSecretStore({ project, emulatorHost: requiredEnv('SECRET_MANAGER_EMULATOR_HOST') });
    const value = (await gsm.access(`projects/${project}/secrets/${name}/versions/1`)).toString();
    await gsm.close();
    for (let i = 0; i < FILE_TARGETS; i++) expect(readFileSync(join(root, `t${i}`, 'value'), 'utf8')).toBe(value);

    // Every receiver was told; only a notice in flight at the kill may have been repeated
    // (at most one per slot), and a repeat names the same version: the same effect.
    const perHook = new Map<string, number>();
    for (const notice of notices) perHook.set(notice.path, (perHook.get(notice.path) ?? 0) + 1);
    expect(perHook.size).toBe(WEBHOOK_TARGETS);
    const repeats = [...perHook.values()].reduce((sum, count) => sum + count - 1, 0);
    expect(repeats).toBeLessThanOrEqual(CONCURRENCY);
    expect(new Set(notices.map((notice) => notice.version))).toEqual(new Set([1]));

    // One confirmation per copy: a repeated publish carries the same event id, which consumers dedupe.
    const completed = (await readRotorTopicsSince(started))
      .filter((m) => m.topic === Topics.deliveryCompleted && m.value.includes(`"secret":"${name}"`))
      .map((m) => JSON.parse(m.value) as { id: string; data: { target: { name: string } } });
    const idsPerTarget = new Map<string, Set<string>>();
    for (const event of completed)
      idsPerTarget.set(event.data.target.name, (idsPerTarget.get(event.data.target.name) ?? new Set()).add(event.id));
    expect(idsPerTarget.size).toBe(FILE_TARGETS + WEBHOOK_TARGETS);
    expect([...idsPerTarget.values()].every((ids) => ids.size === 1)).toBe(true);
  }, 180_000);
});
