import { createWebhookNotice, WebhookNoticeSchema } from './notice';
import { signedWebhookRequest } from './webhook-request';
import { signWebhook } from './signature';
import { verifyWebhook } from './verify-webhook';

const notice = {
  type: 'rotor.secret.version-ready' as const,
  secret: 'payments-api-key',
  version: 3,
  gsmVersion: 'projects/rotor-dev/secrets/payments-api-key/versions/3',
};
const KEY = { id: 'k1', key: 'receiver-key-0123456789abcdef0123' };

describe('webhook notice', () => {
  it('gets a fresh delivery id and sentAt', () => {
    const first = createWebhookNotice(notice);
    const second = createWebhookNotice(notice);
    expect(first).toMatchObject({ ...notice, sentAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(first.deliveryId).not.toBe(second.deliveryId);
  });

  it('can never carry a value: unknown fields are dropped when a notice is built, signed or read', () => {
    const built = createWebhookNotice({ ...notice, value: 's3cr3t-canary' } as typeof notice);
    expect(JSON.stringify(built)).not.toContain('s3cr3t-canary');
    expect(Object.keys(built)).not.toContain('value');

    const read = WebhookNoticeSchema.parse({ ...built, value: 's3cr3t-canary', data: { value: 'x' } });
    expect(read).toEqual(built);
    expect(
      JSON.stringify(signedWebhookRequest({ key: KEY, notice: { ...built, value: 's3cr3t-canary' } as typeof built }).body),
    ).not.toContain('canary');
  });

  it('refuses a notice of an unknown type, without a version, or with a malformed GSM reference', () => {
    const base = createWebhookNotice(notice);
    expect(WebhookNoticeSchema.safeParse({ ...base, type: 'rotor.secret.deleted' }).success).toBe(false);
    expect(WebhookNoticeSchema.safeParse({ ...base, version: undefined }).success).toBe(false);
    expect(WebhookNoticeSchema.safeParse({ ...base, gsmVersion: 'latest' }).success).toBe(false);
    expect(WebhookNoticeSchema.safeParse({ ...base, deliveryId: 'has spaces' }).success).toBe(false);
  });

  it('is sent as signed headers over the exact body', async () => {
    const built = createWebhookNotice(notice);
    const request = signedWebhookRequest({ key: KEY, notice: built, timestamp: new Date('2026-11-27T10:00:00Z') });
    expect(request.headers).toEqual({
      'content-type': 'application/json',
      'Rotor-Signature': signWebhook({ key: KEY, body: request.body, timestamp: new Date('2026-11-27T10:00:00Z') }),
      'Rotor-Delivery-Id': built.deliveryId,
    });
    await expect(
      verifyWebhook({
        keyring: [KEY],
        body: request.body,
        signatureHeader: request.headers['Rotor-Signature'],
        deliveryId: built.deliveryId,
        now: new Date('2026-11-27T10:01:00Z'),
      }),
    ).resolves.toMatchObject({ ok: true, notice: built, keyId: 'k1' });
  });

  it('never says where to read the value: an issuerUrl, even from an older sender, is dropped', () => {
    const built = createWebhookNotice({ ...notice, issuerUrl: 'https://attacker.example' } as typeof notice);
    expect(built).not.toHaveProperty('issuerUrl');
    const read = WebhookNoticeSchema.parse({ ...built, issuerUrl: 'https://attacker.example' });
    expect(read).not.toHaveProperty('issuerUrl');
    expect(signedWebhookRequest({ key: KEY, notice: read }).body).not.toContain('attacker');
  });
});
