import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import { parseCatalog } from '@rotor/catalog';
import { keyringFrom } from '@rotor/config';
import { createRedis, type Redis } from '@rotor/redis-store';
import { createLogger } from '@rotor/telemetry';

import { CopyFingerprints } from '../../apps/distributor/src/copies/copy-fingerprints';
import { VersionRegistry } from '../../apps/distributor/src/copies/version-registry';
import type { DistributorConfig } from '../../apps/distributor/src/config';
import type { ValueReader } from '../../apps/distributor/src/delivery/value-reader';
import { requiredEnv } from '../support/services-env';
import { redisLinkFromEnv } from '../../tools/security/env-clients';

const logger = createLogger({ service: 'test', destination: new Writable({ write: (_chunk, _encoding, done) => done() }) });

/** Fingerprints stored in Redis across a rotation of ROTOR_CONTENT_HASH_KEY (GSM stands in as a reader of known values). */
describe('copy fingerprints across a content-hash key rotation (real Redis)', () => {
  const secret = `fp-${randomUUID().slice(0, 8)}`;
  const catalog = parseCatalog(`
roles: []
managedSecrets:
  - name: ${secret}
    owner: team-pay
    generator: { kind: random-bytes, bytes: 32 }
    rotationPeriod: 30d
    gracePeriod: 1h
    bindings: [{ namespace: payments, serviceAccount: api }]
`);
  const values = new Map([
    [1, randomBytes(32)],
    [2, randomBytes(32)],
  ]);
  const reads: number[] = [];
  // GSM destroys a retired version: reading it fails, as the real ValueReader would.
  const retired = new Set<number>();
  const reader = {
    read: (_secret: string, version: number) => {
      reads.push(version);
      return retired.has(version) ? Promise.reject(new Error('destroyed')) : Promise.resolve(values.get(version)!);
    },
  } as unknown as ValueReader;
  let redis: Redis;

  const fingerprintsUnder = (contentHashKey: string) =>
    new CopyFingerprints(
      catalog,
      new VersionRegistry(redis),
      reader,
      {
        contentHashKeys: keyringFrom('ROTOR_CONTENT_HASH_KEY', { ROTOR_CONTENT_HASH_KEY: contentHashKey }),
        copyScan: { retiredDays: 30 },
      } as DistributorConfig,
      logger,
    );

  beforeAll(() => {
    redis = createRedis(requiredEnv('REDIS_URL'), {
      connectionName: 'rotor-test-fingerprints',
      security: redisLinkFromEnv(requiredEnv('REDIS_URL')),
    });
  });

  afterAll(async () => {
    await redis.del(`distributor:versions:{${secret}}`);
    redis.disconnect();
  });

  it('takes live versions again under the new key, and reports retired ones as unfingerprinted', async () => {
    const before = fingerprintsUnder(randomBytes(32).toString('hex'));
    const now = new Date().toISOString();
    await before.versionCreated({ secret, version: 1, gsmVersion: `projects/p/secrets/${secret}/versions/1`, createdAt: now });
    await before.versionCreated({ secret, version: 2, gsmVersion: `projects/p/secrets/${secret}/versions/2`, createdAt: now });
    await before.versionRetired({ secret, version: 1, gsmVersion: `projects/p/secrets/${secret}/versions/1`, retiredAt: now });
    retired.add(1);
    const old = await before.scannable();
    expect(new Set(old.fingerprints.map((f) => f.version))).toEqual(new Set([1, 2]));
    expect(old.unfingerprinted).toEqual([]);
    reads.length = 0;

    const after = fingerprintsUnder(randomBytes(32).toString('hex'));
    const rotated = await after.scannable();
    expect(reads).toEqual([2]); // the live version read again; the destroyed one cannot be
    expect(rotated.unfingerprinted).toEqual([{ secret, version: 1 }]);
    const live = rotated.fingerprints.filter((f) => f.version === 2);
    expect(live.length).toBeGreaterThan(0);
    expect(live.map((f) => f.hmac)).not.toEqual(old.fingerprints.filter((f) => f.version === 2).map((f) => f.hmac));

    reads.length = 0;
    expect((await after.scannable()).fingerprints.map((f) => f.hmac)).toEqual(live.map((f) => f.hmac)); // stored under the new key
    expect(reads).toEqual([]);
  });
});
