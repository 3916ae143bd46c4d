import { parseWebhookKeyring, signingKeyOf, WebhookKeyringError } from './keyring';

const NEW = 'a'.repeat(32);
const OLD = 'b'.repeat(40);

describe('webhook keyring', () => {
  it('reads <key id>:<key> entries, newest first, separated by commas or newlines', () => {
    expect(parseWebhookKeyring(`2026-12:${NEW},2026-06:${OLD}`)).toEqual([
      { id: '2026-12', key: NEW },
      { id: '2026-06', key: OLD },
    ]);
    expect(parseWebhookKeyring(`2026-12:${NEW}\n2026-06:${OLD}\n`)).toHaveLength(2);
    expect(signingKeyOf(parseWebhookKeyring(`2026-12:${NEW}, 2026-06:${OLD}`)).id).toBe('2026-12');
  });

  it('refuses a bare key, a short key, a bad or repeated id, or nothing, without printing a key', () => {
    for (const [text, message] of [
      [NEW, /entry 1 is not <key id>:<key>/],
      [`k1:${'c'.repeat(31)}`, /key k1 is shorter than 32/],
      [`bad id!:${NEW}`, /entry 1 is not/],
      [`k1:${NEW},k1:${OLD}`, /key id k1 appears twice/],
      ['  ', /empty/],
    ] as const) {
      expect(() => parseWebhookKeyring(text)).toThrow(WebhookKeyringError);
      expect(() => parseWebhookKeyring(text)).toThrow(message);
      try {
        parseWebhookKeyring(text);
      } catch (error) {
        expect((error as Error).message).not.toMatch(/aaaa|bbbb|cccc/);
      }
    }
  });
});
