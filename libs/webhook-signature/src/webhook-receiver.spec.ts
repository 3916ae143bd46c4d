import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { WebhookKeyring } from './keyring';
import { createWebhookNotice, type WebhookNotice } from './notice';
import { signWebhook } from './signature';
import { createWebhookReceiver, type WebhookReceiverOptions } from './webhook-receiver';
import { signedWebhookRequest } from './webhook-request';

const KEY = { id: 'new', key: 'receiver-key-0123456789abcdef0123' };
const OLD_KEY = { id: 'old', key: 'receiver-key-old-fedcba9876543210' };

describe('webhook receiver over HTTP', () => {
  let server: Server;
  let url: string;
  let received: WebhookNotice[];
  let onNotice: WebhookReceiverOptions['onNotice'];
  let keyring: WebhookKeyring = [KEY, OLD_KEY];

  beforeAll(async () => {
    server = createServer(createWebhookReceiver({ keyring: () => keyring, onNotice: (notice) => onNotice(notice) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rotor`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    keyring = [KEY, OLD_KEY];
    received = [];
    onNotice = async (notice) => {
      received.push(notice);
    };
  });

  const notice = () => createWebhookNotice({ type: 'rotor.secret.version-ready', secret: 'payments-api-key', version: 4 });
  const post = (body: string, headers: Record<string, string>) => fetch(url, { method: 'POST', body, headers });
  const send = (n: WebhookNotice, key = KEY, timestamp?: Date) => {
    const request = signedWebhookRequest({ key, notice: n, timestamp });
    return post(request.body, request.headers);
  };

  it('answers 204 once onNotice has handled a genuine notice', async () => {
    const sent = notice();
    const response = await send(sent);
    expect(response.status).toBe(204);
    expect(received).toEqual([sent]);
  });

  it('accepts notices signed with the old key during a rotation', async () => {
    expect((await send(notice(), OLD_KEY)).status).toBe(204);
  });

  it('refuses notices signed with the old key once it is retired from the keyring', async () => {
    keyring = [KEY];
    const response = await send(notice(), OLD_KEY);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'unknown-key-id' });
    expect((await send(notice(), KEY)).status).toBe(204);
  });

  it('refuses a forged notice with 401 problem+json naming the reason, without calling onNotice', async () => {
    const response = await send(notice(), { id: KEY.id, key: 'a-guessed-key-0123456789abcdef0123' });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 401, code: 'bad-signature' });
    expect(received).toEqual([]);
  });

  it('refuses a body edited in transit', async () => {
    const request = signedWebhookRequest({ key: KEY, notice: notice() });
    const response = await post(request.body.replace('"version":4', '"version":5'), request.headers);
    expect(await response.json()).toMatchObject({ code: 'bad-signature' });
  });

  it('refuses a stale notice and a replayed one', async () => {
    const stale = await send(notice(), KEY, new Date(Date.now() - 10 * 60_000));
    expect(stale.status).toBe(401);
    expect(await stale.json()).toMatchObject({ code: 'stale-timestamp' });

    const request = signedWebhookRequest({ key: KEY, notice: notice() });
    expect((await post(request.body, request.headers)).status).toBe(204);
    const replay = await post(request.body, request.headers);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ code: 'replayed' });
    expect(received).toHaveLength(1);
  });

  it('refuses a captured body replayed under a new delivery id', async () => {
    const request = signedWebhookRequest({ key: KEY, notice: notice() });
    expect((await post(request.body, request.headers)).status).toBe(204);
    const response = await post(request.body, { ...request.headers, 'Rotor-Delivery-Id': 'fresh-id' });
    expect(await response.json()).toMatchObject({ code: 'delivery-id-mismatch' });
    expect(received).toHaveLength(1);
  });

  it('does not let a captured body under a forged delivery id header block the notice that owns that id', async () => {
    const captured = signedWebhookRequest({ key: KEY, notice: notice() });
    const pending = signedWebhookRequest({ key: KEY, notice: notice() });
    const forged = await post(captured.body, { ...captured.headers, 'Rotor-Delivery-Id': pending.headers['Rotor-Delivery-Id']! });
    expect(forged.status).toBe(401);
    expect((await post(pending.body, pending.headers)).status).toBe(204);
    expect(received.map((n) => n.deliveryId)).toEqual([JSON.parse(pending.body).deliveryId]);
  });

  it('answers 400 for a genuinely signed body that is not a notice', async () => {
    const body = JSON.stringify({ type: 'rotor.secret.version-ready', secret: 'payments-api-key', deliveryId: 'd-400' });
    const response = await post(body, { 'Rotor-Signature': signWebhook({ key: KEY, body }), 'Rotor-Delivery-Id': 'd-400' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'malformed-notice', detail: expect.stringContaining('version') });
  });

  it('answers 500 when onNotice throws, and accepts the retry of the same notice', async () => {
    onNotice = async () => {
      throw new Error('issuer unreachable');
    };
    const request = signedWebhookRequest({ key: KEY, notice: notice() });
    const failed = await post(request.body, request.headers);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toMatchObject({ code: 'notice-not-handled' });

    onNotice = async (n) => {
      received.push(n);
    };
    expect((await post(request.body, request.headers)).status).toBe(204);
    expect(received).toHaveLength(1);
  });

  it('refuses an oversized body with 413 and anything but POST with 405', async () => {
    expect((await post('x'.repeat(70 * 1024), {})).status).toBe(413);
    expect((await fetch(url)).status).toBe(405);
  });
});
