import { randomBytes } from 'node:crypto';

import { CopyMatcher } from './copy-matcher';
import { fingerprintsOf, fingerprintTexts, scanKeyFrom } from './fingerprint';
import { LineScanner, type LineMatch } from './line-scanner';

const key = scanKeyFrom(randomBytes(32));
const value = Buffer.from(randomBytes(32).toString('base64url')); // 43 characters, as the issuer generates them
const password = Buffer.from('Kx7#pQ2-mZ9_vR4~'); // password alphabet, 16 characters
const matcher = new CopyMatcher(key, [
  ...fingerprintsOf(key, { secret: 'api-key', version: 3 }, value),
  ...fingerprintsOf(key, { secret: 'db-password', version: 1 }, password),
]);
const text = (...parts: (string | Buffer)[]) => Buffer.from(parts.map(String).join(''));

describe('CopyMatcher', () => {
  it('finds a value on its own, and says which secret and version it is', () => {
    expect(matcher.findAll(value)).toEqual([{ secret: 'api-key', version: 3, form: 'raw' }]);
  });

  it('finds a value embedded in a connection string, an .env line and a YAML line', () => {
    expect(matcher.findAll(text('postgres://app:', password, '@db.internal:5432/app'))).toEqual([
      { secret: 'db-password', version: 1, form: 'raw' },
    ]);
    expect(matcher.findAll(text('API_KEY=', value, '\n'))).toEqual([{ secret: 'api-key', version: 3, form: 'raw' }]);
    expect(matcher.findAll(text('  apiKey: "', value, '"'))).toEqual([{ secret: 'api-key', version: 3, form: 'raw' }]);
  });

  it('finds a value glued to alphabet characters on both sides (every window of the run is compared)', () => {
    expect(matcher.findAll(text('prefix', value, 'suffix.more'))).toEqual([{ secret: 'api-key', version: 3, form: 'raw' }]);
  });

  it('finds the base64 form, alone (a manifest data: field) and inside a base64-encoded blob at any alignment', () => {
    expect(matcher.findAll(Buffer.from(value.toString('base64')))).toEqual([{ secret: 'api-key', version: 3, form: 'base64' }]);
    for (const prefix of ['', 'A', 'AB', 'ABC', 'DB_URL=postgres://u:']) {
      const blob = Buffer.from(`${prefix}${password.toString()}@host\nOTHER=1\n`).toString('base64');
      expect(matcher.findAll(text('  .env: ', blob, '\n'))).toEqual([{ secret: 'db-password', version: 1, form: 'base64' }]);
    }
  });

  it('does not match a near value: one character changed, one missing, or a longer run that only starts alike', () => {
    const changed = Buffer.from(value);
    changed[20] = changed[20] === 0x41 ? 0x42 : 0x41;
    expect(matcher.findAll(changed)).toEqual([]);
    expect(matcher.findAll(value.subarray(1))).toEqual([]);
    expect(matcher.findAll(text('Kx7#pQ2-mZ9_vR4'))).toEqual([]);
    expect(matcher.findAll(text('the quick brown fox jumps over the lazy dog '.repeat(50)))).toEqual([]);
  });

  it('hashes nothing for runs shorter than the shortest fingerprint', () => {
    const counting = new CopyMatcher(key, fingerprintsOf(key, { secret: 's', version: 1 }, value));
    counting.findAll(text('short words only, none longer than forty characters\n'.repeat(100)));
    expect(counting.hashed).toBe(0);
  });

  it('finds values whose fingerprints come without a prefilter (low-entropy secrets), by hashing every window', () => {
    const bare = fingerprintsOf(key, { secret: 'short', version: 2 }, password).map(({ prefilter: _prefilter, ...rest }) => rest);
    const unfiltered = new CopyMatcher(key, bare);
    expect(unfiltered.findAll(text('x=prefix', password, 'tail'))).toEqual([{ secret: 'short', version: 2, form: 'raw' }]);
    expect(unfiltered.hashed).toBeGreaterThan(1);
  });

  it('hashes few windows of a long run when prefilters are given (the rolling hash slides correctly)', () => {
    const run = Buffer.from(randomBytes(3000).toString('hex'));
    const planted = Buffer.concat([run.subarray(0, 1500), value, run.subarray(1500)]);
    const counting = new CopyMatcher(key, fingerprintsOf(key, { secret: 'api-key', version: 3 }, value));
    expect(counting.findAll(planted)).toEqual([{ secret: 'api-key', version: 3, form: 'raw' }]);
    expect(counting.hashed).toBeLessThan(20);
  });

  it('keeps only base64 characters that come from the value alone, whatever bytes surround it', () => {
    const secret = Buffer.from('0123456789abcdef');
    const cores = fingerprintTexts(secret)
      .filter((t) => t.form === 'base64')
      .map((t) => t.text.toString());
    expect(cores).toHaveLength(3);
    for (let prefixLength = 0; prefixLength < 6; prefixLength++) {
      for (let trial = 0; trial < 20; trial++) {
        const encoded = Buffer.concat([randomBytes(prefixLength), secret, randomBytes(trial % 4)]).toString('base64');
        expect(encoded).toContain(cores[prefixLength % 3]);
      }
    }
  });
});

describe('LineScanner', () => {
  const collect = (chunks: Buffer[]) => {
    const found: LineMatch[] = [];
    const scanner = new LineScanner(matcher, (match) => found.push(match));
    for (const chunk of chunks) scanner.push(chunk);
    scanner.end();
    return found;
  };

  it('reports the line of each match, across chunk boundaries that split a value and lines', () => {
    const file = text('# config\nA=1\nAPI_KEY=', value, '\n\nDB=postgres://u:', password, '@h/db\nlast line without newline ', value);
    for (const size of [1, 7, 64, file.length]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < file.length; at += size) chunks.push(file.subarray(at, at + size));
      expect(collect(chunks).map((m) => [m.line, m.secret])).toEqual([
        [3, 'api-key'],
        [5, 'db-password'],
        [6, 'api-key'],
      ]);
    }
  });

  it('reports a value repeated on one line once', () => {
    expect(collect([text(value, ' ', value, '\n')])).toHaveLength(1);
  });
});
