import { createHmac, randomBytes, randomUUID } from 'node:crypto';

import { keyringFrom } from '@rotor/config';
import type { Redis } from '@rotor/redis-store';

import { TokenHasher } from '../../apps/issuer/src/introspection/token-hasher';
import type { Lease } from '../../apps/issuer/src/leases/lease';
import { LeaseStore } from '../../apps/issuer/src/leases/lease.store';
import { redisFromEnv } from '../../tools/security/env-clients';
import { requiredEnv } from '../support/services-env';

/** ROTOR_TOKEN_HASH_KEY rotation against the issuer's real Redis records (what introspection looks up). */
describe('token hash keyring (real Redis)', () => {
  const keyA = randomBytes(32).toString('hex');
  const keyB = randomBytes(32).toString('hex');
  const onlyA = new TokenHasher(keyringFrom('ROTOR_TOKEN_HASH_KEY', { ROTOR_TOKEN_HASH_KEY: keyA }));
  // B is newest; A keeps the id it had as the single ROTOR_TOKEN_HASH_KEY (the empty id derives it).
  const bWithA = new TokenHasher(keyringFrom('ROTOR_TOKEN_HASH_KEY', { ROTOR_TOKEN_HASH_KEYS: `b:${keyB},:${keyA}` }));
  const onlyB = new TokenHasher(keyringFrom('ROTOR_TOKEN_HASH_KEY', { ROTOR_TOKEN_HASH_KEYS: `b:${keyB}` }));
  let redis: Redis;
  let leases: LeaseStore;

  const lease = (): Lease => {
    const now = Date.now();
    return {
      id: randomUUID(),
      role: 'rotation-test',
      owner: 'team-test',
      backend: 'opaque-token',
      holder: { kind: 'workload', workload: { namespace: 'test', serviceAccount: 'worker' } },
      issuedAt: new Date(now),
      expiresAt: new Date(now + 600_000),
      maxExpiresAt: new Date(now + 3_600_000),
      state: 'active',
      handle: { backend: 'opaque-token' },
    };
  };
  const store = async (hash: string) => {
    const stored = lease();
    await leases.create(stored, hash);
    return { id: stored.id };
  };

  beforeAll(() => {
    redis = redisFromEnv(requiredEnv('REDIS_URL'));
    leases = new LeaseStore(redis);
  });

  afterAll(async () => {
    await redis.quit();
  });

  it('finds a token stored before hashes named their key (the previous layout), under the same key', async () => {
    const token = randomBytes(32).toString('base64url');
    // What the issuer stored until now: issuer:token:<bare hex HMAC>.
    const { id } = await store(createHmac('sha256', keyA).update(token).digest('hex'));
    expect((await leases.findByTokenHash(onlyA.candidates(token)))?.id).toBe(id);
    expect((await leases.findByTokenHash(bWithA.candidates(token)))?.id).toBe(id);
  });

  it('keeps finding tokens hashed under key A after rotating to B while A is listed, and stops once A is retired', async () => {
    const tokenA = randomBytes(32).toString('base64url');
    const tokenB = randomBytes(32).toString('base64url');
    const underA = onlyA.hash(tokenA);
    expect(underA.startsWith(`${keyringFrom('K', { K: keyA }).current().id}:`)).toBe(true);
    const { id: idA } = await store(underA);
    const underB = bWithA.hash(tokenB);
    expect(underB.startsWith('b:')).toBe(true);
    const { id: idB } = await store(underB);

    expect((await leases.findByTokenHash(bWithA.candidates(tokenA)))?.id).toBe(idA);
    expect((await leases.findByTokenHash(bWithA.candidates(tokenB)))?.id).toBe(idB);

    expect(await leases.findByTokenHash(onlyB.candidates(tokenA))).toBeUndefined();
    expect((await leases.findByTokenHash(onlyB.candidates(tokenB)))?.id).toBe(idB);
  });
});
