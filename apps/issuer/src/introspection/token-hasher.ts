import { createHmac, timingSafeEqual } from 'node:crypto';

/** Keyed hash of a bearer token: what the issuer stores instead of the token. */
export class TokenHasher {
  constructor(private readonly key: string) {}

  hash(token: string): string {
    return createHmac('sha256', this.key).update(token).digest('hex');
  }

  matches(token: string, hash: string): boolean {
    const expected = Buffer.from(this.hash(token), 'hex');
    const actual = Buffer.from(hash, 'hex');
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}
