import { randomUUID } from 'node:crypto';

import { GENESIS, projectRecord, sealRecord, type AuditViewsReader, type HashFields, type LeaseFilter } from '@rotor/audit-chain';
import { MemoryViews } from '../../libs/audit-chain/src/memory-views.testing';
import { ChainState, MonthlyPartitions, PgAuditViews, ViewWriter, AuditDatabase } from '@rotor/audit-store';
import { Topics, type AuditRecord } from '@rotor/contracts';

import { PrivateAuditDatabase } from '../support/private-audit-database';

const DAY = 86_400_000;
const BASE = Date.UTC(2026, 8, 20); // late September: the histories cross into October and November

/** One chain per event type (as the auditor chains per source partition), sealed in order. */
class Chains {
  private readonly heads = new Map<string, AuditRecord>();

  record(type: string, data: Record<string, unknown>, at: number): AuditRecord {
    const chain = `${type}:0`;
    const head = this.heads.get(chain);
    const eventId = randomUUID();
    const record = sealRecord({
      seq: head ? head.seq + 1 : 0,
      chain,
      sourceTopic: type,
      sourcePartition: 0,
      sourceOffset: String(head ? head.seq + 1 : 0),
      eventId,
      eventType: type,
      known: true,
      recordedAt: new Date(at).toISOString(),
      event: { id: eventId, type, time: new Date(at).toISOString(), data },
      prev: head?.hash ?? GENESIS,
    });
    this.heads.set(chain, record);
    return record;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Leases issued, renewed and revoked or left to expire; versions created and retired; copies delivered and removed; a drift. */
function history(): AuditRecord[] {
  const chains = new Chains();
  const records: AuditRecord[] = [];
  for (let i = 0; i < 60; i++) {
    const leaseId = randomUUID();
    const issuedAt = BASE + i * DAY;
    const workload = { namespace: 'shop', serviceAccount: `sa-${i % 4}`, podName: `pod-${i}` };
    const lease = { leaseId, role: 'db', owner: `team-${i % 3}`, backend: 'opaque-token', workload };
    records.push(
      chains.record(
        Topics.leaseIssued,
        { ...lease, issuedAt: iso(issuedAt), expiresAt: iso(issuedAt + 2 * DAY), maxExpiresAt: iso(issuedAt + 5 * DAY) },
        issuedAt,
      ),
    );
    if (i % 3 === 0)
      records.push(
        chains.record(
          Topics.leaseRenewed,
          { ...lease, renewedAt: iso(issuedAt + DAY), expiresAt: iso(issuedAt + 4 * DAY) },
          issuedAt + DAY,
        ),
      );
    if (i % 2 === 0)
      records.push(
        chains.record(Topics.leaseRevoked, { ...lease, reason: 'requested', revokedAt: iso(issuedAt + DAY / 2) }, issuedAt + DAY / 2),
      );
    // Every fifth of the others could not be revoked at its backend: irrevocable once it expired.
    else if (i % 5 === 1)
      records.push(
        chains.record(
          Topics.revocationFailed,
          {
            leaseId,
            attempt: 8,
            error: 'PostgreSQL failed (revoke); retry later',
            irrevocable: true,
            nextAttemptAt: iso(issuedAt + 3 * DAY),
          },
          issuedAt + 2 * DAY + 1_000,
        ),
      );
  }
  const target = { kind: 'kubernetes-secret', name: 'shop-db' };
  for (let version = 1; version <= 6; version++) {
    const at = BASE + version * 7 * DAY;
    const gsmVersion = `projects/p/secrets/db/versions/${version}`;
    records.push(
      chains.record(
        Topics.secretVersionCreated,
        { secret: 'db', owner: 'team-0', version, gsmVersion, reason: 'scheduled', createdAt: iso(at) },
        at,
      ),
    );
    records.push(
      chains.record(
        Topics.deliveryCompleted,
        { secret: 'db', version, target, locator: 'shop/db', contentHash: 'a'.repeat(64), deliveredAt: iso(at + 1000) },
        at + 1000,
      ),
    );
    if (version > 1) {
      records.push(
        chains.record(
          Topics.deliveryRemoved,
          { secret: 'db', version: version - 1, target, locator: 'shop/db', reason: 'superseded', removedAt: iso(at + 2000) },
          at + 2000,
        ),
      );
      records.push(
        chains.record(
          Topics.secretVersionRetired,
          // The retired version's own GSM name: every event states a `set` field alike.
          {
            secret: 'db',
            version: version - 1,
            gsmVersion: `projects/p/secrets/db/versions/${version - 1}`,
            reason: 'superseded',
            retiredAt: iso(at + DAY),
          },
          at + DAY,
        ),
      );
    }
  }
  records.push(
    chains.record(
      Topics.deliveryDriftDetected,
      { secret: 'db', version: 6, target, locator: 'shop/db', drift: 'content-changed', repaired: false },
      BASE + 50 * DAY,
    ),
  );
  return records;
}

/** What the PostgreSQL views hold, in the shape MemoryViews keeps. */
async function pgSnapshot(db: AuditDatabase): Promise<string> {
  const views = new MemoryViews();
  const entities = await db.pool.query<{ kind: string; id: string; fields: HashFields }>('SELECT kind, id, fields FROM entities');
  for (const row of entities.rows) views.hash(`${row.kind}:${row.id}`, row.fields);
  const members = await db.pool.query<{ set: string; member: string; score: number }>('SELECT set, member, score FROM members');
  for (const row of members.rows) views.zadd(row.set, row.score, row.member);
  return views.snapshot();
}

const shuffled = <T>(items: T[], seed: number): T[] => {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
};

/**
 * The auditor's PostgreSQL store against the projection's reference (MemoryViews): the same
 * views whatever order the chains' runs arrive in or how often, the inventory at a time from the
 * lifetime index, monthly partitions and their detachment, and the dedupe window.
 */
describe('audit store (PostgreSQL)', () => {
  const privateDb = new PrivateAuditDatabase();
  let db: AuditDatabase;
  const records = history();
  const reference = new MemoryViews();
  records.forEach((record) => reference.apply(projectRecord(record)));

  beforeAll(async () => {
    await privateDb.create();
    db = await privateDb.open();
  });
  afterAll(() => privateDb.drop());

  it('holds the views the projection defines, whatever order the runs of different chains arrive in, and a run written twice changes nothing', async () => {
    const writer = new ViewWriter(db);
    const byChain = new Map<string, AuditRecord[]>();
    for (const record of records) byChain.set(record.chain, [...(byChain.get(record.chain) ?? []), record]);
    // Runs of up to 3 records per chain, the runs of different chains interleaved at random, some twice.
    const runs = [...byChain.values()].flatMap((chain) =>
      Array.from({ length: Math.ceil(chain.length / 3) }, (_, i) => chain.slice(i * 3, i * 3 + 3)),
    );
    const order = shuffled(runs, 7);
    // Runs of one chain stay in order (one writer per chain); chains interleave as they like.
    const pending = new Map([...byChain.keys()].map((chain) => [chain, order.filter((run) => run[0]!.chain === chain)]));
    await Promise.all(
      [...pending.values()].map(async (chainRuns) => {
        for (const [index, run] of chainRuns.entries()) {
          await writer.write(run);
          if (index % 4 === 1) await writer.write(run); // redelivered after a crash
        }
      }),
    );
    expect(await pgSnapshot(db)).toBe(reference.snapshot());
    const { rows } = await db.pool.query('SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS ids FROM records');
    expect(rows[0]).toEqual({ n: records.length, ids: records.length });
    const heads = await new ChainState(db).heads();
    expect(Object.fromEntries(heads.map((head) => [head.chain, head.seq]))).toEqual(
      Object.fromEntries([...byChain].map(([chain, chainRecords]) => [chain, chainRecords.length - 1])),
    );
  });

  it('answers "what existed at t" from the lifetime index exactly as the domain rules say', async () => {
    const views = new PgAuditViews(db);
    for (const at of [BASE - DAY, BASE + 3 * DAY + 1, BASE + 20 * DAY, BASE + 45 * DAY, BASE + 90 * DAY]) {
      for (const kind of ['lease', 'version', 'copy'] as const) {
        const fromPg = (await views.liveAt(kind, at)).map((entity) => entity.id).sort();
        const fromReference = (await reference.liveAt(kind, at)).map((entity) => entity.id).sort();
        expect({ kind, at, ids: fromPg }).toEqual({ kind, at, ids: fromReference });
      }
    }
    expect((await views.liveAt('lease', BASE + 20 * DAY)).length).toBeGreaterThan(0);
    // One workload's leases, from its own index.
    for (const at of [BASE + DAY, BASE + 20 * DAY + DAY / 4, BASE + 90 * DAY]) {
      for (const workload of ['shop/sa-0', 'shop/sa-1']) {
        const fromPg = (await views.workloadLeasesLiveAt(workload, at)).map((lease) => lease.id).sort();
        const fromReference = (await reference.workloadLeasesLiveAt(workload, at)).map((lease) => lease.id).sort();
        expect({ workload, at, ids: fromPg }).toEqual({ workload, at, ids: fromReference });
      }
    }
    expect((await views.workloadLeasesLiveAt('shop/sa-1', BASE + DAY + 1)).length).toBe(1);
  });

  it('lists leases by field and by state at a time, a page at a time, exactly as the domain rules say', async () => {
    const views = new PgAuditViews(db);
    const all = async (reader: AuditViewsReader, filter: LeaseFilter, at: number) => {
      const ids: string[] = [];
      for (let after: string | undefined; ;) {
        const page = await reader.leases(filter, { at, limit: 7, ...(after ? { after } : {}) });
        ids.push(...page.map((lease) => lease.id));
        if (page.length < 7) return ids;
        after = page[page.length - 1]!.id;
      }
    };
    const filters: LeaseFilter[] = [
      {},
      { state: 'active' },
      { state: 'expired' },
      { state: 'irrevocable' },
      { state: 'revoked', owner: 'team-1' },
      { namespace: 'shop', serviceAccount: 'sa-2' },
      { role: 'db', backend: 'opaque-token', state: 'expired' },
      { owner: 'team-9' },
    ];
    const seen = new Map<string, number>();
    for (const at of [BASE + 3 * DAY, BASE + 40 * DAY]) {
      for (const filter of filters) {
        const fromPg = await all(views, filter, at);
        expect({ filter, at, ids: fromPg }).toEqual({ filter, at, ids: await all(reference, filter, at) });
        const key = JSON.stringify(filter);
        seen.set(key, Math.max(seen.get(key) ?? 0, fromPg.length));
      }
    }
    // Every filter but the unknown owner found leases, and a listing is more than one page.
    expect([...seen].filter(([, count]) => count === 0).map(([filter]) => filter)).toEqual([JSON.stringify({ owner: 'team-9' })]);
    expect(seen.get('{}')).toBe(60);
  });

  it('keeps records in monthly partitions; detaching old months takes them offline without losing a late record', async () => {
    const { rows } = await db.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'records' AND p.relnamespace = 'audit'::regnamespace ORDER BY 1`,
    );
    expect(rows.map((row) => row.name)).toEqual(['records_late', 'records_y2026m09', 'records_y2026m10', 'records_y2026m11']);
    const partitions = new MonthlyPartitions(db.pool);
    expect(await partitions.detachBefore(Date.UTC(2026, 10, 1))).toEqual([
      'records_y2026m09',
      'records_y2026m10',
      'record_keys_y2026m09',
      'record_keys_y2026m10',
    ]);
    const online = await db.pool.query('SELECT min(at) AS first FROM records');
    expect(new Date(online.rows[0].first).getTime()).toBeGreaterThanOrEqual(Date.UTC(2026, 10, 1));
    const archived = await db.pool.query('SELECT count(*)::int AS n FROM records_y2026m09');
    expect(archived.rows[0].n).toBeGreaterThan(0); // still in the schema, for pg_dump

    // A record of a detached month (a very late event) still lands, in the catch-all partition.
    const late = new Chains().record(Topics.leaseIssued, { leaseId: randomUUID() }, Date.UTC(2026, 8, 25));
    await new ViewWriter(db).write([{ ...late, chain: 'late:0' }]);
    const caught = await db.pool.query('SELECT count(*)::int AS n FROM records_late');
    expect(caught.rows[0].n).toBe(1);
  });

  it('forgets event ids after the dedupe window, in batches', async () => {
    await db.pool.query(`UPDATE seen SET seen_at = now() - interval '40 days' WHERE ctid IN (SELECT ctid FROM seen LIMIT 25)`);
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM seen')).rows[0].n;
    expect(await new ChainState(db).pruneSeen(new Date(Date.now() - 30 * DAY), 10)).toBe(25);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM seen')).rows[0].n).toBe(before - 25);
  });
});

/**
 * `rotor audit replay --rebuild`'s switch, at the store: the rebuild fills a fresh schema while
 * the live one keeps taking appends, holds the appends while it writes the tail, then takes the
 * live name in one transaction; the auditor's pool sees the new schema at once.
 */
describe('audit store: rebuilding into a fresh schema while appends go on, then switching', () => {
  const privateDb = new PrivateAuditDatabase();
  afterAll(() => privateDb.drop());

  it('holds an append that meets the switch until it is done, and every append after it lands in the rebuilt schema', async () => {
    await privateDb.create();
    const live = await privateDb.open();
    const liveWriter = new ViewWriter(live);
    const chains = new Chains();
    const lease = (at: number) => chains.record(Topics.leaseIssued, { leaseId: randomUUID(), issuedAt: iso(at) }, at);
    const first = Array.from({ length: 20 }, (_, i) => lease(BASE + i * 1_000));
    await liveWriter.write(first);

    const { SchemaRebuild } = await import('@rotor/audit-store');
    const rebuild = await SchemaRebuild.begin(privateDb.url);
    await rebuild.write(first); // what the rebuild read of the topic
    const meanwhile = Array.from({ length: 5 }, (_, i) => lease(BASE + (20 + i) * 1_000));
    await liveWriter.write(meanwhile); // appended while the rebuild ran

    await rebuild.lockLive();
    const held = lease(BASE + 40_000);
    let heldDone = false;
    const heldWrite = liveWriter.write([held]).then(() => (heldDone = true));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(heldDone).toBe(false); // the lock holds the live appends
    await rebuild.write(meanwhile); // the tail, read under the lock
    expect(await rebuild.complete(0)).toEqual({ replacedLive: true });
    await heldWrite; // released after the switch: it waited, then wrote into the rebuilt schema

    const after = lease(BASE + 50_000);
    await liveWriter.write([after]);
    const { rows } = await live.pool.query<{ seq: string }>('SELECT seq FROM records ORDER BY seq');
    expect(rows.map((row) => Number(row.seq))).toEqual([...first, ...meanwhile, held, after].map((record) => record.seq));
    expect((await new ChainState(live).heads())[0]).toMatchObject({ seq: after.seq, hash: after.hash });
    expect((await live.pool.query(`SELECT 1 FROM state WHERE name = 'initialized'`)).rowCount).toBe(1);
    const schemas = await live.pool.query<{ name: string }>(
      `SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE 'audit%' ORDER BY 1`,
    );
    expect(schemas.rows.map((row) => row.name)).toEqual(['audit']); // the old one dropped, no rebuild schema left
  });
});

/**
 * Auditor replicas start together (a Deployment of two, the chaos run's pair): each migrates the
 * database at start-up. node-pg-migrate takes its advisory lock without waiting, so the replica
 * that lost the race used to exit with "Another migration is already running".
 */
describe('audit store: replicas migrating a fresh database at once', () => {
  const privateDb = new PrivateAuditDatabase();
  afterAll(() => privateDb.drop());

  it('all four start: one applies every migration, the others wait for it and find nothing left', async () => {
    await privateDb.create();
    const replicas = Array.from({ length: 4 }, () => AuditDatabase.open({ url: privateDb.url, max: 2 }));
    try {
      const applied = await Promise.all(replicas.map((replica) => replica.migrate()));
      const all = applied.flat();
      expect(all.length).toBeGreaterThan(0);
      expect(new Set(all).size).toBe(all.length); // each migration applied once, by one replica
      const { rows } = await replicas[0]!.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit.schema_migrations`);
      expect(rows[0]!.n).toBe(all.length);
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
    }
  }, 120_000);
});
