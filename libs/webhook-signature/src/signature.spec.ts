import { createWebhookNotice } from './notice';
import { InMemoryReplayGuard } from './replay-guard';
import { signWebhook, verifyWebhookSignature } from './signature';
import { verifyWebhook } from './verify-webhook';
import { signedWebhookRequest } from './webhook-request';

const KEY = { id: '2026-12', key: 'receiver-key-0123456789abcdef0123' };
const OLD_KEY = { id: '2026-06', key: 'receiver-key-old-fedcba9876543210' };
const SENT = new Date('2026-11-27T10:00:00Z');
const NOTICE = createWebhookNotice({ type: 'rotor.secret.version-ready', secret: 'payments-api-key', version: 7, deliveryId: 'd-1' });
const BODY = JSON.stringify(NOTICE);

const verify = (overrides: Partial<Parameters<typeof verifyWebhook>[0]> = {}) =>
  verifyWebhook({
    keyring: [KEY],
    body: BODY,
    signatureHeader: signWebhook({ key: KEY, body: BODY, timestamp: SENT }),
    deliveryId: 'd-1',
    now: SENT,
    ...overrides,
  });

describe('webhook signatures', () => {
  it('puts the unix timestamp, the key id and a hex HMAC-SHA256 of "<t>.<body>" in the header', () => {
    expect(signWebhook({ key: KEY, body: BODY, timestamp: SENT })).toMatch(/^t=1795773600,kid=2026-12,v1=[0-9a-f]{64}$/);
    expect(signWebhook({ key: KEY, body: BODY, timestamp: 1795773600 })).toBe(signWebhook({ key: KEY, body: BODY, timestamp: SENT }));
  });

  it('accepts a genuine notice, from a string or a Buffer body, naming the key that verified it', async () => {
    await expect(verify()).resolves.toEqual({ ok: true, timestamp: SENT, keyId: '2026-12', notice: NOTICE });
    await expect(verify({ body: Buffer.from(BODY) })).resolves.toMatchObject({ ok: true });
  });

  it('refuses a body changed after signing', async () => {
    await expect(verify({ body: BODY.replace('"version":7', '"version":8') })).resolves.toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a signature made with another key, even under an accepted key id', async () => {
    const signatureHeader = signWebhook({ key: { id: KEY.id, key: 'someone-elses-key-0123456789abcdef' }, body: BODY, timestamp: SENT });
    await expect(verify({ signatureHeader })).resolves.toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a timestamp moved by an attacker, because the timestamp is signed', async () => {
    const signatureHeader = signWebhook({ key: KEY, body: BODY, timestamp: SENT }).replace('t=1795773600', 't=1795773900');
    await expect(verify({ signatureHeader, now: new Date('2026-11-27T10:05:00Z') })).resolves.toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('refuses a notice older than the tolerance, and one too far in the future', async () => {
    await expect(verify({ now: new Date(SENT.getTime() + 301_000) })).resolves.toEqual({ ok: false, reason: 'stale-timestamp' });
    await expect(verify({ now: new Date(SENT.getTime() - 301_000) })).resolves.toEqual({ ok: false, reason: 'future-timestamp' });
    await expect(verify({ now: new Date(SENT.getTime() + 300_000) })).resolves.toMatchObject({ ok: true });
    await expect(verify({ now: new Date(SENT.getTime() + 61_000), toleranceSeconds: 60 })).resolves.toEqual({
      ok: false,
      reason: 'stale-timestamp',
    });
  });

  it('names a missing or malformed header', async () => {
    await expect(verify({ signatureHeader: undefined })).resolves.toEqual({ ok: false, reason: 'missing-signature' });
    await expect(verify({ deliveryId: '' })).resolves.toEqual({ ok: false, reason: 'missing-delivery-id' });
    for (const signatureHeader of [
      'v1=abc',
      't=1795773600',
      't=now,v1=' + 'a'.repeat(64),
      't=1795773600,v1=' + 'a'.repeat(63),
      't=1795773600,kid=has space,v1=' + 'a'.repeat(64),
      't=1795773600,kid=a,kid=b,v1=' + 'a'.repeat(64),
      'garbage',
    ]) {
      await expect(verify({ signatureHeader })).resolves.toEqual({ ok: false, reason: 'malformed-signature' });
    }
  });

  it('rotates without downtime: old+new accepted, sender on the new key, old retired then refused', async () => {
    const byOld = signWebhook({ key: OLD_KEY, body: BODY, timestamp: SENT });
    const byNew = signWebhook({ key: KEY, body: BODY, timestamp: SENT });
    // 1. The receiver lists the new key next to the old one: both verify.
    const during = [KEY, OLD_KEY];
    expect(verifyWebhookSignature({ keyring: during, body: BODY, signatureHeader: byOld, now: SENT })).toMatchObject({
      ok: true,
      keyId: '2026-06',
    });
    expect(verifyWebhookSignature({ keyring: during, body: BODY, signatureHeader: byNew, now: SENT })).toMatchObject({
      ok: true,
      keyId: '2026-12',
    });
    // 2. The sender's keyring starts with the new key, so it signs with it.
    const sent = signedWebhookRequest({ key: KEY, notice: NOTICE, timestamp: SENT });
    expect(sent.headers['Rotor-Signature']).toBe(byNew);
    // 3. The old key is retired: its signatures are refused, by id and without one.
    const after = [KEY];
    expect(verifyWebhookSignature({ keyring: after, body: BODY, signatureHeader: byNew, now: SENT })).toMatchObject({ ok: true });
    expect(verifyWebhookSignature({ keyring: after, body: BODY, signatureHeader: byOld, now: SENT })).toEqual({
      ok: false,
      reason: 'unknown-key-id',
    });
    const byOldWithoutId = byOld.replace(',kid=2026-06', '');
    expect(verifyWebhookSignature({ keyring: after, body: BODY, signatureHeader: byOldWithoutId, now: SENT })).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('checks a header without a key id (a sender from before key ids) against every listed key, and any one of several v1 values', async () => {
    const byOld = signWebhook({ key: OLD_KEY, body: BODY, timestamp: SENT }).replace(',kid=2026-06', '');
    await expect(verify({ keyring: [KEY, OLD_KEY], signatureHeader: byOld })).resolves.toMatchObject({ ok: true, keyId: '2026-06' });
    const byNew = signWebhook({ key: KEY, body: BODY, timestamp: SENT });
    const both = `${byNew},v1=${byOld.split('v1=')[1]}`;
    await expect(verify({ keyring: [OLD_KEY], signatureHeader: both.replace(',kid=2026-12', '') })).resolves.toMatchObject({ ok: true });
  });

  it('refuses the same delivery id twice, but only once the first was genuine', async () => {
    const seen = new InMemoryReplayGuard({ clock: () => SENT.getTime() });
    await expect(verify({ seen, body: 'forged', deliveryId: 'd-1' })).resolves.toEqual({ ok: false, reason: 'bad-signature' });
    await expect(verify({ seen })).resolves.toMatchObject({ ok: true });
    await expect(verify({ seen })).resolves.toEqual({ ok: false, reason: 'replayed' });
  });

  it("keys the replay guard on the signed delivery id, so a forged header cannot use up another notice's id", async () => {
    const seen = new InMemoryReplayGuard({ clock: () => SENT.getTime() });
    // A captured genuine body (d-1) sent under the id of a notice still on its way (d-2).
    await expect(verify({ seen, deliveryId: 'd-2' })).resolves.toEqual({ ok: false, reason: 'delivery-id-mismatch' });
    const next = createWebhookNotice({ type: 'rotor.secret.version-ready', secret: 'payments-api-key', version: 8, deliveryId: 'd-2' });
    const body = JSON.stringify(next);
    await expect(
      verify({ seen, body, deliveryId: 'd-2', signatureHeader: signWebhook({ key: KEY, body, timestamp: SENT }) }),
    ).resolves.toMatchObject({ ok: true, notice: next });
  });

  it('names a genuinely signed body that is not a notice', async () => {
    const body = JSON.stringify({ type: 'rotor.secret.version-ready', secret: 'payments-api-key', deliveryId: 'd-1' });
    await expect(verify({ body, signatureHeader: signWebhook({ key: KEY, body, timestamp: SENT }) })).resolves.toEqual({
      ok: false,
      reason: 'malformed-notice',
      detail: expect.stringContaining('version'),
    });
  });
});

describe('in-memory replay guard', () => {
  it('forgets an id once its notice would be stale anyway', () => {
    let now = 0;
    const guard = new InMemoryReplayGuard({ clock: () => now });
    expect(guard.remember('a', new Date(1000))).toBe(true);
    expect(guard.remember('a', new Date(1000))).toBe(false);
    now = 1000;
    expect(guard.remember('b', new Date(5000))).toBe(true);
    expect(guard.size).toBe(1);
    expect(guard.remember('a', new Date(5000))).toBe(true);
  });

  it('stays within its bound, dropping the oldest id', () => {
    const guard = new InMemoryReplayGuard({ maxEntries: 3, clock: () => 0 });
    for (const id of ['a', 'b', 'c', 'd']) expect(guard.remember(id, new Date(60_000))).toBe(true);
    expect(guard.size).toBe(3);
    expect(guard.remember('d', new Date(60_000))).toBe(false);
    expect(guard.remember('a', new Date(60_000))).toBe(true);
  });

  it('lets a forgotten id in again', () => {
    const guard = new InMemoryReplayGuard({ clock: () => 0 });
    guard.remember('a', new Date(1000));
    guard.forget('a');
    expect(guard.remember('a', new Date(1000))).toBe(true);
  });
});
