import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError } from './config-error';
import { checkedDatabaseUrlFile } from './env';
import { watchSecretFile } from './secret-file';

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('watchSecretFile', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'secret-file-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('hands over the new content when the file changes; content the receiver refuses leaves the previous in force', async () => {
    const path = join(dir, 'password');
    writeFileSync(path, 'first\n');
    const changes: string[] = [];
    const errors: ConfigError[] = [];
    const file = watchSecretFile({
      variable: 'X_FILE',
      path,
      pollIntervalMs: 20,
      onChange: (value) => {
        if (value === 'refused') throw new ConfigError(['X_FILE: refused']);
        changes.push(value);
      },
      onError: (error) => errors.push(error),
    });
    try {
      expect(file.current()).toBe('first');
      writeFileSync(path, 'second\n');
      await until(() => changes.length > 0);
      expect(changes).toEqual(['second']);
      writeFileSync(path, 'refused\n');
      await until(() => errors.length > 0);
      expect(errors[0]!.problems).toEqual(['X_FILE: refused']);
      expect(file.current()).toBe('second');
    } finally {
      file.close();
    }
  });

  it('refuses to start on a file it cannot read, naming the variable and path, never content', () => {
    expect(() => watchSecretFile({ variable: 'X_FILE', path: join(dir, 'missing'), onChange: () => undefined })).toThrow(
      `X_FILE: cannot read ${join(dir, 'missing')} (ENOENT)`,
    );
  });
});

describe('checkedDatabaseUrlFile', () => {
  it('accepts a verified postgres URL and refuses anything else without echoing it', () => {
    expect(checkedDatabaseUrlFile('postgres://a:b@db/rotor?sslmode=verify-full\n', false)).toBe(
      'postgres://a:b@db/rotor?sslmode=verify-full',
    );
    expect(() => checkedDatabaseUrlFile('http://a:canary@db', false)).toThrow('DATABASE_URL_FILE: must hold a postgres URL');
    expect(() => checkedDatabaseUrlFile('postgres://a:canary@db/rotor', false)).toThrow(/DATABASE_URL_FILE: must set sslmode=verify-full/);
    expect(() => checkedDatabaseUrlFile('not a url canary', false)).not.toThrow(/canary/);
  });
});
