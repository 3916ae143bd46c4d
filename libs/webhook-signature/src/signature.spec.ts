import { InMemoryReplayGuard } from './replay-guard';
import { signWebhook, verifyWebhook } from './signature';

const KEY = 'receiver-key-0123456789abcdef0123';
const OLD_KEY = 'receiver-key-old-fedcba9876543210';
const BODY = JSON.stringify({ type: 'rotor.secret.version-ready', secret: 'payments-api-key', version: 7, deliveryId: 'd-1' });
const SENT = new Date('2026-11-27T10:00:00Z');

const verify = (overrides: Partial<Parameters<typeof verifyWebhook>[0]> = {}) =>
  verifyWebhook({
    key: KEY,
    body: BODY,
    signatureHeader: signWebhook({ key: KEY, body: BODY, timestamp: SENT }),
    deliveryId: 'd-1',
    now: SENT,
    ...overrides,
  } as Parameters<typeof verifyWebhook>[0]);

describe('webhook signatures', () => {
  it('puts the unix timestamp and a hex HMAC-SHA256 of "<t>.<body>" in the header', () => {
    expect(signWebhook({ key: KEY, body: BODY, timestamp: SENT })).toMatch(/^t=1795773600,v1=[0-9a-f]{64}$/);
    expect(signWebhook({ key: KEY, body: BODY, timestamp: 1795773600 })).toBe(signWebhook({ key: KEY, body: BODY, timestamp: SENT }));
  });

  it('accepts a genuine notice, from a string or a Buffer body', async () => {
    await expect(verify()).resolves.toEqual({ ok: true, timestamp: SENT });
    await expect(verify({ body: Buffer.from(BODY) })).resolves.toMatchObject({ ok: true });
  });

  it('refuses a body changed after signing', async () => {
    await expect(verify({ body: BODY.replace('"version":7', '"version":8') })).resolves.toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a signature made with another key', async () => {
    const signatureHeader = signWebhook({ key: 'someone-elses-key', body: BODY, timestamp: SENT });
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
      'garbage',
    ]) {
      await expect(verify({ signatureHeader })).resolves.toEqual({ ok: false, reason: 'malformed-signature' });
    }
  });

  it('accepts the old and the new key during a rotation, and any one of several v1 values', async () => {
    const byOld = signWebhook({ key: OLD_KEY, body: BODY, timestamp: SENT });
    const byNew = signWebhook({ key: KEY, body: BODY, timestamp: SENT });
    await expect(verify({ key: undefined, keys: [KEY, OLD_KEY], signatureHeader: byOld })).resolves.toMatchObject({ ok: true });
    await expect(verify({ key: undefined, keys: [KEY, OLD_KEY], signatureHeader: byNew })).resolves.toMatchObject({ ok: true });
    await expect(verify({ key: undefined, keys: [KEY], signatureHeader: byOld })).resolves.toEqual({ ok: false, reason: 'bad-signature' });
    const both = `${byNew},v1=${byOld.split('v1=')[1]}`;
    await expect(verify({ key: OLD_KEY, signatureHeader: both })).resolves.toMatchObject({ ok: true });
  });

  it('refuses the same delivery id twice, but only once the first was genuine', async () => {
    const seen = new InMemoryReplayGuard({ clock: () => SENT.getTime() });
    await expect(verify({ seen, body: 'forged', deliveryId: 'd-1' })).resolves.toEqual({ ok: false, reason: 'bad-signature' });
    await expect(verify({ seen })).resolves.toMatchObject({ ok: true });
    await expect(verify({ seen })).resolves.toEqual({ ok: false, reason: 'replayed' });
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
