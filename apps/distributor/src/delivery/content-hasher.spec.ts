import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Target } from '@rotor/catalog';
import { derivedKeyId, keyringFrom } from '@rotor/config';
import { createEvent, Topics } from '@rotor/contracts';

import { classifyDrift } from '../drift/classify-drift';
import { FileTargetWriter } from '../targets/file.writer';

import { ContentHasher, contentHashFields } from './content-hasher';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const hasher = (env: Record<string, string>) => new ContentHasher(keyringFrom('ROTOR_CONTENT_HASH_KEY', env));
const onlyA = hasher({ ROTOR_CONTENT_HASH_KEY: A });
const bWithA = hasher({ ROTOR_CONTENT_HASH_KEYS: `b:${B},:${A}` });
const onlyB = hasher({ ROTOR_CONTENT_HASH_KEYS: `b:${B}` });
const value = Buffer.from('the-delivered-value');

describe('ContentHasher', () => {
  it('names the key that made each hash', () => {
    expect(onlyA.hash(value)).toBe(`${derivedKeyId(A)}:${createHmac('sha256', A).update(value).digest('hex')}`);
    expect(bWithA.hash(value).startsWith('b:')).toBe(true);
  });

  it('reproduces a recorded hash under its own key while that key is listed, a bare legacy one under whichever live key made it', () => {
    const legacy = createHmac('sha256', A).update(value).digest('hex');
    expect(bWithA.hashLike(value, onlyA.hash(value))).toBe(onlyA.hash(value));
    expect(bWithA.hashLike(value, legacy)).toBe(legacy);
    expect(onlyB.hashLike(value, onlyA.hash(value))).toBe(onlyB.hash(value));
    expect(bWithA.hashLike(Buffer.from('edited'), onlyA.hash(value))).not.toBe(onlyA.hash(value));
  });
});

describe('delivery.completed', () => {
  it('carries the digest and the id of the key that made it, and its schema accepts both', () => {
    const fields = contentHashFields(bWithA.hash(value));
    expect(fields).toEqual({ contentHash: createHmac('sha256', B).update(value).digest('hex'), contentHashKeyId: 'b' });
    const event = createEvent({
      topic: Topics.deliveryCompleted,
      id: 'e1',
      source: '/rotor/distributor',
      subject: 's',
      data: {
        secret: 's',
        version: 1,
        target: { kind: 'file', name: 'agent' },
        locator: 'file:/x',
        ...fields,
        deliveredAt: new Date().toISOString(),
      },
    });
    expect(event.data.contentHashKeyId).toBe('b');
    // A hash recorded before key ids: the digest alone, as before.
    expect(contentHashFields(createHmac('sha256', A).update(value).digest('hex'))).toEqual({
      contentHash: createHmac('sha256', A).update(value).digest('hex'),
    });
  });
});

describe('drift of a file copy across a ROTOR_CONTENT_HASH_KEY rotation', () => {
  let root: string;
  let writer: FileTargetWriter;
  let target: Extract<Target, { kind: 'file' }>;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'rotor-content-hash-'));
    writer = new FileTargetWriter([root]);
    target = { kind: 'file', name: 'agent', path: join(root, 'app') } as Extract<Target, { kind: 'file' }>;
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const deliverUnder = async (contentHash: string) => {
    await writer.write(target, { secret: 's', version: 1, gsmVersion: 'projects/p/secrets/s/versions/1', contentHash, value });
    return { version: 1, contentHash };
  };
  const driftSeenBy = async (scanner: ContentHasher, expected: { version: number; contentHash: string }) =>
    classifyDrift(expected, await writer.observe(target, (observed) => scanner.hashLike(observed, expected.contentHash)), () => false);

  it('an unchanged copy delivered under key A is not drift after rotating to B with A listed', async () => {
    expect(await driftSeenBy(bWithA, await deliverUnder(onlyA.hash(value)))).toBeUndefined();
  });

  it('an unchanged copy recorded before hashes named their key is not drift (upgrade)', async () => {
    expect(await driftSeenBy(bWithA, await deliverUnder(createHmac('sha256', A).update(value).digest('hex')))).toBeUndefined();
  });

  it('a copy edited by hand is still edited during the rotation', async () => {
    const expected = await deliverUnder(onlyA.hash(value));
    const file = join(target.path, '..data', 'value');
    rmSync(file);
    writeFileSync(file, 'edited by hand');
    expect(await driftSeenBy(bWithA, expected)).toBe('edited');
  });
});
