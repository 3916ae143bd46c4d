import { createHash } from 'node:crypto';

/**
 * Callers of tokens that verified, by the token's SHA-256 (never the token itself), each kept
 * for at most `ttlMs` and never past the token's own expiry. A hit skips the signature check
 * (and the TokenReview call when that is on): so `ttlMs` also bounds how late a token the
 * cluster revoked, or one signed by a key withdrawn from the JWKS, is noticed.
 *
 * Bounded: past `maxEntries`, the oldest entries go first (a Map keeps insertion order).
 */
export class VerifiedTokenCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(token: string): T | undefined {
    const key = keyOf(token);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Keeps a verified token's caller until `ttlMs` from now or `expiresAtMs`, whichever is first. */
  set(token: string, value: T, expiresAtMs: number): void {
    const until = Math.min(this.now() + this.ttlMs, expiresAtMs);
    if (this.ttlMs <= 0 || until <= this.now()) return;
    const key = keyOf(token);
    this.entries.delete(key);
    this.entries.set(key, { value, until });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}

const keyOf = (token: string) => createHash('sha256').update(token).digest('base64url');
