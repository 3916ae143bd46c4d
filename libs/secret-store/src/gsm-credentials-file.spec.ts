import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { SecretManagerServiceClient } from '@google-cloud/secret-manager';

import { GsmSecretStore, type GsmClientFactory } from './gsm-secret-store';

/** A client that records which key it was built with and answers listSecrets. */
function recordingClients() {
  const built: { key: string; calls: number; closed: boolean }[] = [];
  const factory: GsmClientFactory = ({ emulatorHost, credentialsFile }) => {
    const client = { key: credentialsFile && !emulatorHost ? readFileSync(credentialsFile, 'utf8') : '', calls: 0, closed: false };
    built.push(client);
    return {
      listSecrets: async () => {
        client.calls++;
        return [[]];
      },
      close: async () => {
        client.closed = true;
      },
    } as unknown as SecretManagerServiceClient;
  };
  return { built, factory };
}

const keyFile = (id: string) => JSON.stringify({ type: 'service_account', private_key_id: id });
const waitFor = async (condition: () => boolean) => {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(condition()).toBe(true);
};

describe('GsmSecretStore with a key file (GOOGLE_APPLICATION_CREDENTIALS)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'rotor-gsm-key-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('builds a new client when the key file changes, so a rotated key needs no restart', async () => {
    const path = join(dir, 'key.json');
    writeFileSync(path, keyFile('old'));
    const { built, factory } = recordingClients();
    const store = new GsmSecretStore({ project: 'rotor-test', credentialsFile: path, credentialsPollMs: 20 }, undefined, factory);
    await store.ping();
    expect(built.map((client) => JSON.parse(client.key).private_key_id)).toEqual(['old']);

    writeFileSync(path, keyFile('new'));
    await waitFor(() => built.length === 2);
    await store.ping();
    expect(JSON.parse(built[1]!.key).private_key_id).toBe('new');
    expect(built.map((client) => client.calls)).toEqual([1, 1]);
    await store.close();
  });

  it('keeps the current client when the changed file is not a credentials file', async () => {
    const path = join(dir, 'key.json');
    writeFileSync(path, keyFile('old'));
    const { built, factory } = recordingClients();
    const store = new GsmSecretStore({ project: 'rotor-test', credentialsFile: path, credentialsPollMs: 20 }, undefined, factory);
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    writeFileSync(path, '{"half": ');
    await waitFor(() => emitWarning.mock.calls.length > 0);
    const warning = String(emitWarning.mock.calls[0]![0]);
    emitWarning.mockRestore();
    expect(warning).toContain('GOOGLE_APPLICATION_CREDENTIALS');
    expect(warning).not.toContain('half');
    await store.ping();
    expect(built).toHaveLength(1);
    await store.close();
  });

  it('never watches a key file with the emulator, which takes no credentials', async () => {
    const { built, factory } = recordingClients();
    const store = new GsmSecretStore(
      { project: 'rotor-test', emulatorHost: '127.0.0.1:1', credentialsFile: join(dir, 'absent.json') },
      undefined,
      factory,
    );
    expect(built).toHaveLength(1);
    await store.close();
  });
});
