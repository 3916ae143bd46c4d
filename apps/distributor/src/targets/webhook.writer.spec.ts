import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError } from '@rotor/config';
import type { Target } from '@rotor/catalog';
import { createWebhookReceiver, type WebhookKeyring, type WebhookNotice } from '@rotor/webhook-signature';

import { WebhookKeyrings } from './webhook-keys';
import { WebhookWriter } from './webhook.writer';

const OLD = { id: '2026-06', key: 'o'.repeat(40) };
const NEW = { id: '2026-12', key: 'n'.repeat(40) };
const ring = (...keys: { id: string; key: string }[]) => keys.map((k) => `${k.id}:${k.key}`).join(',');
const copy = { secret: 'payments-api-key', version: 3, gsmVersion: 'projects/p/secrets/payments-api-key/versions/3' };

describe('webhook writer', () => {
  let server: Server;
  let receiverKeyring: WebhookKeyring;
  let notices: WebhookNotice[];
  let rejected: string[];
  let target: Extract<Target, { kind: 'webhook' }>;

  beforeAll(async () => {
    const handler = createWebhookReceiver({
      keyring: () => receiverKeyring,
      onNotice: (notice) => void notices.push(notice),
      onRejected: ({ code }) => rejected.push(code),
    });
    server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rotor`;
    target = { kind: 'webhook', name: 'billing', url, signingKeyEnv: 'ROTOR_WEBHOOK_KEY_BILLING' };
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  beforeEach(() => {
    notices = [];
    rejected = [];
  });

  const writerWith = (env: NodeJS.ProcessEnv) =>
    new WebhookWriter({ keyrings: WebhookKeyrings.fromEnvironment([target], env), timeoutMs: 5_000 });

  it('sends a notice that names the version but not where to read it', async () => {
    receiverKeyring = [NEW];
    await writerWith({ ROTOR_WEBHOOK_KEY_BILLING: ring(NEW) }).write(target, { ...copy, contentHash: 'h', value: Buffer.from('v') });
    expect(notices).toEqual([expect.objectContaining({ type: 'rotor.secret.version-ready', secret: 'payments-api-key', version: 3 })]);
    expect(notices[0]).not.toHaveProperty('issuerUrl');
  });

  it('rotates a receiver key through a mounted file with no restart: old+new, switch, retire', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-webhook-keys-'));
    const file = join(dir, 'keyring');
    // Written as Kubernetes updates a mounted Secret: a new file renamed over the old one.
    const mount = (text: string) => {
      writeFileSync(join(dir, 'next'), text, { mode: 0o600 });
      renameSync(join(dir, 'next'), file);
    };
    mount(ring(OLD));
    const writer = writerWith({ ROTOR_WEBHOOK_KEY_BILLING_FILE: file });
    const deliver = () => writer.remove(target, copy);

    receiverKeyring = [OLD];
    await deliver();
    receiverKeyring = [NEW, OLD]; // 1. the receiver accepts both
    await deliver();
    mount(ring(NEW, OLD)); // 2. the sender's keyring now starts with the new key
    await deliver();
    receiverKeyring = [NEW]; // 3. the old key is retired
    await deliver();
    expect(notices).toHaveLength(4);
    expect(rejected).toEqual([]);

    // A sender still on the retired key is refused.
    const stale = writerWith({ ROTOR_WEBHOOK_KEY_BILLING: ring(OLD) });
    await expect(stale.remove(target, copy)).rejects.toThrow('receiver answered HTTP 401');
    expect(rejected).toEqual(['unknown-key-id']);
  });

  it('refuses to start without a keyring for a target, or with a malformed one, naming the variable only', () => {
    const problems = (env: NodeJS.ProcessEnv) => {
      try {
        WebhookKeyrings.fromEnvironment([target], env);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };
    expect(problems({})).toEqual([expect.stringMatching(/^ROTOR_WEBHOOK_KEY_BILLING: is required by webhook target billing/)]);
    expect(problems({ ROTOR_WEBHOOK_KEY_BILLING: 'x'.repeat(40) })).toEqual([
      expect.stringMatching(/^ROTOR_WEBHOOK_KEY_BILLING: entry 1 is not <key id>:<key>/),
    ]);
    expect(problems({ ROTOR_WEBHOOK_KEY_BILLING_FILE: '/nonexistent/keyring' })).toEqual([
      'ROTOR_WEBHOOK_KEY_BILLING_FILE: cannot read /nonexistent/keyring (ENOENT)',
    ]);
    expect(problems({ ROTOR_WEBHOOK_KEY_BILLING: ring(NEW), ROTOR_WEBHOOK_KEY_BILLING_FILE: '/k' })).toEqual([
      expect.stringContaining('not both'),
    ]);
    expect(JSON.stringify(problems({ ROTOR_WEBHOOK_KEY_BILLING: `k:${'s'.repeat(20)}` }))).not.toContain('ssss');
  });
});
